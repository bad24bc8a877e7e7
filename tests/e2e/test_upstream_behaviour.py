"""Upstream failures map to stable codes, never retried, never leaking keys; ops endpoints; key revocation."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import PROVIDER_KEYS, assert_no_canary, make_gateway

HELLO = [{"role": "user", "content": "Hi"}]


def _call(gateway, key):
    return gateway.chat(key, provider="openai", model="gpt-4.1", messages=HELLO)


@pytest.fixture
def tenant(gateway):
    key = gateway.tenant()
    gateway.add_credential(key, "openai")
    return key


def test_429_keeps_retry_after_and_is_not_retried(gateway, upstreams, tenant):
    upstreams.fakes["openai"].rate_limit_next(retry_after="7")
    response = _call(gateway, tenant)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.get_json()["error"]["code"] == "provider_rate_limited"
    assert len(upstreams.fakes["openai"].requests) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_502_provider_error(gateway, upstreams, tenant, status):
    upstreams.fakes["openai"].server_error_next(status)
    response = _call(gateway, tenant)
    assert response.status_code == 502
    error = response.get_json()["error"]
    assert error["code"] == "provider_error"
    assert "openai" in error["message"] and str(status) in error["message"]
    assert len(upstreams.fakes["openai"].requests) == 1


def test_malformed_body_is_502(gateway, upstreams, tenant):
    upstreams.fakes["openai"].malformed_next()
    response = _call(gateway, tenant)
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "provider_error"


def test_timeout_is_504(upstreams):
    gateway = make_gateway({**upstreams.env(), "KILLTOKEN_UPSTREAM_READ_TIMEOUT_SECONDS": "0.3"})
    key = gateway.tenant()
    gateway.add_credential(key, "openai")
    upstreams.fakes["openai"].slow_next(1.0)
    started = time.monotonic()
    response = _call(gateway, key)
    assert response.status_code == 504
    assert response.get_json()["error"]["code"] == "provider_timeout"
    assert time.monotonic() - started < 0.9


def test_upstream_auth_failure_is_distinct_from_invalid_api_key(gateway, upstreams):
    key = gateway.tenant()
    gateway.add_credential(key, "openai", apiKey="sk-revoked-at-openai-4242")
    response = _call(gateway, key)
    assert response.status_code == 424
    error = response.get_json()["error"]
    assert error["code"] == "provider_auth_failed"
    assert "sk-revoked" not in json.dumps(error) and "4242" not in error["message"]


def test_unreachable_provider_is_502_without_url(gateway):
    broken = make_gateway({"KILLTOKEN_UPSTREAM_URL_OPENAI": "http://127.0.0.1:9"})
    key = broken.tenant()
    broken.add_credential(key, "openai")
    response = _call(broken, key)
    assert response.status_code == 502
    assert "127.0.0.1" not in response.get_json()["error"]["message"]


def test_redirects_are_never_followed(gateway, upstreams, tenant):
    upstreams.fakes["openai"].answer_next(307, b"", {"location": "http://127.0.0.1:9/steal"})
    response = _call(gateway, tenant)
    assert response.status_code == 502
    assert len(upstreams.fakes["openai"].requests) == 1


def test_errors_are_traced_with_status_and_code(gateway, upstreams, tenant):
    upstreams.fakes["openai"].server_error_next(500)
    request_id = _call(gateway, tenant).headers["x-killtoken-request-id"]
    trace = gateway.client.get(f"/v1/requests/{request_id}", headers=gateway.auth(tenant)).get_json()
    assert trace["httpStatus"] == 502 and trace["errorCode"] == "provider_error"
    assert trace["providerStatus"] == 500 and trace["status"] == "error"


def test_logs_bodies_and_traces_never_carry_secrets(gateway, upstreams, tenant, captured_logs):
    upstreams.fakes["openai"].server_error_next(500)
    bodies = [_call(gateway, tenant).get_data(as_text=True), _call(gateway, tenant).get_data(as_text=True)]
    traces = list(gateway.db["request_traces"].find())
    logs = captured_logs.text
    for secret in (PROVIDER_KEYS["openai"], tenant):
        for blob in (*bodies, json.dumps(traces, default=str), logs):
            assert secret not in blob
    assert_no_canary(logs, *bodies, json.dumps(traces, default=str))


def test_health_needs_no_auth_and_ready_reports_backends(gateway):
    assert gateway.client.get("/health").get_json() == {"status": "ok"}
    ready = gateway.client.get("/ready").get_json()
    assert ready["status"] == "ready"
    assert ready["checks"]["persistence"] == {"ok": True, "backend": "embedded"}
    assert ready["checks"]["cache"] == {"ok": True, "backend": "disabled"}


def test_revoked_key_is_refused_within_one_second(gateway, tenant):
    assert _call(gateway, tenant).status_code == 200
    key_id = gateway.db["api_keys"].find_one({"tenantId": gateway.tenant_of(tenant)})["_id"]
    from app.store import api_keys as key_store

    assert key_store.revoke(gateway.db, key_id)
    time.sleep(1.05)
    refused = _call(gateway, tenant)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(("body", "code", "status"), [
    ({"model": "gpt-4.1", "messages": HELLO}, "invalid_request", 400),
    ({"provider": "nope", "model": "gpt-4.1", "messages": HELLO}, "provider_not_supported", 422),
    ({"provider": "openai", "model": "gpt-4.1"}, "invalid_messages", 400),
    ({"provider": "openai", "model": "gpt-4.1", "messages": "hi"}, "invalid_messages", 400),
    ({"provider": "openai", "model": "gpt-4.1", "messages": [{"role": "user", "content": None}]},
     "invalid_messages", 400),
    ({"provider": "openai", "model": "gpt-4.1", "messages": HELLO, "optimizationMode": "max"},
     "invalid_optimization_mode", 400),
    ({"provider": "openai", "model": "gpt-4.1", "messages": HELLO, "cachePolicy": "read_write"},
     "invalid_cache_policy", 400),
    ({"provider": "openai", "model": "gpt-4.1", "messages": HELLO, "idempotencyKey": "x" * 256},
     "invalid_idempotency_key", 400),
    ({"provider": "openai", "model": "gpt-4.1", "messages": HELLO, "temperature": 0.2}, "invalid_request", 400),
    ({"provider": "openai", "model": "gpt-4.1", "messages": HELLO, "metadata": {"feature": 3}},
     "invalid_metadata", 400),
    ({"provider": "openai", "model": "gpt-4.1", "messages": HELLO, "providerOptions": {"stream": True}},
     "streaming_not_supported", 422),
])
def test_bad_chat_input_gets_a_stable_4xx_and_no_call(gateway, upstreams, tenant, body, code, status):
    response = gateway.chat(tenant, **body)
    assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)
    assert upstreams.fakes["openai"].requests == []


def test_non_json_and_wrong_media_type(gateway, tenant):
    bad = gateway.client.post("/v1/chat", data="{nope", headers={**gateway.auth(tenant),
                                                                 "content-type": "application/json"})
    assert (bad.status_code, bad.get_json()["error"]["code"]) == (400, "invalid_request")
    text = gateway.client.post("/v1/chat", data="hi", headers={**gateway.auth(tenant), "content-type": "text/plain"})
    assert (text.status_code, text.get_json()["error"]["code"]) == (415, "unsupported_media_type")
    assert gateway.client.get("/v1/nowhere").get_json()["error"]["code"] == "not_found"
    assert gateway.client.get("/v1/chat").get_json()["error"]["code"] == "method_not_allowed"


def test_task_payloads_carry_no_secret(gateway, upstreams, tenant):
    sent: list = []
    dispatcher = gateway.app.extensions["killtoken_dispatcher"]
    original = dispatcher.send
    dispatcher.send = lambda name, payload: sent.append((name, payload)) or True
    try:
        assert _call(gateway, tenant).status_code == 200
    finally:
        dispatcher.send = original
    assert [name for name, _ in sent] == ["killtoken.measure_request"]
    blob = json.dumps(sent)
    assert PROVIDER_KEYS["openai"] not in blob and tenant not in blob
    assert_no_canary(blob)


def test_health_does_no_io_and_ready_fails_when_mongo_is_down():
    import base64
    import os

    gateway = make_gateway({"KILLTOKEN_MONGODB_URI": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200",
                            "KILLTOKEN_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode()})
    started = time.monotonic()
    assert gateway.client.get("/health").status_code == 200
    assert time.monotonic() - started < 0.1
    ready = gateway.client.get("/ready")
    assert ready.status_code == 503
    body = ready.get_json()
    assert body["status"] == "not_ready"
    assert body["checks"]["persistence"]["ok"] is False
    assert "mongodb://" not in json.dumps(body)


def test_random_keys_never_evict_a_valid_tenant_from_the_key_cache():
    import mongomock_ng

    from app.security import api_keys as keys
    from app.services.tenant_auth import KeyVerifier
    from app.store import api_keys as key_store

    db = mongomock_ng.MongoClient()["k"]
    good = keys.mint()
    key_store.add(db, "ten_a", good)
    verifier = KeyVerifier(ttl=60.0, max_entries=10, max_unknown=5)
    assert verifier.verify(db, good).tenant_id == "ten_a"
    from app.errors import ApiError

    for _ in range(50):
        with pytest.raises(ApiError, match="invalid_api_key"):
            verifier.verify(db, keys.mint())
    db["api_keys"].delete_many({})  # were the valid entry evicted, the next check would now fail
    assert verifier.verify(db, good).tenant_id == "ten_a"
