"""Gemini generateContent adapter: exact request, key only in the header, usage, errors, round trip."""

from __future__ import annotations

import pytest

from app.errors import ApiError
from providers import gemini
from providers.base import AuthContext, ChatRequest, Credential
from tests.fakes.gemini_api import gemini_handler
from tests.providers.roundtrip import call, sent_json

KEY = "AIzaSyTEST-key_0123456789abcdefghijk"
CRED = Credential(id="cred_g", tenant_id="ten_1", provider="gemini", version=1, api_key=KEY)
ADAPTER = gemini.ADAPTER


def build(request: ChatRequest) -> dict:
    return sent_json(ADAPTER.build_request(request, CRED, ADAPTER.default_origin).body)


def test_url_and_key_header_only() -> None:
    request = ChatRequest(provider="gemini", model="gemini-2.5-flash", messages=[{"role": "user", "content": "Hi"}])
    upstream = ADAPTER.authorize(ADAPTER.build_request(request, CRED, ADAPTER.default_origin), CRED, AuthContext())
    assert upstream.url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    assert upstream.headers == {"content-type": "application/json", "x-goog-api-key": KEY}
    assert KEY not in upstream.url and "key=" not in upstream.url
    assert sent_json(upstream.body) == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}


def test_models_prefix_and_encoding() -> None:
    assert gemini.model_path("models/gemini-2.5-pro") == "models/gemini-2.5-pro:generateContent"
    assert gemini.model_path("../x?key=1") == "models/..%2Fx%3Fkey%3D1:generateContent"


def test_full_translation() -> None:
    request = ChatRequest(provider="gemini", model="gemini-2.5-flash", messages=[
        {"role": "system", "content": "Be terse."},
        {"role": "developer", "content": "Metric units."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"cat\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"answer\": \"a cat\"}"},
        {"role": "tool", "tool_call_id": "call_1", "content": "plain text"},
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "Thanks"},
    ], options={
        "temperature": 0.1, "top_p": 0.9, "top_k": 20, "max_tokens": 256, "stop": ["END"], "n": 1, "seed": 5,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "thinkingConfig": {"thinkingBudget": 0},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "cachedContent": "cachedContents/abc",
        "tools": [{"type": "function", "function": {"name": "lookup", "description": "Look up",
                                                     "parameters": {"type": "object", "additionalProperties": False}}}],
        "tool_choice": "required",
    })
    assert build(request) == {
        "contents": [
            {"role": "user", "parts": [
                {"text": "What is this?"},
                {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
                {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}},
            ]},
            {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": "cat"}},
                                         "thoughtSignature": "skip_thought_signature_validator"}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "lookup", "response": {"answer": "a cat"}}},
                {"functionResponse": {"name": "lookup", "response": {"content": "plain text"}}},
            ]},
            {"role": "model", "parts": [{"text": "A cat."}]},
            {"role": "user", "parts": [{"text": "Thanks"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be terse."}, {"text": "Metric units."}]},
        "generationConfig": {
            "temperature": 0.1, "topP": 0.9, "topK": 20, "maxOutputTokens": 256, "stopSequences": ["END"],
            "candidateCount": 1, "seed": 5, "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object"}, "thinkingConfig": {"thinkingBudget": 0},
        },
        "tools": [{"functionDeclarations": [{"name": "lookup", "description": "Look up", "parametersJsonSchema": {
            "type": "object", "additionalProperties": False}}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "cachedContent": "cachedContents/abc",
    }


def test_named_tool_choice_and_native_generation_config() -> None:
    request = ChatRequest(provider="gemini", model="m", messages=[{"role": "user", "content": "x"}], options={
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "generationConfig": {"responseModalities": ["TEXT"]}, "response_format": {"type": "json_object"}})
    body = build(request)
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}
    assert body["generationConfig"] == {"responseMimeType": "application/json", "responseModalities": ["TEXT"]}


@pytest.mark.parametrize("option", ["user", "parallel_tool_calls", "logit_bias", "thinking", "stream", "labels"])
def test_unsupported_options(option: str) -> None:
    request = ChatRequest(provider="gemini", model="m", messages=[{"role": "user", "content": "x"}],
                          options={option: True})
    with pytest.raises(ApiError) as caught:
        build(request)
    assert (caught.value.code, caught.value.param) == ("unsupported_provider_option", option)


def test_tool_result_without_matching_call_is_invalid() -> None:
    request = ChatRequest(provider="gemini", model="m", messages=[
        {"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nope", "content": "r"}])
    with pytest.raises(ApiError) as caught:
        build(request)
    assert caught.value.code == "invalid_messages"


def test_usage_adds_thoughts_to_output() -> None:
    parsed = ADAPTER.parse_response({
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "thinking...", "thought": True}, {"text": "Hello"}, {"text": " world"}]},
            "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 1000, "cachedContentTokenCount": 800, "candidatesTokenCount": 50,
                          "thoughtsTokenCount": 150, "totalTokenCount": 1200},
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-1",
    })
    assert parsed.usage.to_metrics() == {"inputTokens": 1000, "cachedInputTokens": 800, "cacheWriteInputTokens": 0,
                                         "outputTokens": 200, "reasoningTokens": 150, "totalTokens": 1200}
    assert (parsed.text, parsed.finish_reason, parsed.response_id, parsed.model) == (
        "Hello world", "stop", "resp-1", "gemini-2.5-flash")


