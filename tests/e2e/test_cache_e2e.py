"""Exact cache end to end through HTTP on all three entry points, on the real local Redis.

The gateway runs on the embedded store with its providers pointed at the fakes; the fakes' request lists
count provider calls. Redis is the shared local server (a test DB; every key the app touched is deleted
afterwards), or a private redis-server for the tests that stop it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import Gateway, Upstreams, make_gateway
from tests.redis_helpers import (
    RedisServer,
    requires_redis,
    requires_redis_server,
)

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]
POLICIES = ("bypass", "read_only", "write_only", "read_write")


def cache_env(upstreams: Upstreams, url: str, **extra: str) -> dict[str, str]:
    return {**upstreams.env(), "REDIS_URL": url, "KILLTOKEN_CACHE_ENABLED": "true",
            "KILLTOKEN_TASKS_MODE": "inprocess", "KILLTOKEN_CACHE_TTL_SECONDS": "300",
            "KILLTOKEN_IDEMPOTENCY_TTL_SECONDS": "300", **extra}




class Tenant:
    """A tenant with credentials for the providers a test uses, and helpers for the three entry points."""

    def __init__(self, gw: Gateway, name: str = "acme", providers: tuple[str, ...] = ("openai",)) -> None:
        self.gw = gw
        self.key = gw.tenant(name)
        self.id = gw.tenant_of(self.key)
        self.credentials = {provider: gw.add_credential(self.key, provider) for provider in providers}

    def chat(self, policy: str | None = "read_write", headers: dict[str, str] | None = None,
             **body: Any) -> Any:
        payload: dict[str, Any] = {"provider": "openai", "model": "gpt-4o-mini", "messages": MESSAGES, **body}
        if policy is not None:
            payload["cachePolicy"] = {"exactCache": policy}
        return self.gw.chat(self.key, headers=headers, **payload)

    def openai(self, policy: str | None = "read_write", headers: dict[str, str] | None = None,
               **body: Any) -> Any:
        extra = {"x-killtoken-cache": policy} if policy is not None else {}
        payload = {"model": "gpt-4o-mini", "messages": MESSAGES, **body}
        return self.gw.client.post("/v1/openai/chat/completions", json=payload,
                                   headers=self.gw.auth(self.key, **extra, **(headers or {})))

    def anthropic(self, policy: str | None = "read_write", headers: dict[str, str] | None = None,
                  **body: Any) -> Any:
        extra = {"x-killtoken-cache": policy} if policy is not None else {}
        payload = {"model": "claude-sonnet-4-5", "max_tokens": 64, "system": "Be brief.",
                   "messages": [{"role": "user", "content": "What is 2 + 2?"}], **body}
        return self.gw.client.post("/v1/anthropic/messages", json=payload,
                                   headers={"x-api-key": self.key, "anthropic-version": "2023-06-01", **extra,
                                            **(headers or {})})


def metrics_of(response: Any) -> dict[str, Any]:
    body = response.get_json()
    if "metrics" in body:
        return body["metrics"]
    return body["killtoken"]["metrics"]


def provider_body(response: Any) -> dict[str, Any]:
    body = copy.deepcopy(response.get_json())
    if "response" in body:
        return body["response"]
    body.pop("killtoken", None)
    return body


def calls(upstreams: Upstreams, provider: str = "openai") -> int:
    return len(upstreams.fakes[provider].requests)


def trace(gw: Gateway, response: Any) -> dict[str, Any]:
    request_id = response.headers["x-killtoken-request-id"]
    doc = gw.db["request_traces"].find_one({"_id": request_id})
    assert doc is not None, request_id
    return doc


# --- policies, on /v1/chat -------------------------------------------------------------------------------------

@requires_redis
def test_read_write_miss_then_hit(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    first = tenant.chat("read_write")
    assert first.status_code == 200, first.get_json()
    assert metrics_of(first)["cacheStatus"] == "miss"
    assert calls(upstreams) == 1
    second = tenant.chat("read_write")
    assert second.status_code == 200, second.get_json()
    assert calls(upstreams) == 1
    m1, m2 = metrics_of(first), metrics_of(second)
    assert m2["cacheStatus"] == "hit"
    assert provider_body(second) == provider_body(first)  # the stored provider body, unchanged
    assert m2["usage"] == m1["usage"] and m2["usageCached"] is True and m1["usageCached"] is False
    assert m2["costUsd"] == 0
    assert m1["costUsd"] and m1["costUsd"] > 0
    assert m2["savings"]["cacheUsd"] == pytest.approx(m1["costUsd"])
    assert m2["providerLatencyMs"] == 0
    assert m2["requestId"] != m1["requestId"]
    stored = trace(cached, second)
    assert stored["cacheStatus"] == "hit" and stored["costNanos"] == 0
    assert stored["savings"]["cacheNanos"] == trace(cached, first)["costNanos"] > 0
    assert trace(cached, first)["cacheStatus"] == "miss"


@requires_redis
@pytest.mark.parametrize("policy,expected", [
    ("bypass", ["bypass", "bypass", "bypass"]),
    ("read_only", ["miss", "miss", "miss"]),
    ("write_only", ["write", "write", "write"]),
    ("read_write", ["miss", "hit", "hit"]),
])
def test_each_policy_alone(cached: Gateway, upstreams: Upstreams, policy: str, expected: list[str]) -> None:
    tenant = Tenant(cached)
    statuses = []
    for _ in range(3):
        response = tenant.chat(policy)
        assert response.status_code == 200, response.get_json()
        statuses.append(metrics_of(response)["cacheStatus"])
    assert statuses == expected
    assert calls(upstreams) == {"bypass": 3, "read_only": 3, "write_only": 3, "read_write": 1}[policy]


@requires_redis
@pytest.mark.parametrize("writer", POLICIES)
@pytest.mark.parametrize("reader", POLICIES)
def test_hit_miss_matrix(cached: Gateway, upstreams: Upstreams, writer: str, reader: str) -> None:
    """First request with ``writer``, the same request again with ``reader``: hit exactly when one wrote and
    the other reads."""
    tenant = Tenant(cached)
    assert tenant.chat(writer).status_code == 200
    response = tenant.chat(reader)
    assert response.status_code == 200, response.get_json()
    wrote = writer in ("write_only", "read_write")
    reads = reader in ("read_only", "read_write")
    expected = "hit" if wrote and reads else {"bypass": "bypass", "read_only": "miss", "write_only": "write",
                                              "read_write": "miss"}[reader]
    assert metrics_of(response)["cacheStatus"] == expected
    assert calls(upstreams) == (1 if expected == "hit" else 2)


@requires_redis
def test_absent_policy_is_bypass(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    tenant.chat("write_only")
    response = tenant.chat(None)
    assert metrics_of(response)["cacheStatus"] == "bypass"
    assert calls(upstreams) == 2


@requires_redis
def test_key_order_and_zero_forms_hit_but_a_parameter_change_misses(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    tenant.chat("read_write", providerOptions={"temperature": 0, "top_p": 1})
    raw = ('{"providerOptions": {"top_p": 1.0, "temperature": 0.0}, "cachePolicy": {"exactCache": "read_write"},'
           ' "messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2 + 2?", '
           '"role": "user"}], "model": "gpt-4o-mini", "provider": "openai"}')
    reordered = cached.client.post("/v1/chat", data=raw, content_type="application/json",
                                   headers=cached.auth(tenant.key))
    assert reordered.status_code == 200, reordered.get_json()
    assert metrics_of(reordered)["cacheStatus"] == "hit"
    changed = tenant.chat("read_write", providerOptions={"temperature": 0, "top_p": 0.5})
    assert metrics_of(changed)["cacheStatus"] == "miss"
    assert calls(upstreams) == 2


@requires_redis
def test_metadata_idempotency_key_and_policy_do_not_change_the_key(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    tenant.chat("write_only", metadata={"feature": "a"})
    response = tenant.chat("read_only", metadata={"feature": "b", "user": "x"})
    assert metrics_of(response)["cacheStatus"] == "hit"
    assert metrics_of(response)["feature"] == "b"
    assert calls(upstreams) == 1


@requires_redis
def test_optimization_mode_is_part_of_the_key(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    tenant.chat("read_write", optimizationMode="measure_only")
    response = tenant.chat("read_write", optimizationMode="safe")
    assert metrics_of(response)["cacheStatus"] == "miss"


@requires_redis
def test_only_successful_answers_are_stored(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    upstreams.fakes["openai"].fail_next(400, "invalid_value")
    failed = tenant.chat("read_write")
    assert failed.status_code == 400
    upstreams.fakes["openai"].server_error_next(500)
    assert tenant.chat("read_write").status_code == 502
    ok = tenant.chat("read_write")
    assert ok.status_code == 200 and metrics_of(ok)["cacheStatus"] == "miss"
    assert metrics_of(tenant.chat("read_write"))["cacheStatus"] == "hit"
    assert calls(upstreams) == 3


@requires_redis
def test_malformed_policy_is_400_before_any_provider_call(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    for bad in ({"exactCache": "always"}, "read_write", {"exactCache": "read_write", "x": 1}, {"exactCache": 1}):
        response = cached.chat(tenant.key, provider="openai", model="gpt-4o-mini", messages=MESSAGES,
                               cachePolicy=bad)
        assert response.status_code == 400, bad
        assert response.get_json()["error"]["code"] == "invalid_cache_policy"
    wrapped = tenant.openai("sometimes")
    assert wrapped.status_code == 400
    assert wrapped.get_json()["error"]["code"] == "invalid_cache_policy"
    anth = tenant.anthropic("sometimes")
    assert anth.status_code == 400 and anth.get_json()["type"] == "error"
    assert calls(upstreams) == 0


# --- tenant safety ----------------------------------------------------------------------------------------------

@requires_redis
def test_two_tenants_same_body_never_share(cached: Gateway, upstreams: Upstreams) -> None:
    a, b = Tenant(cached, "a"), Tenant(cached, "b")
    upstreams.fakes["openai"].text = "answer for A"
    assert metrics_of(a.chat("read_write"))["cacheStatus"] == "miss"
    upstreams.fakes["openai"].text = "answer for B"
    from_b = b.chat("read_write")
    assert metrics_of(from_b)["cacheStatus"] == "miss"
    assert provider_body(from_b)["choices"][0]["message"]["content"] == "answer for B"
    assert calls(upstreams) == 2
    again_a = a.chat("read_only")
    assert metrics_of(again_a)["cacheStatus"] == "hit"
    assert provider_body(again_a)["choices"][0]["message"]["content"] == "answer for A"
    upstreams.fakes["openai"].text = "Hello from the fake."


@requires_redis
def test_credential_rotation_never_hits(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    assert metrics_of(tenant.chat("read_write"))["cacheStatus"] == "miss"
    credential = tenant.credentials["openai"]
    credential_id = credential.get("id") or credential.get("credentialId")
    patched = cached.client.patch(f"/v1/provider-credentials/{credential_id}", json={"apiKey": "sk-test-openai-1111"},
                                  headers=cached.auth(tenant.key))
    assert patched.status_code == 200, patched.get_json()
    rotated = tenant.chat("read_write")
    assert rotated.status_code == 200, rotated.get_json()
    assert metrics_of(rotated)["cacheStatus"] == "miss"
    assert metrics_of(tenant.chat("read_write"))["cacheStatus"] == "hit"
    deleted = cached.client.delete(f"/v1/provider-credentials/{credential_id}", headers=cached.auth(tenant.key))
    assert deleted.status_code in (200, 204)
    cached.add_credential(tenant.key, "openai")
    assert metrics_of(tenant.chat("read_write"))["cacheStatus"] == "miss"
    assert calls(upstreams) == 3


@requires_redis
def test_no_secret_or_prompt_in_redis_key_names_or_values(cached: Gateway, upstreams: Upstreams) -> None:
    from app.extensions import handles

    tenant = Tenant(cached)
    tenant.chat("read_write", idempotencyKey="client-key-visible-123")
    client = handles(cached.app).redis
    touched = client.touched  # type: ignore[union-attr]
    names = [name.decode() if isinstance(name, bytes) else name for name in touched]
    assert names and all(name.startswith(("kt:cache:", "kt:idem:")) for name in names)
    blob = " ".join(names)
    for secret in ("sk-test-openai-1111", tenant.key, "client-key-visible-123", tenant.id, "2 + 2"):
        assert secret not in blob
    for name in names:
        assert b"sk-test-openai-1111" not in (client.get(name) or b"")


# --- wrappers ---------------------------------------------------------------------------------------------------

@requires_redis
def test_openai_wrapper_header_policy(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    first = tenant.openai("read_write")
    assert first.status_code == 200, first.get_json()
    second = tenant.openai("read_write")
    assert second.status_code == 200
    assert metrics_of(first)["cacheStatus"] == "miss" and metrics_of(second)["cacheStatus"] == "hit"
    assert provider_body(second) == provider_body(first)
    assert '"cacheStatus":"hit"' in second.headers["x-killtoken-metrics"].replace(" ", "")
    assert metrics_of(second)["costUsd"] == 0 and metrics_of(second)["usageCached"] is True
    assert calls(upstreams) == 1
    assert metrics_of(tenant.openai(None))["cacheStatus"] == "bypass"
    assert calls(upstreams) == 2


@requires_redis
def test_anthropic_wrapper_header_policy(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached, providers=("anthropic",))
    first = tenant.anthropic("read_write")
    assert first.status_code == 200, first.get_json()
    second = tenant.anthropic("read_write")
    assert metrics_of(first)["cacheStatus"] == "miss" and metrics_of(second)["cacheStatus"] == "hit"
    assert provider_body(second) == provider_body(first)
    assert calls(upstreams, "anthropic") == 1


@requires_redis
def test_entry_points_do_not_share_entries(cached: Gateway, upstreams: Upstreams) -> None:
    """The entry format is in the key: a /v1/chat answer is never served to the OpenAI wrapper."""
    tenant = Tenant(cached)
    tenant.chat("read_write")
    assert metrics_of(tenant.openai("read_write"))["cacheStatus"] == "miss"
    assert calls(upstreams) == 2


@requires_redis
def test_wrapper_provider_header_is_part_of_the_key(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached, providers=("openai", "mistral"))
    tenant.openai("read_write")
    other = tenant.openai("read_write", headers={"x-killtoken-provider": "mistral"})
    assert other.status_code == 200, other.get_json()
    assert metrics_of(other)["cacheStatus"] == "miss"
    assert calls(upstreams, "mistral") == 1


# --- switches and failures --------------------------------------------------------------------------------------

def test_cache_disabled_serves_and_says_disabled(upstreams: Upstreams) -> None:
    gw = make_gateway({**upstreams.env(), "KILLTOKEN_TASKS_MODE": "inprocess"})
    tenant = Tenant(gw)
    for _ in range(2):
        response = tenant.chat("read_write")
        assert response.status_code == 200, response.get_json()
        assert metrics_of(response)["cacheStatus"] == "disabled"
    assert metrics_of(tenant.chat(None))["cacheStatus"] == "bypass"
    assert metrics_of(tenant.openai("read_write"))["cacheStatus"] == "disabled"
    assert calls(upstreams) == 4
    assert trace(gw, response)["cacheStatus"] == "disabled"


@requires_redis_server
def test_redis_stopped_and_restarted_mid_test(upstreams: Upstreams, own_redis: RedisServer) -> None:
    import time

    gw = make_gateway(cache_env(upstreams, own_redis.url))
    tenant = Tenant(gw)
    assert metrics_of(tenant.chat("read_write"))["cacheStatus"] == "miss"
    assert metrics_of(tenant.chat("read_write"))["cacheStatus"] == "hit"

    own_redis.stop()
    for _ in range(2):
        started = time.monotonic()
        response = tenant.chat("read_write")
        elapsed = time.monotonic() - started
        assert response.status_code == 200, response.get_json()
        assert metrics_of(response)["cacheStatus"] == "unavailable"
        assert elapsed < 1.0
    assert metrics_of(tenant.chat("write_only"))["cacheStatus"] == "unavailable"
    assert metrics_of(tenant.openai("read_write"))["cacheStatus"] == "unavailable"
    assert calls(upstreams) == 5
    assert trace(gw, response)["cacheStatus"] == "unavailable"

    own_redis.start()  # same port, empty; the gateway recovers without a restart
    statuses = [metrics_of(tenant.chat("read_write"))["cacheStatus"] for _ in range(3)]
    assert statuses == ["miss", "hit", "hit"]


@requires_redis_server
def test_redis_out_of_memory_serves_without_cache(upstreams: Upstreams, own_redis: RedisServer) -> None:
    gw = make_gateway(cache_env(upstreams, own_redis.url))
    tenant = Tenant(gw)
    admin = own_redis.admin()
    admin.config_set("maxmemory", 1)
    try:
        response = tenant.chat("read_write")
        assert response.status_code == 200
        assert metrics_of(response)["cacheStatus"] == "unavailable"
    finally:
        admin.config_set("maxmemory", 0)
    assert metrics_of(tenant.chat("read_write"))["cacheStatus"] == "miss"
    assert metrics_of(tenant.chat("read_write"))["cacheStatus"] == "hit"


@requires_redis
def test_translated_wrapper_hit_is_the_same_answer(cached: Gateway, upstreams: Upstreams) -> None:
    """OpenAI wrapper in front of Anthropic: the stored Anthropic body is re-translated on a hit; only the
    chat.completion id (derived from this request's id) differs."""
    tenant = Tenant(cached, providers=("anthropic",))
    headers = {"x-killtoken-provider": "anthropic"}
    first = tenant.openai("read_write", headers=headers, model="claude-sonnet-4-5")
    second = tenant.openai("read_write", headers=headers, model="claude-sonnet-4-5")
    assert first.status_code == 200, first.get_json()
    assert metrics_of(second)["cacheStatus"] == "hit"
    one, two = provider_body(first), provider_body(second)
    assert one.pop("id") != two.pop("id")
    assert one == two
    assert calls(upstreams, "anthropic") == 1


@requires_redis
def test_nan_in_the_body_is_400_not_500(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    raw = ('{"provider": "openai", "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], '
           '"providerOptions": {"temperature": NaN}}')
    response = cached.client.post("/v1/chat", data=raw, content_type="application/json",
                                  headers=cached.auth(tenant.key))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_request"
    assert "providerOptions.temperature" in response.get_json()["error"]["message"]
    assert calls(upstreams) == 0


@requires_redis
def test_wrapper_optimization_mode_is_part_of_the_key(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    tenant.openai("read_write")
    safe = tenant.openai("read_write", headers={"x-killtoken-optimization-mode": "safe"})
    assert metrics_of(safe)["cacheStatus"] == "miss"


@requires_redis_server
def test_ready_reports_the_cache_backend(upstreams: Upstreams, own_redis: RedisServer) -> None:
    gw = make_gateway(cache_env(upstreams, own_redis.url))
    ready = gw.client.get("/ready")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["cache"] == {"ok": True, "backend": "redis"}
    own_redis.stop()
    down = gw.client.get("/ready")
    # Still serving (cache unavailable, idempotent requests 503): degraded, not pulled from the load balancer.
    assert (down.status_code, down.get_json()["status"]) == (200, "degraded")
    assert down.get_json()["checks"]["cache"]["ok"] is False
    assert own_redis.url not in down.get_data(as_text=True)
    own_redis.start()
    assert gw.client.get("/ready").status_code == 200
    off = make_gateway({**upstreams.env(), "KILLTOKEN_TASKS_MODE": "inprocess"})
    assert off.client.get("/ready").get_json()["checks"]["cache"] == {"ok": True, "backend": "disabled"}


@requires_redis_server
def test_hung_redis_costs_one_short_timeout(upstreams: Upstreams, own_redis: RedisServer) -> None:
    import time

    gw = make_gateway(cache_env(upstreams, own_redis.url))
    tenant = Tenant(gw)
    assert metrics_of(tenant.chat("read_write"))["cacheStatus"] == "miss"
    own_redis.pause()
    try:
        for policy in ("read_write", "read_only", "write_only"):
            started = time.monotonic()
            response = tenant.chat(policy)
            elapsed = time.monotonic() - started
            assert response.status_code == 200, response.get_json()
            assert metrics_of(response)["cacheStatus"] == "unavailable"
            assert elapsed < 0.25 + 0.5, f"{policy}: {elapsed:.3f}s"
        started = time.monotonic()
        assert metrics_of(tenant.chat("bypass"))["cacheStatus"] == "bypass"
        assert time.monotonic() - started < 0.25
    finally:
        own_redis.resume()
    assert metrics_of(tenant.chat("read_write"))["cacheStatus"] == "hit"


@requires_redis_server
def test_live_gateway_keeps_serving_through_a_redis_outage(upstreams: Upstreams, own_redis: RedisServer,
                                                           tmp_path: Any) -> None:
    """The production shape: gunicorn + gevent worker, REDIS_URL for cache, idempotency and the Celery broker
    (tasks mode auto → celery). Redis stops and comes back while the gateway runs."""
    import time

    import requests

    from app.security.api_keys import mint
    from tests import live_server

    key = mint()
    env = {**upstreams.env(), "REDIS_URL": own_redis.url, "KILLTOKEN_CACHE_ENABLED": "true",
           "KILLTOKEN_BOOTSTRAP_TENANTS": f"outage:{key}", "KILLTOKEN_LOG_LEVEL": "WARNING"}
    server = live_server.start(env, tmp_path / "gateway.log")
    session = requests.Session()
    session.trust_env = False
    auth = {"authorization": f"Bearer {key}"}
    body = {"provider": "openai", "model": "gpt-4o-mini", "messages": MESSAGES,
            "cachePolicy": {"exactCache": "read_write"}}

    def chat(**extra: Any) -> tuple[requests.Response, float]:
        started = time.monotonic()
        response = session.post(server.base_url + "/v1/chat", json={**body, **extra}, headers=auth, timeout=30)
        return response, time.monotonic() - started

    try:
        created = session.post(server.base_url + "/v1/provider-credentials", headers=auth,
                               json={"provider": "openai", "apiKey": "sk-test-openai-1111"}, timeout=30)
        assert created.status_code == 201, created.text
        assert chat()[0].json()["metrics"]["cacheStatus"] == "miss"
        assert chat()[0].json()["metrics"]["cacheStatus"] == "hit"

        own_redis.stop()
        for _ in range(5):
            response, elapsed = chat()
            assert response.status_code == 200, response.text
            assert response.json()["metrics"]["cacheStatus"] == "unavailable"
            assert elapsed < 1.0
        refused, elapsed = chat(idempotencyKey="during-outage")
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "idempotency_unavailable"
        assert elapsed < 1.0

        own_redis.start()
        statuses = [chat()[0].json()["metrics"]["cacheStatus"] for _ in range(2)]
        assert statuses == ["miss", "hit"]
        first, _ = chat(idempotencyKey="after-outage", providerOptions={"temperature": 0})
        again, _ = chat(idempotencyKey="after-outage", providerOptions={"temperature": 0})
        assert first.status_code == again.status_code == 200
        assert again.json()["metrics"]["idempotencyStatus"] == "replayed"
    finally:
        server.stop()
    assert "sk-test-openai-1111" not in server.logs()


@requires_redis
def test_default_optimization_mode_spelled_out_still_hits(cached: Gateway, upstreams: Upstreams) -> None:
    tenant = Tenant(cached)
    tenant.chat("read_write")
    explicit = tenant.chat("read_write", optimizationMode="measure_only")
    assert metrics_of(explicit)["cacheStatus"] == "hit"
