"""Anthropic Messages adapter: translation from canonical messages, native passthrough, usage, errors, round trip."""

from __future__ import annotations

import pytest

from app.errors import ApiError
from providers import anthropic
from providers.base import FORMAT_ANTHROPIC, AuthContext, ChatRequest, Credential
from tests.fakes.anthropic_api import anthropic_handler
from tests.providers.roundtrip import call, sent_json

KEY = "sk-ant-test-0123456789"
CRED = Credential(id="cred_a", tenant_id="ten_1", provider="anthropic", version=1, api_key=KEY)
ADAPTER = anthropic.ADAPTER


def build(request: ChatRequest) -> dict:
    return sent_json(ADAPTER.build_request(request, CRED, ADAPTER.default_origin).body)


def test_url_and_headers() -> None:
    request = ChatRequest(provider="anthropic", model="claude-sonnet-4-5",
                          messages=[{"role": "user", "content": "Hi"}])
    upstream = ADAPTER.authorize(ADAPTER.build_request(request, CRED, "https://api.anthropic.com"), CRED,
                                 AuthContext())
    assert upstream.url == "https://api.anthropic.com/v1/messages"
    assert upstream.headers == {"content-type": "application/json", "anthropic-version": "2023-06-01",
                                "x-api-key": KEY}
    assert sent_json(upstream.body) == {
        "model": "claude-sonnet-4-5", "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    }


def test_full_translation() -> None:
    request = ChatRequest(provider="anthropic", model="claude-sonnet-4-5", messages=[
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Weather here?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/sky.jpg"}},
        ]},
        {"role": "user", "content": "In Oslo."},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
            {"id": "toolu_2", "type": "function", "function": {"name": "time", "arguments": ""}},
        ]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "4°C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "09:00"}]},
        {"role": "user", "content": "Thanks"},
    ], options={
        "max_completion_tokens": 300, "temperature": 0.3, "stop": "END", "top_k": 40, "user": "u-42",
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [{"type": "function", "function": {"name": "weather", "description": "Get weather",
                                                     "parameters": {"type": "object", "properties": {}}}},
                  {"type": "function", "function": {"name": "time"}}],
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "parallel_tool_calls": False,
    })
    assert build(request) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 300,
        "system": [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Use metric units."}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/sky.jpg"}},
                {"type": "text", "text": "In Oslo."},
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "toolu_2", "name": "time", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4°C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "09:00"}]},
                {"type": "text", "text": "Thanks"},
            ]},
        ],
        "temperature": 0.3,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "top_k": 40,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-42"},
        "tools": [{"name": "weather", "description": "Get weather",
                   "input_schema": {"type": "object", "properties": {}}},
                  {"name": "time", "input_schema": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "tool", "name": "weather", "disable_parallel_tool_use": True},
    }


def test_default_max_tokens_and_pipeline_value() -> None:
    request = ChatRequest(provider="anthropic", model="m", messages=[{"role": "user", "content": "x"}])
    assert anthropic.to_anthropic_body(request, 1234)["max_tokens"] == 1234
    assert build(request)["max_tokens"] == anthropic.DEFAULT_MAX_TOKENS == 4096
    filled = ChatRequest(provider="anthropic", model="m", messages=request.messages, options={"max_tokens": 77})
    assert build(filled)["max_tokens"] == 77


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", {"type": "auto"}), ("required", {"type": "any"}), ("none", {"type": "none"}),
])
def test_tool_choice_strings(choice: str, expected: dict) -> None:
    request = ChatRequest(provider="anthropic", model="m", messages=[{"role": "user", "content": "x"}],
                          options={"tool_choice": choice})
    assert build(request)["tool_choice"] == expected


def test_native_body_is_sent_as_received() -> None:
    native = {
        "model": "claude-x", "max_tokens": 50, "stream": False,
        "system": [{"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Hi"}], "top_k": 3,
    }
    request = ChatRequest(provider="anthropic", model="claude-haiku-4-5", messages=[], options={"top_k": 3},
                          entry_format=FORMAT_ANTHROPIC, native_body=native)
    assert build(request) == {
        "model": "claude-haiku-4-5", "max_tokens": 50,
        "system": [{"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Hi"}], "top_k": 3,
    }
    without_max = ChatRequest(provider="anthropic", model="m", messages=[], entry_format=FORMAT_ANTHROPIC,
                              native_body={"messages": [{"role": "user", "content": "Hi"}]})
    assert build(without_max)["max_tokens"] == 4096


def test_anthropic_beta_header() -> None:
    request = ChatRequest(provider="anthropic", model="m", messages=[{"role": "user", "content": "x"}],
                          options={"anthropic_beta": ["a-2025", "b-2025"]})
    upstream = ADAPTER.build_request(request, CRED, "https://api.anthropic.com")
    assert upstream.headers["anthropic-beta"] == "a-2025,b-2025"
    assert "anthropic_beta" not in sent_json(upstream.body)


@pytest.mark.parametrize("option", ["seed", "presence_penalty", "response_format", "logprobs", "stream"])
def test_unsupported_options(option: str) -> None:
    request = ChatRequest(provider="anthropic", model="m", messages=[{"role": "user", "content": "x"}],
                          options={option: 1})
    with pytest.raises(ApiError) as caught:
        build(request)
    assert (caught.value.code, caught.value.status, caught.value.param) == ("unsupported_provider_option", 400, option)


