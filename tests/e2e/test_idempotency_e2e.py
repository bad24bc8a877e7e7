"""Idempotency keys end to end through HTTP on all three entry points, on the real local Redis."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import Gateway, Upstreams, make_gateway
from tests.e2e.test_cache_e2e import Tenant, cache_env, calls, metrics_of, provider_body, trace
from tests.redis_helpers import (
    E2E_DB,
    RedisServer,
    cleanup_tracked,
    requires_redis,
    requires_redis_server,
    shared_url,
    track_app_redis,
)


def chat_key(tenant: Tenant, key: str | None, **body: Any) -> Any:
    extra = {"idempotencyKey": key} if key is not None else {}
    return tenant.chat(None, **extra, **body)


def error_code(response: Any) -> str:
    body = response.get_json()
    error = body["error"]
    return error.get("code") or error.get("type")


# --- /v1/chat ---------------------------------------------------------------------------------------------------

@requires_redis
def test_repeat_after_completion_replays_without_calling_or_billing(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    first = chat_key(tenant, "order-1")
    assert first.status_code == 200, first.get_json()
    assert metrics_of(first)["idempotencyStatus"] in ("new", "claimed")
    second = chat_key(tenant, "order-1")
    assert second.status_code == 200, second.get_json()
    assert calls(upstreams) == 1
    m1, m2 = metrics_of(first), metrics_of(second)
    assert m2["idempotencyStatus"] == "replayed"
    assert provider_body(second) == provider_body(first)
    assert m2["costUsd"] == 0 and m1["costUsd"] > 0
    assert m2["avoidedCostUsd"] == pytest.approx(m1["costUsd"])
    assert m2["usage"] == m1["usage"] and m2["usageCached"] is True
    assert second.headers.get("x-killtoken-replayed-from") == m1["requestId"]
    doc = trace(cached, second)
    assert doc["idempotencyStatus"] == "replayed" and doc["costNanos"] == 0
    assert doc["savings"]["cacheNanos"] == trace(cached, first)["costNanos"]


@requires_redis
def test_without_key_every_request_runs(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    for _ in range(2):
        response = chat_key(tenant, None)
        assert response.status_code == 200 and metrics_of(response)["idempotencyStatus"] == "none"
    assert calls(upstreams) == 2


@requires_redis
def test_same_key_different_body_is_422(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    assert chat_key(tenant, "order-2").status_code == 200
    reused = chat_key(tenant, "order-2", providerOptions={"temperature": 0.9})
    assert reused.status_code == 422
    assert error_code(reused) == "idempotency_key_reused"
    assert calls(upstreams) == 1


@requires_redis
def test_metadata_change_is_not_a_different_body(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    chat_key(tenant, "order-3", metadata={"feature": "a"})
    again = chat_key(tenant, "order-3", metadata={"feature": "b"})
    assert again.status_code == 200 and metrics_of(again)["idempotencyStatus"] == "replayed"
    assert calls(upstreams) == 1


@requires_redis
@pytest.mark.parametrize("bad", ["", "k" * 256, 42, ["k"]])
def test_invalid_key_is_400_before_any_provider_call(cached: Gateway, upstreams: Upstreams, bad: Any) -> None:
    tenant = Tenant(cached)
    response = chat_key(tenant, bad)
    assert response.status_code == 400
    assert error_code(response) == "invalid_idempotency_key"
    assert calls(upstreams) == 0


@requires_redis
def test_key_of_255_characters_is_accepted(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    assert chat_key(tenant, "k" * 255).status_code == 200
    assert metrics_of(chat_key(tenant, "k" * 255))["idempotencyStatus"] == "replayed"


@requires_redis
def test_keys_are_scoped_to_the_tenant(cached: Gateway, upstreams: Upstreams) -> None:
    a, b = Tenant(cached, "a"), Tenant(cached, "b")
    upstreams.fakes["openai"].text = "for A"
    chat_key(a, "shared-key")
    upstreams.fakes["openai"].text = "for B"
    from_b = chat_key(b, "shared-key")
    upstreams.fakes["openai"].text = "Hello from the fake."
    assert from_b.status_code == 200 and metrics_of(from_b)["idempotencyStatus"] != "replayed"
    assert provider_body(from_b)["choices"][0]["message"]["content"] == "for B"
    assert chat_key(b, "shared-key", providerOptions={"temperature": 1}).status_code == 422
    assert calls(upstreams) == 2


@requires_redis
def test_stored_provider_400_replays(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    upstreams.fakes["openai"].fail_next(400, "invalid_value", message="bad max_tokens")
    first = chat_key(tenant, "order-400")
    assert first.status_code == 400
    second = chat_key(tenant, "order-400")
    assert second.status_code == 400
    assert second.get_json() == first.get_json()
    assert calls(upstreams) == 1
    assert trace(cached, second)["idempotencyStatus"] == "replayed"


@requires_redis
@pytest.mark.parametrize("script,status", [
    (lambda fake: fake.server_error_next(500), 502),
    (lambda fake: fake.server_error_next(503), 502),
    (lambda fake: fake.rate_limit_next("3"), 429),
])
def test_release_on_provider_5xx_and_429(cached: Gateway, upstreams: Upstreams, script: Any, status: int) -> None:
    tenant = Tenant(cached)
    script(upstreams.fakes["openai"])
    failed = chat_key(tenant, "order-retry")
    assert failed.status_code == status, failed.get_json()
    retry = chat_key(tenant, "order-retry")
    assert retry.status_code == 200, retry.get_json()
    assert metrics_of(retry)["idempotencyStatus"] != "replayed"
    assert calls(upstreams) == 2
    assert metrics_of(chat_key(tenant, "order-retry"))["idempotencyStatus"] == "replayed"
    assert calls(upstreams) == 2


@requires_redis
def test_release_on_provider_timeout(upstreams: Upstreams) -> None:
    url = shared_url(E2E_DB)
    gw = make_gateway(cache_env(upstreams, url, KILLTOKEN_UPSTREAM_READ_TIMEOUT_SECONDS="0.3"))
    tracked = track_app_redis(gw.app)
    try:
        tenant = Tenant(gw)
        upstreams.fakes["openai"].slow_next(1.0)
        timed_out = chat_key(tenant, "order-timeout")
        assert timed_out.status_code == 504, timed_out.get_json()
        retry = chat_key(tenant, "order-timeout")
        assert retry.status_code == 200, retry.get_json()
        assert calls(upstreams) == 2
    finally:
        cleanup_tracked(tracked, url)


@requires_redis
def test_concurrent_duplicates_make_exactly_one_provider_call(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    upstreams.fakes["openai"].slow_next(0.5)
    workers = 16
    barrier = threading.Barrier(workers)

    def send(_: int) -> Any:
        client = cached.app.test_client()
        barrier.wait()
        return client.post("/v1/chat", headers=cached.auth(tenant.key), json={
            "provider": "openai", "model": "gpt-4o-mini", "idempotencyKey": "burst",
            "messages": [{"role": "user", "content": "once"}]})

    with ThreadPoolExecutor(workers) as pool:
        responses = list(pool.map(send, range(workers)))
    statuses = sorted(r.status_code for r in responses)
    assert calls(upstreams) == 1
    assert statuses.count(200) >= 1
    assert set(statuses) <= {200, 409}
    for response in responses:
        if response.status_code == 409:
            assert error_code(response) == "idempotency_in_progress"
            assert 1 <= int(response.headers["retry-after"]) <= 5
    again = cached.client.post("/v1/chat", headers=cached.auth(tenant.key), json={
        "provider": "openai", "model": "gpt-4o-mini", "idempotencyKey": "burst",
        "messages": [{"role": "user", "content": "once"}]})
    assert again.status_code == 200 and metrics_of(again)["idempotencyStatus"] == "replayed"
    assert calls(upstreams) == 1


@requires_redis
def test_concurrent_duplicates_from_greenlets(upstreams: Upstreams) -> None:
    """60 greenlets on a gevent-patched process (the production worker model): one provider call."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = r'''
