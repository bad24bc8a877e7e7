"""Azure OpenAI (both URL styles) and openai_compatible: config validation, URLs, origin override, round trips."""

from __future__ import annotations

import pytest

from app.errors import ApiError
from providers import azure_openai, openai_compatible
from providers.base import AuthContext, ChatRequest, Credential
from tests.fakes.azure_api import azure_handler
from tests.fakes.openai_api import openai_handler
from tests.providers.roundtrip import call, sent_json

KEY = "azure-test-key-0123456789abcdef"
AZURE = azure_openai.ADAPTER
COMPAT = openai_compatible.ADAPTER


def azure_credential(**config: str) -> Credential:
    base = {"endpoint": "https://contoso.openai.azure.com/", "deployment": "gpt4o-prod"}
    return Credential(id="cred_az", tenant_id="ten_1", provider="azure_openai", version=1, api_key=KEY,
                      config={**base, **config})


def compat_credential(base_url: str = "https://llm.example.com/v1") -> Credential:
    return Credential(id="cred_oc", tenant_id="ten_1", provider="openai_compatible", version=1, api_key=KEY,
                      config={"baseUrl": base_url, "defaultModel": "llama-3.1-8b"})


def chat(provider: str, model: str = "gpt-4o", **options: object) -> ChatRequest:
    return ChatRequest(provider=provider, model=model, messages=[{"role": "user", "content": "Hi"}],
                       options=dict(options))


def test_azure_deployment_style() -> None:
    credential = azure_credential(apiVersion="2024-10-21")
    upstream = AZURE.authorize(AZURE.build_request(chat("azure_openai", temperature=0), credential, ""),
                               credential, AuthContext())
    assert upstream.url == ("https://contoso.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions"
                            "?api-version=2024-10-21")
    assert upstream.headers == {"content-type": "application/json", "api-key": KEY}
    assert sent_json(upstream.body) == {"messages": [{"role": "user", "content": "Hi"}], "temperature": 0}


@pytest.mark.parametrize("version", [None, "v1"])
def test_azure_v1_style(version: str | None) -> None:
    credential = azure_credential(**({"apiVersion": version} if version else {}))
    upstream = AZURE.build_request(chat("azure_openai"), credential, "")
    assert upstream.url == "https://contoso.openai.azure.com/openai/v1/chat/completions"
    assert sent_json(upstream.body) == {"model": "gpt4o-prod", "messages": [{"role": "user", "content": "Hi"}]}


def test_azure_origin_override_replaces_only_scheme_host_port() -> None:
    credential = Credential(id="c", tenant_id="t", provider="azure_openai", version=1, api_key=KEY, config={
        "endpoint": "https://contoso.openai.azure.com/proxy", "deployment": "d1", "apiVersion": "2025-04-01-preview"})
    upstream = AZURE.build_request(chat("azure_openai"), credential, "http://127.0.0.1:9001")
    assert upstream.url == ("http://127.0.0.1:9001/proxy/openai/deployments/d1/chat/completions"
                            "?api-version=2025-04-01-preview")


def test_azure_config_validation_and_endpoints() -> None:
    assert AZURE.validate_credential(KEY, None, {"endpoint": "https://r.openai.azure.com/", "deployment": "d"}) == (
        KEY, None, {"endpoint": "https://r.openai.azure.com", "deployment": "d", "apiVersion": "v1"})
    assert AZURE.tenant_endpoints({"endpoint": "https://r.openai.azure.com/"}) == ["https://r.openai.azure.com"]
    for config, param in [
        ({"deployment": "d"}, "config.endpoint"),
        ({"endpoint": "https://user:pw@r.openai.azure.com", "deployment": "d"}, "config.endpoint"),
        ({"endpoint": "ftp://r", "deployment": "d"}, "config.endpoint"),
        ({"endpoint": "https://r.openai.azure.com?x=1", "deployment": "d"}, "config.endpoint"),
        ({"endpoint": "https://r.openai.azure.com"}, "config.deployment"),
        ({"endpoint": "https://r.openai.azure.com", "deployment": "a/b"}, "config.deployment"),
        ({"endpoint": "https://r.openai.azure.com", "deployment": "d", "apiVersion": "latest"}, "config.apiVersion"),
        ({"endpoint": "https://r.openai.azure.com", "deployment": "d", "region": "x"}, "config.region"),
    ]:
        with pytest.raises(ApiError) as caught:
            AZURE.validate_credential(KEY, None, config)
        assert (caught.value.code, caught.value.param) == ("invalid_provider_config", param)
        assert "user:pw" not in caught.value.message


def test_azure_accepts_data_sources_and_refuses_unknown() -> None:
    body = sent_json(AZURE.build_request(chat("azure_openai", data_sources=[{"type": "azure_search"}]),
                                         azure_credential(), "").body)
    assert body["data_sources"] == [{"type": "azure_search"}]
    with pytest.raises(ApiError) as caught:
        AZURE.build_request(chat("azure_openai", top_k=3), azure_credential(), "")
    assert caught.value.code == "unsupported_provider_option"


