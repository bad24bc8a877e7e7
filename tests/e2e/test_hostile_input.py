"""Hostile and careless input gets a stable 4xx and a trace, never a 500 (found by the fresh-clone review)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from app.security import api_keys
from tests import live_server
from tests.conftest import make_gateway

HELLO = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def small(upstreams):
    gateway = make_gateway({**upstreams.env(), "KILLTOKEN_MAX_BODY_BYTES": "4000"})
    key = gateway.tenant()
    gateway.add_credential(key, "openai")
    return gateway, key


def _post(gateway, key, raw: bytes, path: str = "/v1/chat"):
    response = gateway.client.post(path, data=raw, headers={**gateway.auth(key), "content-type": "application/json"})
    return response.status_code, response.get_json()


@pytest.mark.parametrize("path", ["/v1/chat", "/v1/openai/chat/completions", "/v1/anthropic/messages"])
def test_unpaired_surrogate_is_400_and_traced(small, upstreams, path):
    gateway, key = small
    raw = b'{"provider":"openai","model":"gpt-4.1","max_tokens":5,"messages":[{"role":"user","content":"\\ud800"}]}'
    status, body = _post(gateway, key, raw, path)
    assert (status, body["error"]["code"] if "code" in body["error"] else body["error"]["type"]) in (
        (400, "invalid_request"), (400, "invalid_request_error"))
    assert upstreams.fakes["openai"].requests == []
    assert gateway.db["request_traces"].count_documents({"httpStatus": 400}) == 1


def test_surrogate_pairs_are_fine(small, upstreams):
    gateway, key = small
    status, _ = _post(gateway, key, b'{"provider":"openai","model":"gpt-4.1","messages":[{"role":"user",'
                                    b'"content":"\\ud83d\\ude00"}]}')
    assert status == 200
    assert upstreams.fakes["openai"].last.json()["messages"][0]["content"] == "\U0001F600"


def test_deep_nesting_is_400_and_traced(small):
    gateway, key = small
    status, body = _post(gateway, key, b'{"provider":"openai","model":"gpt-4.1","messages":[],"metadata":{"a":'
                         + b"[" * 200 + b"]" * 200 + b"}}")
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    trace = gateway.db["request_traces"].find_one({"httpStatus": 400})
    assert trace["provider"] == "openai" and trace["errorCode"] == "invalid_request"


def test_very_deep_nesting_beyond_the_parser_is_400(upstreams):
    gateway = make_gateway(upstreams.env())
    key = gateway.tenant()
    status, body = _post(gateway, key, b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert (status, body["error"]["code"]) == (400, "invalid_request")


def test_too_large_body_with_valid_key_is_413_and_traced(small):
    gateway, key = small
    status, body = _post(gateway, key, json.dumps({"provider": "openai", "model": "gpt-4.1",
                                                   "messages": [{"role": "user", "content": "x" * 5000}]}).encode())
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    assert gateway.db["request_traces"].count_documents({"httpStatus": 413}) == 1


def test_chunked_body_over_the_limit_is_413_over_real_http(upstreams, tmp_path):
    key = api_keys.mint()
    server = live_server.start({**upstreams.env(), "KILLTOKEN_MAX_BODY_BYTES": "4000",
                                "KILLTOKEN_BOOTSTRAP_TENANTS": f"big:{key}"}, tmp_path / "gw.log")
    try:
        http = requests.Session()
        http.trust_env = False

        def chunks():
            yield b'{"provider":"openai","model":"gpt-4.1","messages":[{"role":"user","content":"'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}]}'

        response = http.post(server.base_url + "/v1/chat", data=chunks(),
                             headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
    finally:
        server.stop()


def test_non_ascii_feature_header_is_utf8(small):
    gateway, key = small
    response = gateway.client.post("/v1/chat", json={"provider": "openai", "model": "gpt-4.1", "messages": HELLO},
                                   headers={**gateway.auth(key), "x-killtoken-feature": "héllo"})
    assert response.get_json()["metrics"]["feature"] == "héllo"


def test_mistyped_stream_in_the_wrappers_is_400(small, upstreams):
    gateway, key = small
    for path, body in (("/v1/openai/chat/completions", {"model": "gpt-4.1", "messages": HELLO, "stream": "yes"}),
                       ("/v1/anthropic/messages", {"model": "claude-sonnet-4-5", "max_tokens": 5,
                                                   "messages": HELLO, "stream": "yes"})):
        response = gateway.client.post(path, json=body, headers=gateway.auth(key))
        assert response.status_code == 400, path
    assert upstreams.fakes["openai"].requests == []


def test_anthropic_wrapper_requires_max_tokens_like_the_real_api(small, upstreams):
    gateway, key = small
    gateway.add_credential(key, "anthropic")
    response = gateway.client.post("/v1/anthropic/messages", headers=gateway.auth(key),
                                   json={"model": "claude-sonnet-4-5", "messages": HELLO})
    assert response.status_code == 400
    assert response.get_json()["error"]["type"] == "invalid_request_error"
    assert upstreams.fakes["anthropic"].requests == []


def test_chat_body_comes_back_byte_for_byte(small, upstreams):
    gateway, key = small
    raw = b'{"z_last":1,"id":"x","usage":{"prompt_tokens":1,"completion_tokens":1},"big":12345678901234567890,' \
          b'"f":1.0,"e":1e-07,"choices":[{"message":{"role":"assistant","content":"\\u00e9 \xf0\x9f\x98\x80"}}]}'
    upstreams.fakes["openai"].answer_next(200, raw, {"content-type": "application/json"})
    response = gateway.chat(key, provider="openai", model="gpt-4.1", messages=HELLO)
    assert response.status_code == 200
    data = response.get_data()
    assert data.startswith(b'{"response":' + raw + b',"metrics":{')


def test_upstream_overrides_are_checked_at_start():
    from app.config import ConfigError

    for name, value in (("KILLTOKEN_UPSTREAM_URL_OPENIA", "http://127.0.0.1:9"),
                        ("KILLTOKEN_UPSTREAM_URL_OPENAI", "127.0.0.1:9911"),
                        ("KILLTOKEN_UPSTREAM_URL_OPENAI", "http://127.0.0.1:9911/v1"),
                        ("KILLTOKEN_UPSTREAM_URL_OPENAI", "ftp://x"),
                        ("KILLTOKEN_UPSTREAM_URL_OPENAI", "http://127.0.0.1:99999"),
                        ("KILLTOKEN_UPSTREAM_URL_OPENAI", "http://127.0.0.1:abc"),
                        ("KILLTOKEN_UPSTREAM_URL_OPENAI", "http://[::1")):
        with pytest.raises(ConfigError, match=name):
            make_gateway({name: value})


def test_requests_list_refuses_unknown_parameters_and_backwards_ranges(small):
    gateway, key = small
    for query in ("bogus=1", "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"):
        response = gateway.client.get(f"/v1/requests?{query}", headers=gateway.auth(key))
        assert (response.status_code, response.get_json()["error"]["code"]) == (400, "invalid_request")


def test_empty_patch_makes_no_new_version_and_short_keys_show_no_characters(gateway):
    key = gateway.tenant()
    created = gateway.client.post("/v1/provider-credentials", headers=gateway.auth(key),
                                  json={"provider": "mistral", "apiKey": "ab"}).get_json()
    assert created["preview"] == "…"
    same = gateway.client.patch(f"/v1/provider-credentials/{created['id']}", headers=gateway.auth(key), json={})
    assert same.get_json()["version"] == 1
    long_key = gateway.client.post("/v1/provider-credentials", headers=gateway.auth(key),
                                   json={"provider": "xai", "apiKey": "k" * 5000})
    assert (long_key.status_code, long_key.get_json()["error"]["code"]) == (400, "invalid_api_key")


def test_embedded_store_never_queues_tasks_to_a_broker_it_cannot_serve():
    from app.config import load_settings

    assert load_settings({"REDIS_URL": "redis://127.0.0.1:6379/13"})["KILLTOKEN_TASKS_MODE"] == "inprocess"
    assert load_settings({"REDIS_URL": "redis://127.0.0.1:6379/13", "KILLTOKEN_MONGODB_URI": "mongodb://db/x"})[
        "KILLTOKEN_TASKS_MODE"] == "celery"


def test_database_outage_is_503_not_ready(upstreams):
    import base64
    import os

    gateway = make_gateway({**upstreams.env(), "KILLTOKEN_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
                            "KILLTOKEN_MONGODB_URI": "mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=100"})
    response = gateway.client.post("/v1/chat", json={"provider": "openai", "model": "gpt-4.1", "messages": HELLO},
                                   headers={"authorization": "Bearer kt_" + "a" * 43})
    assert (response.status_code, response.get_json()["error"]["code"]) == (503, "not_ready")
    listed = gateway.client.get("/v1/requests", headers={"authorization": "Bearer kt_" + "a" * 43})
    assert (listed.status_code, listed.get_json()["error"]["code"]) == (503, "not_ready")
    started = time.monotonic()
    again = gateway.client.post("/v1/chat", json={"provider": "openai", "model": "gpt-4.1", "messages": HELLO},
                                headers={"authorization": "Bearer kt_" + "a" * 43})
    assert again.status_code == 503
    assert time.monotonic() - started < 2.0  # bounded by the URI's 100 ms selection timeout, not 3 s + 3 s


def test_bom_body_from_a_provider_is_re_serialized_not_spliced(small, upstreams):
    gateway, key = small
    answer = {"id": "x", "object": "chat.completion", "model": "gpt-4.1",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    upstreams.fakes["openai"].answer_next(200, b"\xef\xbb\xbf" + json.dumps(answer).encode(),
                                          {"content-type": "application/json"})
    response = gateway.chat(key, provider="openai", model="gpt-4.1", messages=HELLO)
    assert response.status_code == 200, response.get_json()
    assert json.loads(response.get_data())["response"] == answer


def test_unauthenticated_refusals_do_not_read_the_body_into_the_trace(small):
    gateway, _ = small
    response = gateway.client.post("/v1/chat", json={"provider": "openai", "model": "m" * 500, "messages": HELLO},
                                   headers={"authorization": "Bearer nope"})
    assert response.status_code == 401
    trace = gateway.db["request_traces"].find_one({"errorCode": "invalid_api_key"})
    assert trace["tenantId"] is None and trace["model"] is None


def test_settings_parsers_name_the_setting():
    from app.config import ConfigError, load_settings

    assert load_settings({"KILLTOKEN_IDEMPOTENCY_LEASE_SECONDS": "0"})["KILLTOKEN_IDEMPOTENCY_LEASE_SECONDS"] == 155
    with pytest.raises(ConfigError, match="KILLTOKEN_LOG_LEVEL"):
        load_settings({"KILLTOKEN_LOG_LEVEL": "LOUD"})
