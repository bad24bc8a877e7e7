"""The provider adapter interface: the only shape the gateway pipeline knows a provider by.

An adapter translates and never does I/O: it builds the upstream request from the canonical chat request and
the tenant's decrypted credential, authorizes it (headers, SigV4 over the exact body bytes, a bearer token
handed in by a ``TokenSource``), parses a 2xx body into a normalized answer and usage, and maps an error by
HTTP status and the provider's typed error field. ``providers/transport.py`` is the only upstream I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.errors import ApiError

# Wire formats an entry point or a provider speaks. Wrappers skip translation when they match.
FORMAT_KILLTOKEN = "killtoken"   # POST /v1/chat (canonical OpenAI-style messages)
FORMAT_OPENAI = "openai"         # chat.completions
FORMAT_ANTHROPIC = "anthropic"   # Messages API
FORMAT_GEMINI = "gemini"         # generateContent
FORMAT_BEDROCK_CONVERSE = "bedrock_converse"


@dataclass(frozen=True)
class ChatRequest:
    """The canonical request every adapter translates from.

    ``messages`` are OpenAI chat format (roles system/developer/user/assistant/tool; content a string or a list
    of ``{"type": "text"|"image_url", ...}`` parts; assistant ``tool_calls``; tool ``tool_call_id``).
    ``options`` holds generation parameters and provider options. Common ones use OpenAI names
    (``max_tokens``, ``max_completion_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``, ``tools``,
    ``tool_choice``, ``response_format``, ``n``, ``presence_penalty``, ``frequency_penalty``, ``user``...);
    provider-native ones keep the provider's own name (``top_k``, ``thinking``, ``safetySettings``...).
    An adapter forwards every option it supports and raises ``unsupported_provider_option`` for the rest.
    ``entry_format`` says which entry point the request came through; ``native_body`` is the wrapper's body
    as received when the entry point is the Anthropic wrapper, so Anthropic-speaking upstreams keep
    Anthropic-only features (system blocks, ``cache_control``) exactly.
    """

    provider: str
    model: str
    messages: list[dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)
    entry_format: str = FORMAT_KILLTOKEN
    native_body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Credential:
    """A tenant's decrypted credential, alive only for one request; never logged, never stored like this."""

    id: str
    tenant_id: str
    provider: str
    version: int
    api_key: str | None = None
    secrets: dict[str, str] | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def secret_values(self) -> list[str]:
        """Every secret string, for redaction scans."""
        values = [self.api_key] if self.api_key else []
        values.extend(v for v in (self.secrets or {}).values() if isinstance(v, str) and v)
        return values

    def __repr__(self) -> str:  # never print secrets by accident
        return f"Credential(id={self.id!r}, provider={self.provider!r}, version={self.version})"


