"""POST /v1/chat end to end through the Flask app against the fake upstreams."""

from __future__ import annotations

import json

from tests.conftest import PROVIDER_KEYS, assert_no_canary

HELLO = [{"role": "user", "content": "Write a concise project update."}]


def test_openai_call_reaches_fake_with_tenant_key_and_returns_body_unchanged(gateway, upstreams):
    key = gateway.tenant()
    gateway.add_credential(key, "openai")
    response = gateway.chat(key, provider="openai", model="gpt-4.1", messages=HELLO,
                            metadata={"feature": "  weekly-summary  "})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    fake = upstreams.fakes["openai"]
    assert len(fake.requests) == 1
    sent = fake.last
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {PROVIDER_KEYS['openai']}"
    assert sent.json() == {"model": "gpt-4.1", "messages": HELLO}
    assert body["response"]["id"] == "chatcmpl-fake123"
    assert body["response"]["usage"]["prompt_tokens"] == 120
    metrics = body["metrics"]
    assert metrics["usage"] == {"inputTokens": 120, "cachedInputTokens": 100, "cacheWriteInputTokens": 0,
                                "outputTokens": 30, "reasoningTokens": 10, "totalTokens": 150}
    # gpt-4.1: $2 input, $0.50 cached input, $8 output per million tokens
    assert metrics["costUsd"] == 0.00033
    assert metrics["priceVersion"].startswith("genai-prices")
    assert metrics["feature"] == "weekly-summary"
    assert metrics["cacheStatus"] == "bypass"
    assert metrics["optimizationMode"] == "measure_only"
    assert response.headers["x-killtoken-request-id"] == metrics["requestId"]
    assert_no_canary(sent.headers, sent.body, body)


def test_missing_credential_is_refused_before_any_upstream_call(gateway, upstreams):
    key = gateway.tenant()
    response = gateway.chat(key, provider="anthropic", model="claude-sonnet-4-5", messages=HELLO,
                            idempotencyKey="k-1", cachePolicy={"exactCache": "read_write"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "provider_credential_required"
    assert upstreams.all_requests() == []


def test_unknown_missing_and_revoked_keys_get_the_same_401(gateway):
    key = gateway.tenant()
    gateway.add_credential(key, "openai")
    bodies = []
    for headers in ({}, {"authorization": "Bearer kt_" + "A" * 43}, {"authorization": "Bearer nonsense"}):
        response = gateway.client.post("/v1/chat", json={"provider": "openai", "model": "gpt-4.1",
                                                         "messages": HELLO}, headers=headers)
        assert response.status_code == 401
        bodies.append(response.get_json())
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["error"]["code"] == "invalid_api_key"
    assert "kt_AAAA" not in json.dumps(bodies)


def test_each_request_leaves_exactly_one_trace_without_prompt_text(gateway, upstreams):
    key = gateway.tenant()
    gateway.add_credential(key, "openai")
    ok = gateway.chat(key, provider="openai", model="gpt-4.1", messages=HELLO).get_json()
    bad = gateway.chat(key, provider="openai", model="gpt-4.1", messages=[{"role": "robot", "content": "x"}])
    assert bad.status_code == 400
    assert bad.get_json()["error"]["code"] == "invalid_messages"
    listed = gateway.client.get("/v1/requests", headers=gateway.auth(key)).get_json()["data"]
    assert [t["status"] for t in listed] == ["error", "ok"]
    assert listed[1]["requestId"] == ok["metrics"]["requestId"]
    assert listed[0]["errorCode"] == "invalid_messages"
    raw = json.dumps([gateway.db["request_traces"].find_one({"_id": t["requestId"]}) for t in listed], default=str)
    assert "concise project update" not in raw
    assert "Hello from the fake" not in raw


def test_tenant_b_cannot_read_tenant_a_trace_or_credential(gateway, upstreams):
    key_a, key_b = gateway.tenant("a"), gateway.tenant("b")
    cred = gateway.add_credential(key_a, "openai")
    trace_id = gateway.chat(key_a, provider="openai", model="gpt-4.1", messages=HELLO).get_json()["metrics"][
        "requestId"]
    assert gateway.client.get(f"/v1/requests/{trace_id}", headers=gateway.auth(key_b)).status_code == 404
    for method in ("get", "patch", "delete"):
        response = getattr(gateway.client, method)(f"/v1/provider-credentials/{cred['id']}",
                                                    headers=gateway.auth(key_b), json={"apiKey": "x-y-z-w"})
        assert response.status_code == 404, method
    test = gateway.client.post(f"/v1/provider-credentials/{cred['id']}/test", headers=gateway.auth(key_b))
    assert test.status_code == 404
    used = gateway.chat(key_b, provider="openai", model="gpt-4.1", messages=HELLO)
    assert used.get_json()["error"]["code"] == "provider_credential_required"


def test_unknown_model_costs_null_with_a_reason_never_zero(gateway, upstreams):
    key = gateway.tenant()
    gateway.add_credential(key, "openai")
    metrics = gateway.chat(key, provider="openai", model="ft:my-private-model-xyz", messages=HELLO).get_json()[
        "metrics"]
    assert metrics["costUsd"] is None
    assert "ft:my-private-model-xyz" in metrics["costReason"]


def test_request_list_paginates_by_cursor_and_filters(gateway, upstreams):
    key = gateway.tenant()
    gateway.add_credential(key, "openai")
    gateway.add_credential(key, "anthropic")
    ids = []
    for index in range(5):
        provider, model = ("openai", "gpt-4.1") if index % 2 == 0 else ("anthropic", "claude-sonnet-4-5")
        body = gateway.chat(key, provider=provider, model=model, messages=HELLO,
                            metadata={"feature": f"f{index % 2}"}).get_json()
        ids.append(body["metrics"]["requestId"])
    seen, cursor = [], None
    while True:
        url = "/v1/requests?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = gateway.client.get(url, headers=gateway.auth(key)).get_json()
        seen.extend(t["requestId"] for t in page["data"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5 and set(seen) == set(ids)  # no page skips or repeats
    assert seen == list(reversed(ids))  # newest first
    only = gateway.client.get("/v1/requests?provider=anthropic&feature=f1", headers=gateway.auth(key)).get_json()
    assert [t["requestId"] for t in only["data"]] == [ids[3], ids[1]]
    future = gateway.client.get("/v1/requests?from=2999-01-01T00:00:00Z", headers=gateway.auth(key)).get_json()
    assert future["data"] == []
    for bad in ("cursor=garbage!!", "from=yesterday", "limit=0", "limit=abc"):
        response = gateway.client.get(f"/v1/requests?{bad}", headers=gateway.auth(key))
        assert (response.status_code, response.get_json()["error"]["code"]) == (400, "invalid_request"), bad
