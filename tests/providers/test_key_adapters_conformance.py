"""Every key-header adapter of this issue satisfies the interface the pipeline relies on."""

from __future__ import annotations

import pytest

from app.errors import ApiError
from providers.base import AuthContext, Credential
from providers.registry import get_adapter

KEY = "sk-conformance-0123456789"
CONFIGS = {
    "azure_openai": {"endpoint": "https://r.openai.azure.com", "deployment": "d", "apiVersion": "2024-10-21"},
    "openai_compatible": {"baseUrl": "https://llm.example.com/v1", "defaultModel": "m"},
}
IDS = ["openai", "anthropic", "gemini", "mistral", "deepseek", "openrouter", "together", "perplexity", "xai",
       "azure_openai", "openai_compatible"]


@pytest.mark.parametrize("provider", IDS)
def test_adapter_contract(provider: str) -> None:
    adapter = get_adapter(provider)
    assert adapter.id == provider
    assert adapter.uses_api_key is True
    config = CONFIGS.get(provider, {})
    api_key, secrets, normalized = adapter.validate_credential(KEY, None, config)
    assert (api_key, secrets) == (KEY, None)
    credential = Credential(id="c", tenant_id="t", provider=provider, version=1, api_key=KEY, config=normalized)
    assert adapter.tenant_endpoints(normalized) == (list(config.values())[:1] if config else [])
    test = adapter.test_request(credential)
    assert test.provider == provider and test.model
    upstream = adapter.build_request(test, credential, adapter.default_origin)
    assert KEY not in upstream.url and all(KEY not in v for v in upstream.headers.values())
    signed = adapter.authorize(upstream, credential, AuthContext())
    assert [v for v in signed.headers.values() if KEY in v]  # the key travels in exactly the auth header
    assert KEY not in signed.url
    assert upstream.url.startswith(adapter.default_origin or "https://")


@pytest.mark.parametrize("provider", IDS)
def test_empty_key_is_refused_alike(provider: str) -> None:
    with pytest.raises(ApiError) as caught:
        get_adapter(provider).validate_credential("  ", None, CONFIGS.get(provider, {}))
    assert (caught.value.code, caught.value.status) == ("invalid_api_key", 400)