def test_azure_error_and_test_request() -> None:
    error = AZURE.parse_error(401, {}, {"error": {"code": "401", "message": "Access denied"}})
    assert error.code == "provider_auth_failed"
    error = AZURE.parse_error(404, {}, {"error": {"code": "DeploymentNotFound", "message": "x"}})
    assert (error.code, error.status, error.message) == (
        "provider_request_rejected", 404, "azure_openai rejected the request: HTTP 404 (DeploymentNotFound)")
    assert AZURE.test_request(azure_credential()).model == "gpt4o-prod"


@pytest.mark.parametrize("version", ["2024-10-21", None])
def test_azure_round_trip(version: str | None) -> None:
    fake = azure_handler(KEY, "gpt4o-prod", api_version=version)
    server = fake.serve()
    try:
        credential = azure_credential(**({"apiVersion": version} if version else {}))
        parsed = call(AZURE, chat("azure_openai"), credential, server.origin)
        assert (parsed.text, parsed.usage.input_tokens, parsed.usage.reasoning_tokens) == (
            "Hello from the fake.", 120, 10)
        assert fake.last.headers["api-key"] == KEY
        assert "authorization" not in fake.last.headers
        wrong = Credential(id="c", tenant_id="t", provider="azure_openai", version=1, api_key="nope",
                           config=credential.config)
        with pytest.raises(ApiError) as caught:
            call(AZURE, chat("azure_openai"), wrong, server.origin)
        assert caught.value.code == "provider_auth_failed"
        other = azure_credential(deployment="other", **({"apiVersion": version} if version else {}))
        with pytest.raises(ApiError) as caught:
            call(AZURE, chat("azure_openai"), other, server.origin)
        assert (caught.value.code, caught.value.status) == ("provider_request_rejected", 404)
    finally:
        server.stop()


def test_compatible_url_model_and_extra_body() -> None:
    credential = compat_credential("https://llm.example.com/v1/")
    upstream = COMPAT.authorize(COMPAT.build_request(chat("openai_compatible", model="", top_k=5,
                                                          extra_body={"guided_json": {"type": "object"}}),
                                                     credential, ""), credential, AuthContext())
    assert upstream.url == "https://llm.example.com/v1/chat/completions"
    assert upstream.headers == {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
    assert sent_json(upstream.body) == {"model": "llama-3.1-8b", "messages": [{"role": "user", "content": "Hi"}],
                                        "top_k": 5, "guided_json": {"type": "object"}}
    named = COMPAT.build_request(chat("openai_compatible", model="qwen2.5"), credential, "")
    assert sent_json(named.body)["model"] == "qwen2.5"
    with pytest.raises(ApiError) as caught:
        COMPAT.build_request(chat("openai_compatible", extra_body={"model": "x"}), credential, "")
    assert caught.value.code == "invalid_provider_options"
    with pytest.raises(ApiError) as caught:
        COMPAT.build_request(chat("openai_compatible", safetySettings=[]), credential, "")
    assert caught.value.code == "unsupported_provider_option"


def test_compatible_config_and_override() -> None:
    assert COMPAT.validate_credential(KEY, None, {"baseUrl": "https://h/v1/", "defaultModel": " m "}) == (
        KEY, None, {"baseUrl": "https://h/v1", "defaultModel": "m"})
    assert COMPAT.tenant_endpoints({"baseUrl": "https://h/v1"}) == ["https://h/v1"]
    with pytest.raises(ApiError) as caught:
        COMPAT.validate_credential(KEY, None, {"baseUrl": "https://h/v1"})
    assert caught.value.param == "config.defaultModel"
    upstream = COMPAT.build_request(chat("openai_compatible"), compat_credential(), "http://127.0.0.1:7000")
    assert upstream.url == "http://127.0.0.1:7000/v1/chat/completions"
    test = COMPAT.test_request(compat_credential())
    assert (test.model, test.options) == ("llama-3.1-8b", {"max_tokens": 1})


def test_compatible_round_trip() -> None:
    fake = openai_handler(KEY, path="/v1/chat/completions", usage={"prompt_tokens": 7, "completion_tokens": 3,
                                                                   "total_tokens": 10})
    server = fake.serve()
    try:
        credential = compat_credential(server.origin + "/v1")
        parsed = call(COMPAT, chat("openai_compatible", model="local"), credential, "")
        assert parsed.usage.to_metrics() == {"inputTokens": 7, "cachedInputTokens": 0, "cacheWriteInputTokens": 0,
                                             "outputTokens": 3, "reasoningTokens": 0, "totalTokens": 10}
        fake.malformed_next()
        with pytest.raises(ApiError) as caught:
            call(COMPAT, chat("openai_compatible", model="local"), credential, "")
        assert (caught.value.code, caught.value.status) == ("provider_error", 502)
    finally:
        server.stop()
