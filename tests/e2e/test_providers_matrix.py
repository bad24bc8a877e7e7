"""Every HTTP-key provider through all three entry points: the right fake, the tenant's key, exact usage."""

from __future__ import annotations

import pytest

from tests.conftest import PROVIDER_KEYS, assert_no_canary

OPENAI_USAGE = {"inputTokens": 120, "cachedInputTokens": 100, "cacheWriteInputTokens": 0, "outputTokens": 30,
                "reasoningTokens": 10, "totalTokens": 150}
ANTHROPIC_USAGE = {"inputTokens": 470, "cachedInputTokens": 400, "cacheWriteInputTokens": 50, "outputTokens": 12,
                   "reasoningTokens": 0, "totalTokens": 482}
# xAI and Perplexity report completion_tokens WITHOUT the reasoning tokens (billed as output too), so the
# fake's 30 completion + 10 reasoning normalize to 40 output tokens.
SEPARATE_REASONING_USAGE = {**OPENAI_USAGE, "outputTokens": 40, "totalTokens": 160}
GEMINI_USAGE = {"inputTokens": 300, "cachedInputTokens": 256, "cacheWriteInputTokens": 0, "outputTokens": 65,
                "reasoningTokens": 25, "totalTokens": 365}

PROVIDERS = {
    # provider: (model, usage, auth header name, expected auth value)
    "openai": ("gpt-4.1-mini", OPENAI_USAGE, "authorization", "Bearer " + PROVIDER_KEYS["openai"]),
    "mistral": ("mistral-large-latest", OPENAI_USAGE, "authorization", "Bearer " + PROVIDER_KEYS["mistral"]),
    "deepseek": ("deepseek-chat", OPENAI_USAGE, "authorization", "Bearer " + PROVIDER_KEYS["deepseek"]),
    "openrouter": ("openai/gpt-4o", OPENAI_USAGE, "authorization", "Bearer " + PROVIDER_KEYS["openrouter"]),
    "together": ("meta-llama/Llama-3.3-70B-Instruct-Turbo", OPENAI_USAGE, "authorization",
                 "Bearer " + PROVIDER_KEYS["together"]),
    "perplexity": ("sonar", SEPARATE_REASONING_USAGE, "authorization", "Bearer " + PROVIDER_KEYS["perplexity"]),
    "xai": ("grok-3-mini", SEPARATE_REASONING_USAGE, "authorization", "Bearer " + PROVIDER_KEYS["xai"]),
    "azure_openai": ("gpt-4o", OPENAI_USAGE, "api-key", PROVIDER_KEYS["azure_openai"]),
    "openai_compatible": ("llama-3.1-8b", OPENAI_USAGE, "authorization",
                          "Bearer " + PROVIDER_KEYS["openai_compatible"]),
    "anthropic": ("claude-sonnet-4-5", ANTHROPIC_USAGE, "x-api-key", PROVIDER_KEYS["anthropic"]),
    "gemini": ("gemini-2.5-flash", GEMINI_USAGE, "x-goog-api-key", PROVIDER_KEYS["gemini"]),
}
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Status?"}]


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@pytest.mark.parametrize("entry", ["chat", "openai", "anthropic"])
def test_provider_through_entry_point(gateway, upstreams, provider, entry):
    model, usage, header, value = PROVIDERS[provider]
    key = gateway.tenant()
    gateway.add_credential(key, provider)
    auth = gateway.auth(key, **{"x-killtoken-provider": provider})
    if entry == "chat":
        response = gateway.chat(key, provider=provider, model=model, messages=MESSAGES,
                                providerOptions={"max_tokens": 50})
    elif entry == "openai":
        response = gateway.client.post("/v1/openai/chat/completions", headers=auth,
                                       json={"model": model, "messages": MESSAGES, "max_tokens": 50})
    else:
        response = gateway.client.post("/v1/anthropic/messages", headers=auth,
                                       json={"model": model, "max_tokens": 50, "system": "Be brief.",
                                             "messages": [{"role": "user", "content": "Status?"}]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    fake = upstreams.fakes[provider]
    assert len(fake.requests) == 1
    sent = fake.last
    assert sent.headers[header] == value
    assert "key=" not in sent.query
    metrics = body["metrics"] if entry == "chat" else body["killtoken"]["metrics"]
    assert metrics["provider"] == provider
    assert metrics["model"] == model
    assert metrics["usage"] == usage
    assert (metrics["costUsd"] is None) == ("costReason" in metrics)
    if entry == "chat":
        assert body["response"] == _provider_body(fake, sent)
    elif entry == "openai":
        assert body["object"] == "chat.completion"
        assert body["usage"]["prompt_tokens"] == usage["inputTokens"]
        if provider in ("anthropic", "gemini"):  # translated: completion_tokens is the normalized output
            assert body["usage"]["completion_tokens"] == usage["outputTokens"]
        else:  # the provider's own chat.completion, unchanged
            assert {k: v for k, v in body.items() if k != "killtoken"} == _provider_body(fake, sent)
    else:
        assert body["type"] == "message"
        assert body["usage"]["output_tokens"] == usage["outputTokens"]
        assert body["usage"]["input_tokens"] + body["usage"].get("cache_read_input_tokens", 0) + \
            body["usage"].get("cache_creation_input_tokens", 0) == usage["inputTokens"]
    assert_no_canary(sent.headers, sent.body, body)


def _provider_body(fake, sent):
    """What the fake answered for ``sent`` (its success bodies are deterministic)."""
    return fake.success(sent)


def test_azure_deployment_url_and_api_version(gateway, upstreams):
    key = gateway.tenant()
    gateway.add_credential(key, "azure_openai")
    assert gateway.chat(key, provider="azure_openai", model="gpt-4o", messages=MESSAGES).status_code == 200
    sent = upstreams.fakes["azure_openai"].last
    assert sent.path == "/openai/deployments/prod-gpt4o/chat/completions"
    assert sent.query == "api-version=2024-10-21"
    assert "authorization" not in sent.headers


def test_anthropic_gets_every_system_message_hoisted_in_order(gateway, upstreams):
    key = gateway.tenant()
    gateway.add_credential(key, "anthropic")
    messages = [{"role": "system", "content": "One."}, {"role": "developer", "content": "Two."},
                {"role": "user", "content": "Hi"}]
    assert gateway.chat(key, provider="anthropic", model="claude-sonnet-4-5", messages=messages).status_code == 200
    sent = upstreams.fakes["anthropic"].last.json()
    assert sent["system"] == [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}]
    assert sent["max_tokens"] == 4096
    assert [m["role"] for m in sent["messages"]] == ["user"]


def test_unsupported_provider_option_is_refused_before_any_call(gateway, upstreams):
    key = gateway.tenant()
    gateway.add_credential(key, "anthropic")
    response = gateway.chat(key, provider="anthropic", model="claude-sonnet-4-5", messages=MESSAGES,
                            providerOptions={"logit_bias": {"50256": -100}})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "unsupported_provider_option"
    assert upstreams.fakes["anthropic"].requests == []