def test_n_other_than_one_is_unsupported() -> None:
    ok = ChatRequest(provider="anthropic", model="m", messages=[{"role": "user", "content": "x"}], options={"n": 1})
    assert "n" not in build(ok)
    with pytest.raises(ApiError) as caught:
        build(ChatRequest(provider="anthropic", model="m", messages=ok.messages, options={"n": 2}))
    assert caught.value.code == "unsupported_provider_option"


@pytest.mark.parametrize("messages", [
    [{"role": "system", "content": "only system"}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}],
    [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
    [{"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "[1]"}}]}],
    [{"role": "tool", "content": "no id"}],
])
def test_invalid_messages(messages: list) -> None:
    with pytest.raises(ApiError) as caught:
        build(ChatRequest(provider="anthropic", model="m", messages=messages))
    assert caught.value.code == "invalid_messages"


def test_usage_adds_cache_buckets_to_input() -> None:
    parsed = ADAPTER.parse_response({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 21, "cache_creation_input_tokens": 188, "cache_read_input_tokens": 1800,
                  "output_tokens": 393},
    })
    assert parsed.usage.to_metrics() == {"inputTokens": 2009, "cachedInputTokens": 1800,
                                         "cacheWriteInputTokens": 188, "outputTokens": 393, "reasoningTokens": 0,
                                         "totalTokens": 2402}
    assert (parsed.text, parsed.finish_reason, parsed.response_id, parsed.model) == (
        "Hello there", "stop", "msg_1", "claude-sonnet-4-5-20250929")


@pytest.mark.parametrize(("stop_reason", "finish"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
    ("refusal", "content_filter"),
])
def test_stop_reasons(stop_reason: str, finish: str) -> None:
    parsed = anthropic.parse_anthropic_response({"content": [], "stop_reason": stop_reason, "usage": {}})
    assert parsed.finish_reason == finish


def test_tool_use_becomes_openai_tool_call() -> None:
    parsed = anthropic.parse_anthropic_response({
        "content": [{"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {"city": "Oslo"}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 5, "output_tokens": 7},
    })
    assert parsed.tool_calls == [{"id": "toolu_9", "type": "function",
                                  "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]


def test_malformed_body() -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.parse_response({"type": "message"})
    assert caught.value.code == "provider_error"


@pytest.mark.parametrize(("status", "error_type", "code", "http"), [
    (401, "authentication_error", "provider_auth_failed", 424),
    (403, "permission_error", "provider_auth_failed", 424),
    (400, "invalid_request_error", "provider_request_rejected", 400),
    (404, "not_found_error", "provider_request_rejected", 404),
    (413, "request_too_large", "provider_request_rejected", 413),
    (429, "rate_limit_error", "provider_rate_limited", 429),
    (500, "api_error", "provider_error", 502),
    (529, "overloaded_error", "provider_error", 502),
])
def test_errors(status: int, error_type: str, code: str, http: int) -> None:
    body = {"type": "error", "error": {"type": error_type, "message": f"key {KEY} is wrong"}}
    error = ADAPTER.parse_error(status, {"retry-after": "30"}, body)
    assert (error.code, error.status, error.provider_status) == (code, http, status)
    assert KEY not in error.message
    assert error_type in error.message


def test_round_trip_through_fake() -> None:
    fake = anthropic_handler(KEY)
    server = fake.serve()
    try:
        request = ChatRequest(provider="anthropic", model="claude-haiku-4-5", messages=[
            {"role": "system", "content": "A"}, {"role": "system", "content": "B"},
            {"role": "user", "content": "Hi"}, {"role": "user", "content": "again"}])
        parsed = call(ADAPTER, request, CRED, server.origin)
        assert parsed.text == "Hello from the fake."
        assert parsed.usage.to_metrics() == {"inputTokens": 470, "cachedInputTokens": 400,
                                             "cacheWriteInputTokens": 50, "outputTokens": 12,
                                             "reasoningTokens": 0, "totalTokens": 482}
        assert fake.last.headers["x-api-key"] == KEY
        assert fake.last.headers["anthropic-version"] == "2023-06-01"
        assert fake.last.json()["system"] == [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]
        fake.fail_next(529)
        with pytest.raises(ApiError) as caught:
            call(ADAPTER, request, CRED, server.origin)
        assert (caught.value.code, caught.value.provider_status) == ("provider_error", 529)
        with pytest.raises(ApiError) as caught:
            call(ADAPTER, request, Credential(id="c", tenant_id="t", provider="anthropic", version=1,
                                              api_key="sk-ant-wrong"), server.origin)
        assert caught.value.code == "provider_auth_failed"
    finally:
        server.stop()


def test_tool_without_name_is_refused() -> None:
    request = ChatRequest(provider="anthropic", model="m", messages=[{"role": "user", "content": "x"}],
                          options={"tools": [{"type": "function", "function": {"description": "no name"}}]})
    with pytest.raises(ApiError) as caught:
        build(request)
    assert (caught.value.code, caught.value.param) == ("invalid_provider_options", "tools")