from gevent import monkey; monkey.patch_all()
import json, sys, gevent
from tests.fakes.openai_api import openai_handler
from tests.fakes.server import FakeServer
from tests.conftest import make_gateway
from tests.e2e.test_cache_e2e import Tenant
from tests.redis_helpers import E2E_DB, cleanup_tracked, shared_url, track_app_redis
fake = openai_handler("sk-test-openai-1111")
server = FakeServer(fake).start()
url = shared_url(E2E_DB)
gw = make_gateway({"KILLTOKEN_UPSTREAM_URL_OPENAI": server.origin, "REDIS_URL": url,
                   "KILLTOKEN_CACHE_ENABLED": "true", "KILLTOKEN_TASKS_MODE": "inprocess"})
tracked = track_app_redis(gw.app)
tenant = Tenant(gw)
fake.slow_next(0.3)
body = {"provider": "openai", "model": "gpt-4o-mini", "idempotencyKey": "g-burst",
        "messages": [{"role": "user", "content": "once"}]}
def send():
    client = gw.app.test_client()
    for _ in range(200):
        response = client.post("/v1/chat", json=body, headers=gw.auth(tenant.key))
        if response.status_code != 409:
            return response.status_code, response.get_json()["metrics"]["idempotencyStatus"]
        gevent.sleep(0.1)
    return 409, None
