"""The OpenAI chat.completions family: exact upstream requests, usage normalization, errors, a real round trip."""

from __future__ import annotations

import pytest

from app.errors import ApiError
from providers import openai_family
from providers.base import AuthContext, ChatRequest, Credential
from tests.fakes.openai_api import openai_handler
from tests.providers.roundtrip import call, sent_json

KEY = "sk-test-family-0123456789"


def credential(provider: str) -> Credential:
    return Credential(id="cred_1", tenant_id="ten_1", provider=provider, version=1, api_key=KEY)


def chat(provider: str, /, **options: object) -> ChatRequest:
    return ChatRequest(provider=provider, model="model-x", options=dict(options), messages=[
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ])


@pytest.mark.parametrize(("member", "url"), [
    (openai_family.OPENAI, "https://api.openai.com/v1/chat/completions"),
    (openai_family.MISTRAL, "https://api.mistral.ai/v1/chat/completions"),
    (openai_family.DEEPSEEK, "https://api.deepseek.com/chat/completions"),
    (openai_family.OPENROUTER, "https://openrouter.ai/api/v1/chat/completions"),
    (openai_family.TOGETHER, "https://api.together.xyz/v1/chat/completions"),
    (openai_family.PERPLEXITY, "https://api.perplexity.ai/chat/completions"),
    (openai_family.XAI, "https://api.x.ai/v1/chat/completions"),
])
def test_url_and_bearer_header_no_key_in_url(member: openai_family.FamilyMember, url: str) -> None:
    upstream = member.build_request(chat(member.id), credential(member.id), member.default_origin)
    assert upstream.url == url
    assert upstream.headers == {"content-type": "application/json"}  # no auth before authorize
    signed = member.authorize(upstream, credential(member.id), AuthContext())
    assert signed.method == "POST"
    assert signed.headers == {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
    assert KEY not in signed.url
    assert KEY not in repr(member)


def test_openai_body_forwards_messages_and_options_unchanged() -> None:
    request = chat("openai", temperature=0.2, max_completion_tokens=50, seed=7, stop=["END"],
                   response_format={"type": "json_object"}, reasoning_effort="low")
    body = sent_json(openai_family.OPENAI.build_request(request, credential("openai"),
                                                        "https://api.openai.com").body)
    assert body == {
        "model": "model-x",
        "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "temperature": 0.2, "max_completion_tokens": 50, "seed": 7, "stop": ["END"],
        "response_format": {"type": "json_object"}, "reasoning_effort": "low",
    }


def test_mistral_renames_seed_and_max_completion_tokens_and_developer_role() -> None:
    request = chat("mistral", seed=3, max_completion_tokens=40, safe_prompt=True)
    body = sent_json(openai_family.MISTRAL.build_request(request, credential("mistral"), "https://x").body)
    assert body == {
        "model": "model-x",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "random_seed": 3, "max_tokens": 40, "safe_prompt": True,
    }


@pytest.mark.parametrize(("member", "option"), [
    (openai_family.DEEPSEEK, "seed"),
    (openai_family.PERPLEXITY, "seed"),
    (openai_family.MISTRAL, "logit_bias"),
    (openai_family.OPENAI, "top_k"),
    (openai_family.OPENAI, "stream"),
    (openai_family.XAI, "safetySettings"),
    (openai_family.TOGETHER, "top_logprobs"),
])
def test_unsupported_option_is_refused_not_dropped(member: openai_family.FamilyMember, option: str) -> None:
    with pytest.raises(ApiError) as caught:
        member.build_request(chat(member.id, **{option: 1}), credential(member.id), member.default_origin)
    assert caught.value.code == "unsupported_provider_option"
    assert caught.value.status == 400
    assert caught.value.param == option
    assert caught.value.message == f"providerOptions.{option} is not supported by {member.id}"


def test_native_options_are_forwarded() -> None:
    request = chat("perplexity", search_domain_filter=["example.com"], search_recency_filter="week")
    body = sent_json(openai_family.PERPLEXITY.build_request(request, credential("perplexity"), "https://p").body)
    assert body["search_domain_filter"] == ["example.com"]
    assert body["search_recency_filter"] == "week"
    request = chat("openrouter", provider={"order": ["anthropic"]}, top_k=5)
    body = sent_json(openai_family.OPENROUTER.build_request(request, credential("openrouter"), "https://o").body)
    assert body["provider"] == {"order": ["anthropic"]}
    assert body["top_k"] == 5


def test_unknown_content_part_type_is_refused() -> None:
    request = ChatRequest(provider="openai", model="m", messages=[
        {"role": "user", "content": [{"type": "document", "source": {}}]}])
    with pytest.raises(ApiError) as caught:
        openai_family.OPENAI.build_request(request, credential("openai"), "https://api.openai.com")
    assert caught.value.code == "invalid_messages"


def test_openai_usage_includes_cached_in_prompt_and_reasoning_in_completion() -> None:
    parsed = openai_family.OPENAI.parse_response({
        "id": "chatcmpl-1", "model": "gpt-4o-2024-08-06", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
                  "prompt_tokens_details": {"cached_tokens": 1024},
                  "completion_tokens_details": {"reasoning_tokens": 200}},
    })
    assert parsed.usage.to_metrics() == {"inputTokens": 1200, "cachedInputTokens": 1024, "cacheWriteInputTokens": 0,
                                         "outputTokens": 300, "reasoningTokens": 200, "totalTokens": 1500}
    assert (parsed.text, parsed.finish_reason, parsed.response_id, parsed.model) == (
        "Hello", "stop", "chatcmpl-1", "gpt-4o-2024-08-06")