def test_function_call_and_finish_reasons() -> None:
    parsed = gemini.parse_gemini_response({
        "candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]},
                        "finishReason": "STOP"}], "usageMetadata": {}})
    assert parsed.tool_calls == [{"id": "call_0", "type": "function",
                                  "function": {"name": "f", "arguments": "{\"a\":1}"}}]
    assert parsed.finish_reason == "tool_calls"
    assert gemini.parse_gemini_response({"candidates": [{"finishReason": "MAX_TOKENS"}]}).finish_reason == "length"
    assert gemini.parse_gemini_response({"candidates": [{"finishReason": "SAFETY"}]}).finish_reason == \
        "content_filter"
    blocked = gemini.parse_gemini_response({"promptFeedback": {"blockReason": "SAFETY"},
                                            "usageMetadata": {"promptTokenCount": 9}})
    assert (blocked.finish_reason, blocked.text, blocked.usage.input_tokens) == ("content_filter", "", 9)


def test_malformed_body() -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.parse_response({"something": "else"})
    assert caught.value.code == "provider_error"


@pytest.mark.parametrize(("status", "google_status", "reason", "code", "http"), [
    (400, "INVALID_ARGUMENT", "API_KEY_INVALID", "provider_auth_failed", 424),
    (400, "INVALID_ARGUMENT", None, "provider_request_rejected", 400),
    (401, "UNAUTHENTICATED", None, "provider_auth_failed", 424),
    (403, "PERMISSION_DENIED", None, "provider_auth_failed", 424),
    (404, "NOT_FOUND", None, "provider_request_rejected", 404),
    (429, "RESOURCE_EXHAUSTED", None, "provider_rate_limited", 429),
    (500, "INTERNAL", None, "provider_error", 502),
    (503, "UNAVAILABLE", None, "provider_error", 502),
])
def test_errors(status: int, google_status: str, reason: str | None, code: str, http: int) -> None:
    error: dict = {"code": status, "message": f"API key {KEY} not valid", "status": google_status}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    mapped = ADAPTER.parse_error(status, {}, {"error": error})
    assert (mapped.code, mapped.status, mapped.provider_status) == (code, http, status)
    assert KEY not in mapped.message
    expected = f"{google_status}/{reason}" if reason else google_status
    assert f"({expected})" in mapped.message


def test_round_trip_through_fake() -> None:
    fake = gemini_handler(KEY, model="gemini-2.5-flash")
    server = fake.serve()
    try:
        request = ChatRequest(provider="gemini", model="gemini-2.5-flash", messages=[
            {"role": "system", "content": "S"}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "More"}])
        parsed = call(ADAPTER, request, CRED, server.origin)
        assert parsed.text == "Hello from the fake."
        assert parsed.usage.to_metrics() == {"inputTokens": 300, "cachedInputTokens": 256,
                                             "cacheWriteInputTokens": 0, "outputTokens": 65,
                                             "reasoningTokens": 25, "totalTokens": 365}
        assert fake.last.headers["x-goog-api-key"] == KEY
        assert fake.last.query == ""
        fake.server_error_next(503)
        with pytest.raises(ApiError) as caught:
            call(ADAPTER, request, CRED, server.origin)
        assert caught.value.code == "provider_error"
        wrong = Credential(id="c", tenant_id="t", provider="gemini", version=1, api_key="AIzaWrong")
        with pytest.raises(ApiError) as caught:
            call(ADAPTER, request, wrong, server.origin)
        assert (caught.value.code, caught.value.provider_status) == ("provider_auth_failed", 400)
    finally:
        server.stop()


def test_thought_signatures_survive_the_openai_shape() -> None:
    parsed = gemini.parse_gemini_response({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2lnLTE="},
        {"functionCall": {"name": "g", "args": {}}}]}, "finishReason": "STOP"}]})
    assert parsed.tool_calls == [
        {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{}"},
         "extra_content": {"google": {"thought_signature": "c2lnLTE="}}},
        {"id": "call_1", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    request = ChatRequest(provider="gemini", model="m", messages=[
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": parsed.tool_calls},
        {"role": "tool", "tool_call_id": "call_0", "content": "1"},
        {"role": "tool", "tool_call_id": "call_1", "content": "2"},
    ])
    assert build(request)["contents"][1] == {"role": "model", "parts": [
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2lnLTE="},
        {"functionCall": {"name": "g", "args": {}}},
    ]}


def test_labels_are_for_vertex_only() -> None:
    request = ChatRequest(provider="google_vertex", model="m", messages=[{"role": "user", "content": "x"}],
                          options={"labels": {"team": "a"}})
    assert gemini.to_gemini_body(request, "google_vertex")["labels"] == {"team": "a"}