try:
    results = [g.get(timeout=100) for g in [gevent.spawn(send) for _ in range(60)]]
finally:
    cleanup_tracked(tracked, url)
    server.stop()
print(json.dumps({"calls": len(fake.requests), "statuses": sorted({r[0] for r in results}),
                  "replayed": sum(1 for r in results if r[1] == "replayed")}))
'''
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=150)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"calls": 1, "statuses": [200], "replayed": 59}


@requires_redis
def test_cache_hit_under_an_idempotency_key(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    tenant.chat("write_only")
    hit = tenant.chat("read_write", idempotencyKey="hit-key")
    assert metrics_of(hit)["cacheStatus"] == "hit"
    replay = tenant.chat("read_write", idempotencyKey="hit-key")
    assert metrics_of(replay)["idempotencyStatus"] == "replayed"
    assert provider_body(replay) == provider_body(hit)
    assert calls(upstreams) == 1


# --- wrappers ---------------------------------------------------------------------------------------------------

@requires_redis
def test_openai_wrapper_idempotency_key_header(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    first = tenant.openai(None, headers={"Idempotency-Key": "wrap-1"})
    assert first.status_code == 200, first.get_json()
    second = tenant.openai(None, headers={"Idempotency-Key": "wrap-1"})
    assert second.status_code == 200
    assert metrics_of(second)["idempotencyStatus"] == "replayed"
    assert provider_body(second) == provider_body(first)
    assert calls(upstreams) == 1
    reused = tenant.openai(None, headers={"Idempotency-Key": "wrap-1"}, temperature=0.3)
    assert reused.status_code == 422
    assert reused.get_json()["error"]["code"] == "idempotency_key_reused"
    bad = tenant.openai(None, headers={"Idempotency-Key": "k" * 256})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_idempotency_key"


@requires_redis
def test_openai_wrapper_provider_header_is_part_of_the_fingerprint(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached, providers=("openai", "mistral"))
    tenant.openai(None, headers={"Idempotency-Key": "wrap-p"})
    other = tenant.openai(None, headers={"Idempotency-Key": "wrap-p", "x-killtoken-provider": "mistral"})
    assert other.status_code == 422
    assert calls(upstreams, "mistral") == 0


@requires_redis
def test_anthropic_wrapper_idempotency_key_header(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached, providers=("anthropic",))
    first = tenant.anthropic(None, headers={"Idempotency-Key": "anth-1"})
    assert first.status_code == 200, first.get_json()
    second = tenant.anthropic(None, headers={"Idempotency-Key": "anth-1"})
    assert second.status_code == 200
    assert metrics_of(second)["idempotencyStatus"] == "replayed"
    assert provider_body(second) == provider_body(first)
    assert calls(upstreams, "anthropic") == 1
    reused = tenant.anthropic(None, headers={"Idempotency-Key": "anth-1"}, max_tokens=65)
    assert reused.status_code == 422 and reused.get_json()["type"] == "error"


@requires_redis
def test_keys_are_scoped_to_the_entry_point(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    chat_key(tenant, "same")
    wrapped = tenant.openai(None, headers={"Idempotency-Key": "same"})
    assert wrapped.status_code == 200 and metrics_of(wrapped)["idempotencyStatus"] != "replayed"
    assert calls(upstreams) == 2


# --- switches and failures --------------------------------------------------------------------------------------

def test_cache_disabled_serves_and_says_the_key_was_not_honoured(upstreams: Upstreams) -> None:
    gw = make_gateway({**upstreams.env(), "KILLTOKEN_TASKS_MODE": "inprocess"})
    tenant = Tenant(gw)
    for _ in range(2):
        response = chat_key(tenant, "ignored")
        assert response.status_code == 200
        assert metrics_of(response)["idempotencyStatus"] == "disabled"
    assert calls(upstreams) == 2


@requires_redis_server
def test_redis_down_means_503_for_idempotent_requests_only(upstreams: Upstreams, own_redis: RedisServer) -> None:
    gw = make_gateway(cache_env(upstreams, own_redis.url))
    tenant = Tenant(gw)
    assert chat_key(tenant, "before").status_code == 200
    own_redis.stop()
    started = time.monotonic()
    refused = chat_key(tenant, "during")
    assert time.monotonic() - started < 1.0
    assert refused.status_code == 503
    assert error_code(refused) == "idempotency_unavailable"
    assert calls(upstreams) == 1
    wrapped = tenant.openai(None, headers={"Idempotency-Key": "during"})
    assert wrapped.status_code == 503
    plain = chat_key(tenant, None)
    assert plain.status_code == 200
    assert calls(upstreams) == 2
    own_redis.start()
    recovered = chat_key(tenant, "during")
    assert recovered.status_code == 200, recovered.get_json()
    assert metrics_of(chat_key(tenant, "during"))["idempotencyStatus"] == "replayed"
    assert calls(upstreams) == 3


@requires_redis_server
def test_redis_hung_means_503_within_the_timeout(upstreams: Upstreams, own_redis: RedisServer) -> None:
    gw = make_gateway(cache_env(upstreams, own_redis.url))
    tenant = Tenant(gw)
    assert chat_key(tenant, "warm").status_code == 200
    own_redis.pause()
    try:
        started = time.monotonic()
        refused = chat_key(tenant, "hung")
        elapsed = time.monotonic() - started
    finally:
        own_redis.resume()
    assert refused.status_code == 503 and error_code(refused) == "idempotency_unavailable"
    assert elapsed < 1.0


@requires_redis_server
def test_trace_says_unavailable_when_redis_is_down(upstreams: Upstreams, own_redis: RedisServer) -> None:
    gw = make_gateway(cache_env(upstreams, own_redis.url))
    tenant = Tenant(gw)
    own_redis.stop()
    refused = chat_key(tenant, "down")
    assert refused.status_code == 503
    assert trace(gw, refused)["idempotencyStatus"] == "unavailable"


@requires_redis
def test_translated_wrapper_replay_and_stored_error(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached, providers=("anthropic",))
    headers = {"x-killtoken-provider": "anthropic", "Idempotency-Key": "xlate-1"}
    first = tenant.openai(None, headers=headers, model="claude-sonnet-4-5")
    second = tenant.openai(None, headers=headers, model="claude-sonnet-4-5")
    assert first.status_code == 200 and second.status_code == 200, second.get_json()
    assert metrics_of(second)["idempotencyStatus"] == "replayed"
    one, two = provider_body(first), provider_body(second)
    one.pop("id"), two.pop("id")
    assert one == two
    upstreams.fakes["anthropic"].fail_next(400, "invalid_request_error", message="bad request")
    headers["Idempotency-Key"] = "xlate-400"
    failed = tenant.openai(None, headers=headers, model="claude-sonnet-4-5")
    replayed = tenant.openai(None, headers=headers, model="claude-sonnet-4-5")
    assert failed.status_code == replayed.status_code == 400
    assert replayed.get_json() == failed.get_json()
    assert "error" in replayed.get_json() and "message" in replayed.get_json()["error"]
    assert calls(upstreams, "anthropic") == 2


@requires_redis
@pytest.mark.parametrize("entry", ["openai", "anthropic"])
def test_wrapper_409_while_running_has_retry_after(cached: Gateway, upstreams: Upstreams, entry: str) -> None:
    provider = "openai" if entry == "openai" else "anthropic"
    tenant = Tenant(cached, providers=(provider,))
    send = tenant.openai if entry == "openai" else tenant.anthropic
    upstreams.fakes[provider].slow_next(1.0)
    headers = {"Idempotency-Key": f"slow-{entry}"}
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(send, None, headers)
        deadline = time.monotonic() + 5
        while not upstreams.fakes[provider].requests and time.monotonic() < deadline:
            time.sleep(0.01)
        busy = send(None, headers)
        assert running.result().status_code == 200
    assert busy.status_code == 409, busy.get_json()
    assert 1 <= int(busy.headers["retry-after"]) <= 5
    if entry == "anthropic":
        assert busy.get_json()["type"] == "error"
    else:
        assert busy.get_json()["error"]["code"] == "idempotency_in_progress"
    assert metrics_of(send(None, headers))["idempotencyStatus"] == "replayed"
    assert calls(upstreams, provider) == 1


@requires_redis
def test_crashed_workers_claim_expires_after_the_lease(upstreams: Upstreams) -> None:
    """A claim left by a worker that died mid-request blocks retries (409) only until its lease ends."""
    from app.api.gateway import GATEWAY_KEY
    from app.services.idempotency import redis_key

    url = shared_url(E2E_DB)
    gw = make_gateway(cache_env(upstreams, url, KILLTOKEN_IDEMPOTENCY_LEASE_SECONDS="2"))
    tracked = track_app_redis(gw.app)
    try:
        tenant = Tenant(gw)
        # A finished request with the same body tells us the fingerprint the pipeline uses (also warms the app).
        assert chat_key(tenant, "probe").status_code == 200
        stored = tracked.get(redis_key(tenant.id, "chat", "probe"))  # type: ignore[union-attr]
        fingerprint = stored.split(b"|")[1].decode()
        store = gw.app.extensions[GATEWAY_KEY].deps.idempotency
        crashed = store.begin(tenant.id, "chat", "crash", fingerprint)  # the claim of a worker that died
        blocked = chat_key(tenant, "crash")
        assert blocked.status_code == 409, blocked.get_json()
        deadline = time.monotonic() + 10
        while tracked.exists(crashed.redis_key) and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.05)
        retried = chat_key(tenant, "crash")
        assert retried.status_code == 200, retried.get_json()
        assert calls(upstreams) == 2
    finally:
        cleanup_tracked(tracked, url)


def test_default_lease_outlives_the_provider_timeout() -> None:
    from app.config import load_settings

    for environ in ({}, {"KILLTOKEN_UPSTREAM_READ_TIMEOUT_SECONDS": "600"}):
        settings = load_settings(environ=environ)
        timeout = (settings["KILLTOKEN_UPSTREAM_READ_TIMEOUT_SECONDS"]
                   + settings["KILLTOKEN_UPSTREAM_CONNECT_TIMEOUT_SECONDS"])
        assert settings["KILLTOKEN_IDEMPOTENCY_LEASE_SECONDS"] > timeout


@requires_redis
def test_records_carry_the_configured_ttls(cached: Gateway, upstreams: Upstreams) -> None:
    from app.extensions import handles

    tenant = Tenant(cached)
    assert tenant.chat("read_write", idempotencyKey="ttl").status_code == 200
    client = handles(cached.app).redis
    names = {(n.decode() if isinstance(n, bytes) else n) for n in client.touched}  # type: ignore[union-attr]
    cache_keys = [n for n in names if n.startswith("kt:cache:")]
    idem_keys = [n for n in names if n.startswith("kt:idem:")]
    assert len(cache_keys) == 1 and len(idem_keys) == 1
    assert 280 <= client.ttl(cache_keys[0]) <= 300  # KILLTOKEN_CACHE_TTL_SECONDS=300 in cache_env
    assert 280 <= client.ttl(idem_keys[0]) <= 300   # KILLTOKEN_IDEMPOTENCY_TTL_SECONDS=300


def delete_live_record(base_url: str, auth: dict[str, str], request_id: str | None, redis_url: str,
                       idempotency_key: str) -> None:
    """Delete the idempotency record a live (subprocess) gateway wrote: its tenant id comes from the trace."""
    import redis
    import requests

    from app.services.idempotency import redis_key

    if request_id is None:
        return
    trace_doc = requests.get(f"{base_url}/v1/requests/{request_id}", headers=auth, timeout=10)
    if trace_doc.status_code != 200:
        return
    admin = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        admin.delete(redis_key(trace_doc.json()["tenantId"], "chat", idempotency_key))
    finally:
        admin.close()


@requires_redis
def test_live_gateway_concurrent_duplicates_one_provider_call(upstreams: Upstreams, tmp_path: Any) -> None:
    """gunicorn + gevent worker: 40 concurrent duplicates are 40 greenlets in the worker; one provider call."""
    import requests

    from app.security.api_keys import mint
    from tests import live_server

    key = mint()
    url = shared_url(E2E_DB)
    env = {**upstreams.env(), "REDIS_URL": url, "KILLTOKEN_CACHE_ENABLED": "true",
           "KILLTOKEN_TASKS_MODE": "inprocess", "KILLTOKEN_BOOTSTRAP_TENANTS": f"burst:{key}",
           "KILLTOKEN_LOG_LEVEL": "WARNING", "KILLTOKEN_IDEMPOTENCY_TTL_SECONDS": "120"}
    server = live_server.start(env, tmp_path / "gateway.log")
    auth = {"authorization": f"Bearer {key}"}
    tag = mint()[-12:]
    body = {"provider": "openai", "model": "gpt-4o-mini", "idempotencyKey": f"live-burst-{tag}",
            "messages": [{"role": "user", "content": f"charge me once ({tag})"}]}
    workers = 40
    barrier = threading.Barrier(workers)

    request_ids: list[str] = []

    def send(_: int) -> tuple[int, str | None]:
        session = requests.Session()
        session.trust_env = False
        barrier.wait()
        for _ in range(100):
            response = session.post(server.base_url + "/v1/chat", json=body, headers=auth, timeout=30)
            request_ids.append(response.headers.get("x-killtoken-request-id", ""))
            if response.status_code != 409:
                return response.status_code, response.json()["metrics"]["idempotencyStatus"]
            time.sleep(0.05)
        return 409, None

    try:
        created = requests.post(server.base_url + "/v1/provider-credentials", headers=auth, timeout=30,
                                json={"provider": "openai", "apiKey": "sk-test-openai-1111"})
        assert created.status_code == 201, created.text
        upstreams.fakes["openai"].slow_next(0.5)
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(send, range(workers)))
    finally:
        delete_live_record(server.base_url, auth, next((r for r in request_ids if r), None), url,
                           body["idempotencyKey"])
        server.stop()
    assert calls(upstreams) == 1
    assert sorted(status for status, _ in results) == [200] * workers
    assert [state for _, state in results].count("replayed") == workers - 1


@requires_redis
def test_refused_claims_say_why_on_the_trace(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    first = chat_key(tenant, "why-1")
    assert first.status_code == 200
    reused = chat_key(tenant, "why-1", messages=[{"role": "user", "content": "something else"}])
    assert reused.status_code == 422
    assert trace(cached, reused)["idempotencyStatus"] == "conflict"