@dataclass
class UpstreamRequest:
    """Exactly what goes on the wire. ``url`` never carries a secret (keys travel in headers)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    # The format of the 2xx answer when it is not the adapter's ``wire_format`` (Claude on Vertex or through
    # Bedrock InvokeModel answers a Messages body); the wrappers use it to skip translation.
    response_format: str | None = None

    @staticmethod
    def json_body(payload: dict[str, Any]) -> bytes:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Usage:
    """Normalized usage (DESIGN.md §5).

    ``input_tokens``: every prompt token, cached and cache-written included. ``cached_input_tokens``: provider
    prompt-cache reads. ``cache_write_input_tokens``: cache writes (Anthropic, Bedrock). ``output_tokens``:
    every generated token, reasoning included. ``reasoning_tokens``: the reasoning part of the output.
    """

    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_metrics(self) -> dict[str, int]:
        return {
            "inputTokens": self.input_tokens,
            "cachedInputTokens": self.cached_input_tokens,
            "cacheWriteInputTokens": self.cache_write_input_tokens,
            "outputTokens": self.output_tokens,
            "reasoningTokens": self.reasoning_tokens,
            "totalTokens": self.total_tokens,
        }

    @classmethod
    def from_metrics(cls, data: dict[str, Any]) -> Usage:
        return cls(
            input_tokens=int(data.get("inputTokens") or 0),
            cached_input_tokens=int(data.get("cachedInputTokens") or 0),
            cache_write_input_tokens=int(data.get("cacheWriteInputTokens") or 0),
            output_tokens=int(data.get("outputTokens") or 0),
            reasoning_tokens=int(data.get("reasoningTokens") or 0),
        )


@dataclass(frozen=True)
class ParsedResponse:
    """A provider answer reduced to what the wrappers need to re-render it in another format.

    ``tool_calls`` are OpenAI format (``{"id", "type": "function", "function": {"name", "arguments": str}}``);
    ``finish_reason`` is OpenAI's vocabulary (stop, length, tool_calls, content_filter).
    ``pricing_model`` is the model id to price with, when the provider reports a more precise one.
    """

    usage: Usage
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    response_id: str | None = None
    model: str | None = None


class TokenSource(Protocol):
    """Hands an adapter a bearer token for a credential (Google OAuth); the I/O lives behind it."""

    def token(self, credential: Credential) -> str: ...

    def invalidate(self, credential: Credential) -> None: ...


@dataclass(frozen=True)
class AuthContext:
    """What ``authorize`` may use besides the credential. ``tokens`` is None for key-header providers."""

    tokens: TokenSource | None = None
    now: float | None = None  # epoch seconds for signing; None means the current time


class ProviderAdapter(Protocol):
    """One provider (or one family member). Registered in ``providers/registry.py``."""

    id: str               # e.g. "openai"
    wire_format: str      # one of the FORMAT_* constants
    default_origin: str   # scheme://host[:port] of the public API; KILLTOKEN_UPSTREAM_URL_<ID> replaces it
    uses_api_key: bool    # True: credential is apiKey (+config); False: credential is a secrets bundle

    def validate_credential(self, api_key: str | None, secrets: dict[str, Any] | None,
                            config: dict[str, Any]) -> tuple[str | None, dict[str, str] | None, dict[str, Any]]:
        """Check a credential at save time with the same parser the call path uses.

        Returns the normalized ``(api_key, secrets, config)``. Raises ``ApiError`` with
        ``invalid_api_key`` (400), ``invalid_provider_secrets`` or ``invalid_provider_config``; messages name
        the field, never its value. Endpoint reachability rules (https, public address) are checked by the
        caller through ``tenant_endpoints(config)``.
        """
        ...

    def tenant_endpoints(self, config: dict[str, Any]) -> list[str]:
        """Tenant-supplied URLs in ``config`` that must pass the https/public-address rule."""
        ...

    def build_request(self, request: ChatRequest, credential: Credential, origin: str) -> UpstreamRequest:
        """Translate the canonical request into the provider's wire request (pure; no auth headers yet).

        ``origin`` is the operator override or ``default_origin``; tenant-configured endpoints win over it
        where the provider has one (azure endpoint, openai_compatible baseUrl, vertex endpointUrl).
        """
        ...

    def authorize(self, upstream: UpstreamRequest, credential: Credential, auth: AuthContext) -> UpstreamRequest:
        """Add authentication (key header, SigV4 over ``upstream.body``, bearer token). Pure given ``auth``."""
        ...

    def parse_response(self, body: dict[str, Any]) -> ParsedResponse:
        """Normalize a 2xx JSON body. Raise ``ApiError('provider_error')`` when it is not the expected shape."""
        ...

    def parse_error(self, status: int, headers: dict[str, str], body: Any) -> ApiError:
        """Map a non-2xx answer by status and typed error field (never message text). See ``map_error``."""
        ...

    def test_request(self, credential: Credential) -> ChatRequest:
        """The smallest real call that proves the credential works (for POST .../{id}/test)."""
        ...


def map_error(provider: str, status: int, headers: dict[str, str], error_type: str | None = None,
              *, auth_error: bool = False) -> ApiError:
    """The shared status → ApiError mapping every adapter ends in.

    401/403 (or an auth-typed error) → ``provider_auth_failed``; 429 → ``provider_rate_limited`` with the
    provider's ``retry-after``; other 4xx → ``provider_request_rejected`` keeping the status; 5xx →
    ``provider_error``. Messages name the provider, the status and the typed error, never upstream text.
    ``auth_error`` marks an auth-typed error at another status (Gemini answers a bad key with 400).
    """
    kind = f" ({error_type})" if error_type else ""
    lowered = {k.lower(): v for k, v in headers.items()}
    if status in (401, 403) or auth_error:
        return ApiError("provider_auth_failed",
                        f"{provider} refused the stored credential: HTTP {status}{kind}",
                        provider_status=status)
    if status == 429:
        extra = {"retry-after": lowered["retry-after"]} if "retry-after" in lowered else {}
        return ApiError("provider_rate_limited", f"{provider} rate limited the request: HTTP 429{kind}",
                        headers=extra, provider_status=status)
    if status == 408:
        return ApiError("provider_timeout", f"{provider} timed out the request: HTTP 408{kind}",
                        provider_status=status)
    if 400 <= status < 500:
        return ApiError("provider_request_rejected", f"{provider} rejected the request: HTTP {status}{kind}",
                        status=status if status in (400, 404, 409, 413, 422) else 400, provider_status=status)
    return ApiError("provider_error", f"{provider} failed: HTTP {status}{kind}", provider_status=status)


def unsupported_option(provider: str, name: str) -> ApiError:
    return ApiError("unsupported_provider_option",
                    f"providerOptions.{name} is not supported by {provider}", param=name)
