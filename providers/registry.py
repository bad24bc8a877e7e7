"""The explicit list of provider adapters: the one place that knows provider ids.

Adding a provider is one new module exposing ``ADAPTER`` (or several, for a family) and one line here.
"""

from __future__ import annotations

from app.errors import ApiError
from providers import (
    anthropic,
    aws_bedrock,
    azure_openai,
    gemini,
    google_vertex,
    openai_compatible,
    openai_family,
)
from providers.base import ProviderAdapter

_ADAPTERS: tuple[ProviderAdapter, ...] = (
    openai_family.OPENAI,
    anthropic.ADAPTER,
    gemini.ADAPTER,
    openai_family.MISTRAL,
    openai_family.DEEPSEEK,
    openai_family.OPENROUTER,
    openai_family.TOGETHER,
    openai_family.PERPLEXITY,
    openai_family.XAI,
    azure_openai.ADAPTER,
    openai_compatible.ADAPTER,
    aws_bedrock.ADAPTER,
    google_vertex.ADAPTER,
)

ADAPTERS: dict[str, ProviderAdapter] = {adapter.id: adapter for adapter in _ADAPTERS}
PROVIDER_IDS: tuple[str, ...] = tuple(ADAPTERS)


def get_adapter(provider: object) -> ProviderAdapter:
    """The adapter for a provider id, or 422 ``provider_not_supported``."""
    adapter = ADAPTERS.get(provider) if isinstance(provider, str) else None
    if adapter is None:
        raise ApiError("provider_not_supported",
                       "provider must be one of: " + ", ".join(PROVIDER_IDS))
    return adapter