def test_deepseek_cache_hit_tokens() -> None:
    parsed = openai_family.DEEPSEEK.parse_response({
        "choices": [{"message": {"content": "x"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 500, "completion_tokens": 90, "total_tokens": 590,
                  "prompt_cache_hit_tokens": 384, "prompt_cache_miss_tokens": 116,
                  "completion_tokens_details": {"reasoning_tokens": 60}},
    })
    assert parsed.usage.to_metrics() == {"inputTokens": 500, "cachedInputTokens": 384, "cacheWriteInputTokens": 0,
                                         "outputTokens": 90, "reasoningTokens": 60, "totalTokens": 590}


def test_xai_reasoning_is_outside_completion_tokens() -> None:
    parsed = openai_family.XAI.parse_response({
        "choices": [{"message": {"content": "I am Grok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 663, "completion_tokens": 50, "total_tokens": 837,
                  "prompt_tokens_details": {"cached_tokens": 654, "text_tokens": 663},
                  "completion_tokens_details": {"reasoning_tokens": 124}},
    })
    assert parsed.usage.to_metrics() == {"inputTokens": 663, "cachedInputTokens": 654, "cacheWriteInputTokens": 0,
                                         "outputTokens": 174, "reasoningTokens": 124, "totalTokens": 837}


def test_perplexity_citations_and_reasoning() -> None:
    parsed = openai_family.PERPLEXITY.parse_response({
        "choices": [{"message": {"content": "Answer [1]"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 800, "total_tokens": 820, "citation_tokens": 4000,
                  "reasoning_tokens": 3000, "num_search_queries": 5},
    })
    assert parsed.usage.to_metrics() == {"inputTokens": 4020, "cachedInputTokens": 0, "cacheWriteInputTokens": 0,
                                         "outputTokens": 3800, "reasoningTokens": 3000, "totalTokens": 7820}


def test_openrouter_cache_writes_and_mistral_num_cached() -> None:
    parsed = openai_family.OPENROUTER.parse_response({
        "choices": [{"message": {"content": "x"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 194, "completion_tokens": 2, "total_tokens": 196,
                  "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 100},
                  "completion_tokens_details": {"reasoning_tokens": 0}, "cost": 0.95},
    })
    assert (parsed.usage.input_tokens, parsed.usage.cache_write_input_tokens, parsed.usage.output_tokens) == (
        194, 100, 2)
    parsed = openai_family.MISTRAL.parse_response({
        "choices": [{"message": {"content": [{"type": "thinking", "thinking": []},
                                             {"type": "text", "text": "Bonjour"}]}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 70, "completion_tokens": 5, "total_tokens": 75, "num_cached_tokens": 64},
    })
    assert parsed.text == "Bonjour"
    assert (parsed.usage.input_tokens, parsed.usage.cached_input_tokens) == (70, 64)


def test_tool_calls_are_parsed() -> None:
    call_ = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"c\":\"Oslo\"}"}}
    parsed = openai_family.TOGETHER.parse_response({
        "choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [call_]},
                     "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    })
    assert parsed.tool_calls == [call_]
    assert parsed.finish_reason == "tool_calls"
    assert parsed.text == ""


def test_malformed_body_is_provider_error() -> None:
    with pytest.raises(ApiError) as caught:
        openai_family.OPENAI.parse_response({"object": "list"})
    assert caught.value.code == "provider_error"
    assert caught.value.status == 502


@pytest.mark.parametrize(("status", "body", "code", "http"), [
    (401, {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error",
                     "code": "invalid_api_key"}}, "provider_auth_failed", 424),
    (429, {"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}},
     "provider_rate_limited", 429),
    (400, {"error": {"message": "bad", "type": "invalid_request_error", "code": "context_length_exceeded"}},
     "provider_request_rejected", 400),
    (404, {"error": {"message": "no model", "type": "invalid_request_error", "code": "model_not_found"}},
     "provider_request_rejected", 404),
    (500, {"error": {"message": "boom", "type": "server_error", "code": None}}, "provider_error", 502),
    (503, "<html>down</html>", "provider_error", 502),
])
def test_error_mapping(status: int, body: object, code: str, http: int) -> None:
    error = openai_family.OPENAI.parse_error(status, {"Retry-After": "12"}, body)
    assert (error.code, error.status, error.provider_status) == (code, http, status)
    assert KEY not in error.message
    assert "Incorrect" not in error.message
    if status == 429:
        assert error.headers == {"retry-after": "12"}
        assert error.message == "openai rate limited the request: HTTP 429 (insufficient_quota)"


def test_error_type_that_could_echo_a_key_is_left_out() -> None:
    error = openai_family.OPENROUTER.parse_error(400, {}, {"error": {"code": "sk-or-v1-SECRETvalue", "type": KEY}})
    assert error.message == "openrouter rejected the request: HTTP 400"


def test_credential_validation() -> None:
    assert openai_family.XAI.validate_credential("  xai-abc  ", None, {}) == ("xai-abc", None, {})
    for api_key, secrets, config, code in [
        ("", None, {}, "invalid_api_key"),
        (None, None, {}, "invalid_api_key"),
        ("a b", None, {}, "invalid_api_key"),
        ("k", {"accessKeyId": "x"}, {}, "invalid_provider_secrets"),
        ("k", None, {"baseUrl": "https://x"}, "invalid_provider_config"),
    ]:
        with pytest.raises(ApiError) as caught:
            openai_family.XAI.validate_credential(api_key, secrets, config)
        assert caught.value.code == code
        assert caught.value.status == 400


def test_test_requests_are_minimal() -> None:
    request = openai_family.OPENAI.test_request(credential("openai"))
    assert (request.model, request.messages, request.options) == (
        "gpt-4o-mini", [{"role": "user", "content": "ping"}], {"max_completion_tokens": 1})
    for member in openai_family.MEMBERS:
        test = member.test_request(credential(member.id))
        member.build_request(test, credential(member.id), member.default_origin)  # its own options are accepted


@pytest.mark.parametrize("member", openai_family.MEMBERS, ids=lambda m: m.id)
def test_round_trip_through_a_fake(member: openai_family.FamilyMember) -> None:
    fake = openai_handler(KEY, path=member.path, allowed_fields=set(member.dialect.options))
    server = fake.serve()
    try:
        request = ChatRequest(provider=member.id, model="model-x", messages=[{"role": "user", "content": "Hi"}],
                              options={"temperature": 0.5})
        parsed = call(member, request, credential(member.id), server.origin)
        assert parsed.text == "Hello from the fake."
        assert parsed.usage.input_tokens == 120
        assert parsed.usage.cached_input_tokens == 100
        assert fake.last.headers["authorization"] == f"Bearer {KEY}"
        assert fake.last.json() == {"model": "model-x", "messages": [{"role": "user", "content": "Hi"}],
                                    "temperature": 0.5}
        fake.rate_limit_next("9")
        with pytest.raises(ApiError) as caught:
            call(member, request, credential(member.id), server.origin)
        assert (caught.value.code, caught.value.headers) == ("provider_rate_limited", {"retry-after": "9"})
        wrong = Credential(id="c", tenant_id="t", provider=member.id, version=1, api_key="sk-wrong")
        with pytest.raises(ApiError) as caught:
            call(member, request, wrong, server.origin)
        assert caught.value.code == "provider_auth_failed"
    finally:
        server.stop()


def test_perplexity_merges_consecutive_turns() -> None:
    request = ChatRequest(provider="perplexity", model="sonar", messages=[
        {"role": "system", "content": "S"},
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "three"}]},
        {"role": "user", "content": "four"},
    ])
    body = sent_json(openai_family.PERPLEXITY.build_request(request, credential("perplexity"), "https://p").body)
    assert body["messages"] == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "one\n\ntwo"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}]},
    ]
    other = sent_json(openai_family.OPENAI.build_request(
        ChatRequest(provider="openai", model="m", messages=request.messages), credential("openai"), "https://o").body)
    assert other["messages"] == request.messages


@pytest.mark.parametrize("member", [m for m in openai_family.MEMBERS if m is not openai_family.OPENAI],
                         ids=lambda m: m.id)
def test_developer_role_is_sent_as_system_outside_openai(member: openai_family.FamilyMember) -> None:
    body = sent_json(member.build_request(chat(member.id), credential(member.id), "https://x").body)
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
