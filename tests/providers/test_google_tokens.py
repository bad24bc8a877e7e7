"""GoogleTokenSource: JWT-bearer exchange from stored fields only, per-tenant/credential/version caching."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app.errors import ApiError
from providers.base import Credential
from providers.google_tokens import GoogleTokenSource, load_service_account
from tests.fakes.google import CLOUD_PLATFORM, TOKEN_AUDIENCE, FakeGoogle, make_service_account

ACCOUNT_A = make_service_account("tenant-a@proj-a-123.iam.gserviceaccount.com", "proj-a-123")
ACCOUNT_B = make_service_account("tenant-b@proj-b-456.iam.gserviceaccount.com", "proj-b-456")
AMBIENT = make_service_account("ambient@operator-project.iam.gserviceaccount.com", "operator-project")


def credential(account: Any, *, tenant: str = "tenant-1", cred_id: str = "cred-1", version: int = 1,
               secrets: dict[str, str] | None = None) -> Credential:
    return Credential(id=cred_id, tenant_id=tenant, provider="google_vertex", version=version,
                      secrets=secrets or account.secrets(),
                      config={"projectId": "proj-a-123", "location": "us-central1", "defaultModel": "gemini-2.5-flash"})


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGoogle]:
    server = FakeGoogle(accounts=[ACCOUNT_A, ACCOUNT_B]).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset(fake: FakeGoogle) -> None:
    fake.reset()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def source(fake: FakeGoogle, session: requests.Session, clock: Clock) -> GoogleTokenSource:
    return GoogleTokenSource(session=session, token_url=fake.token_url, timeout=(2.0, 5.0), clock=clock)


def test_exchange_is_a_verified_jwt_bearer_grant_and_is_cached(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    first = source.token(credential(ACCOUNT_A))
    second = source.token(credential(ACCOUNT_A))
    assert first == second
    assert first.startswith("ya29.fake-")
    assert fake.token_requests == 1
    assert [(e.client_email, e.scope, e.audience, e.token) for e in fake.exchanges] == [
        (ACCOUNT_A.client_email, CLOUD_PLATFORM, TOKEN_AUDIENCE, first)]


def test_session_ignores_proxy_environment(fake: FakeGoogle, session: requests.Session,
                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    ambient_file = tmp_path / "ambient.json"
    ambient_file.write_text(json.dumps({
        "type": "service_account", "client_email": AMBIENT.client_email, "private_key": AMBIENT.private_key_pem,
        "private_key_id": AMBIENT.private_key_id, "token_uri": fake.token_url, "project_id": "operator-project"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(ambient_file))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "operator-project")
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:1")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")
    monkeypatch.setenv("NO_PROXY", "")
    session.trust_env = True
    source = GoogleTokenSource(session=session, token_url=fake.token_url, timeout=(2.0, 5.0))
    assert session.trust_env is False
    source.token(credential(ACCOUNT_A))
    assert [e.client_email for e in fake.exchanges] == [ACCOUNT_A.client_email]


def test_two_tenants_interleaved_get_their_own_tokens(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    cred_a = credential(ACCOUNT_A, tenant="tenant-a", cred_id="shared-id")
    cred_b = credential(ACCOUNT_B, tenant="tenant-b", cred_id="shared-id")
    tokens = [source.token(cred) for cred in (cred_a, cred_b, cred_a, cred_b)]
    assert tokens[0] == tokens[2] != tokens[1] == tokens[3]
    assert {e.token: e.client_email for e in fake.exchanges} == {
        tokens[0]: ACCOUNT_A.client_email, tokens[1]: ACCOUNT_B.client_email}


def test_version_bump_never_reuses_the_old_token(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    old = source.token(credential(ACCOUNT_A, version=1))
    new = source.token(credential(ACCOUNT_B, version=2))
    assert new != old
    assert source.token(credential(ACCOUNT_B, version=2)) == new
    assert fake.exchanges[-1].client_email == ACCOUNT_B.client_email
    assert source.cached_count() == 1
    assert fake.token_requests == 2


def test_invalidate_forces_a_fresh_exchange(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    cred = credential(ACCOUNT_A)
    first = source.token(cred)
    source.invalidate(cred)
    second = source.token(cred)
    assert first != second
    assert fake.token_requests == 2


def test_forget_drops_every_version_of_one_credential(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    source.token(credential(ACCOUNT_A, cred_id="c1"))
    source.token(credential(ACCOUNT_B, tenant="tenant-2", cred_id="c1"))
    source.forget("tenant-1", "c1")
    assert source.cached_count() == 1
    source.token(credential(ACCOUNT_B, tenant="tenant-2", cred_id="c1"))
    assert fake.token_requests == 2


def test_cache_is_bounded_least_recently_used_first(fake: FakeGoogle, session: requests.Session) -> None:
    source = GoogleTokenSource(session=session, token_url=fake.token_url, max_entries=2)
    creds = [credential(ACCOUNT_A, tenant=f"tenant-{i}") for i in range(3)]
    first = source.token(creds[0])
    source.token(creds[1])
    assert source.token(creds[0]) == first  # touched: tenant-1 is now the oldest
    source.token(creds[2])
    assert source.cached_count() == 2
    assert source.token(creds[0]) == first
    assert fake.token_requests == 3
    source.token(creds[1])
    assert fake.token_requests == 4


def test_refresh_happens_before_expiry(fake: FakeGoogle, source: GoogleTokenSource, clock: Clock) -> None:
    cred = credential(ACCOUNT_A)
    first = source.token(cred)
    clock.now += 3290  # expires_in 3599, refreshed 300 s early
    assert source.token(cred) == first
    clock.now += 10
    assert source.token(cred) != first
    assert fake.token_requests == 2


def test_short_lived_tokens_refresh_at_half_life(fake: FakeGoogle, source: GoogleTokenSource, clock: Clock) -> None:
    fake.expires_in = 120
    cred = credential(ACCOUNT_A)
    first = source.token(cred)
    clock.now += 55
    assert source.token(cred) == first
    clock.now += 10
    assert source.token(cred) != first


def test_concurrent_callers_share_one_exchange(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    fake.token_delay_seconds = 0.3
    cred = credential(ACCOUNT_A)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(source.token(cred))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.token_requests == 1
    assert len(results) == 8 and len(set(results)) == 1


def test_different_credentials_do_not_wait_on_each_other(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    fake.token_delay_seconds = 0.6
    creds = [credential(ACCOUNT_A, tenant="tenant-a"), credential(ACCOUNT_B, tenant="tenant-b")]
    threads = [threading.Thread(target=source.token, args=(cred,)) for cred in creds]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started < 1.1
    assert fake.token_requests == 2


def assert_no_secret_material(error: ApiError, account: Any) -> None:
    text = error.message + repr(error) + str(error.__cause__) + str(error.__context__)
    assert "PRIVATE KEY" not in text
    assert account.private_key_pem[40:80] not in text
    assert "eyJ" not in text  # no JWT
    assert "ya29" not in text  # no token


def test_refused_grant_is_provider_auth_failed(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    fake.revoked_accounts.add(ACCOUNT_A.client_email)
    with pytest.raises(ApiError) as caught:
        source.token(credential(ACCOUNT_A))
    assert (caught.value.code, caught.value.status, caught.value.provider_status) == (
        "provider_auth_failed", 424, 400)
    assert caught.value.message == ("google_vertex token exchange refused the service account: "
                                    "HTTP 400 (invalid_grant)")
    assert_no_secret_material(caught.value, ACCOUNT_A)
    assert source.cached_count() == 0


def test_unknown_service_account_is_refused(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    with pytest.raises(ApiError) as caught:
        source.token(credential(AMBIENT))
    assert caught.value.code == "provider_auth_failed"
    assert fake.exchanges == []


def test_token_endpoint_5xx_is_provider_error_without_retry(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    fake.token_script.append((503, {}, {"error": "temporarily_unavailable"}))
    with pytest.raises(ApiError) as caught:
        source.token(credential(ACCOUNT_A))
    assert (caught.value.code, caught.value.status) == ("provider_error", 502)
    assert caught.value.message == "google_vertex token exchange failed: HTTP 503 (temporarily_unavailable)"
    assert fake.token_requests == 1


def test_token_endpoint_429_is_rate_limited(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    fake.token_script.append((429, {}, {"error": "rate_limit_exceeded"}))
    with pytest.raises(ApiError) as caught:
        source.token(credential(ACCOUNT_A))
    assert (caught.value.code, caught.value.status) == ("provider_rate_limited", 429)


def test_unreachable_token_endpoint_is_provider_error(session: requests.Session) -> None:
    source = GoogleTokenSource(session=session, token_url="http://127.0.0.1:1/token", timeout=(1.0, 1.0))
    with pytest.raises(ApiError) as caught:
        source.token(credential(ACCOUNT_A))
    assert caught.value.code == "provider_error"
    assert caught.value.message == "google_vertex token endpoint could not be reached (ConnectionError)"


def test_slow_token_endpoint_is_provider_timeout(fake: FakeGoogle, session: requests.Session) -> None:
    fake.token_delay_seconds = 1.0
    source = GoogleTokenSource(session=session, token_url=fake.token_url, timeout=(1.0, 0.2))
    with pytest.raises(ApiError) as caught:
        source.token(credential(ACCOUNT_A))
    assert (caught.value.code, caught.value.status) == ("provider_timeout", 504)


def test_corrupted_private_key_fails_before_any_request(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    broken = {**ACCOUNT_A.secrets(), "privateKey": ACCOUNT_A.private_key_pem[:200] + "AAAA" + "\n-----END"}
    with pytest.raises(ApiError) as caught:
        source.token(credential(ACCOUNT_A, secrets=broken))
    assert (caught.value.code, caught.value.status, caught.value.param) == (
        "invalid_provider_secrets", 400, "secrets.privateKey")
    assert_no_secret_material(caught.value, ACCOUNT_A)
    assert caught.value.__cause__ is None
    assert fake.token_requests == 0


def test_escaped_newlines_in_pasted_key_are_restored() -> None:
    escaped = ACCOUNT_A.private_key_pem.strip().replace("\n", "\\n")
    credentials = load_service_account({"clientEmail": ACCOUNT_A.client_email, "privateKey": escaped})
    assert credentials.service_account_email == ACCOUNT_A.client_email
    assert credentials.scopes == [CLOUD_PLATFORM]


def test_debug_logging_never_shows_the_assertion_or_token(fake: FakeGoogle, source: GoogleTokenSource) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s %(httpRequest)s"))
    google_logger = logging.getLogger("google")
    google_logger.addHandler(handler)
    google_logger.setLevel(logging.DEBUG)
    try:
        token = source.token(credential(ACCOUNT_A))
    finally:
        google_logger.removeHandler(handler)
        google_logger.setLevel(logging.NOTSET)
    output = stream.getvalue()
    assert "assertion" not in output and "eyJ" not in output and token not in output


GEVENT_SCRIPT = """
from gevent import monkey
monkey.patch_all()
import json, time
import app.errors  # noqa: F401  (the app package first, as in the server)
import gevent, requests
from providers.base import Credential
from providers.google_tokens import GoogleTokenSource
from tests.fakes.google import FakeGoogle, make_service_account

accounts = [make_service_account(f"sa{i}@proj-a-123.iam.gserviceaccount.com", "proj-a-123") for i in range(2)]
fake = FakeGoogle(accounts=accounts, token_delay_seconds=0.5).start()
source = GoogleTokenSource(session=requests.Session(), token_url=fake.token_url, timeout=(2.0, 5.0))
creds = [Credential(id=f"c{i}", tenant_id=f"t{i}", provider="google_vertex", version=1, secrets=a.secrets())
         for i, a in enumerate(accounts)]
started = time.monotonic()
greenlets = [gevent.spawn(source.token, creds[i % 2]) for i in range(20)]
gevent.joinall(greenlets, timeout=10)
print(json.dumps({"exchanges": fake.token_requests, "ok": all(g.successful() for g in greenlets),
                  "distinct": len({g.value for g in greenlets}), "elapsed": time.monotonic() - started}))
fake.stop()
"""


def test_gevent_callers_share_one_exchange_per_credential() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", GEVENT_SCRIPT], cwd=root, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["exchanges"], result["ok"], result["distinct"]) == (2, True, 2)
    assert result["elapsed"] < 0.95  # serialized exchanges would take at least 1.0 s
