"""Any self-hosted or third-party OpenAI-compatible endpoint: POST {baseUrl}/chat/completions with a Bearer key.

Credential: ``apiKey`` plus config ``{baseUrl, defaultModel}``. The request's model is sent; ``defaultModel`` is
used when it is empty and by the credential test. Such servers accept more than OpenAI's options, so besides
OpenAI's set (and the common ``top_k``, ``min_p``, ``repetition_penalty``) an ``extra_body`` object is merged
into the body as is. There is no public default origin (``default_origin`` is ""); an operator override
(``KILLTOKEN_UPSTREAM_URL_OPENAI_COMPATIBLE``) replaces only the scheme, host and port of ``baseUrl``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.errors import ApiError
from providers.base import (
    FORMAT_OPENAI,
    AuthContext,
    ChatRequest,
    Credential,
    ParsedResponse,
    UpstreamRequest,
)
from providers.credentials import config_string, only_fields, require_api_key
from providers.endpoints import parse_endpoint, with_origin
from providers.openai_wire import (
    OPENAI_OPTIONS,
    Dialect,
    parse_openai_error,
    parse_openai_response,
    to_openai_body,
)

Json = dict[str, Any]

PROVIDER_ID = "openai_compatible"
# Self-hosted chat templates rarely know the developer role: it is sent as system.
DIALECT = Dialect(PROVIDER_ID, OPENAI_OPTIONS | {"top_k", "min_p", "repetition_penalty"}, extra_body=True,
                  developer_role=False)
_CONFIG_FIELDS = ("baseUrl", "defaultModel")


def parse_config(config: Json) -> Json:
    """Validated ``{baseUrl, defaultModel}``."""
    only_fields(config, _CONFIG_FIELDS)
    return {"baseUrl": parse_endpoint(config.get("baseUrl"), "baseUrl"),
            "defaultModel": config_string(config, "defaultModel")}


class OpenAICompatibleAdapter:
    """A tenant-chosen chat.completions server."""

    id = PROVIDER_ID
    wire_format = FORMAT_OPENAI
    default_origin = ""
    uses_api_key = True

    def validate_credential(self, api_key: str | None, secrets: dict[str, Any] | None,
                            config: Json) -> tuple[str | None, dict[str, str] | None, Json]:
        return require_api_key(api_key, secrets), None, parse_config(config)

    def tenant_endpoints(self, config: Json) -> list[str]:
        return [parse_endpoint(config.get("baseUrl"), "baseUrl")]

    def build_request(self, request: ChatRequest, credential: Credential, origin: str) -> UpstreamRequest:
        config = parse_config(credential.config)
        if not request.model:
            request = replace(request, model=config["defaultModel"])
        url = with_origin(config["baseUrl"], origin) + "/chat/completions"
        body = UpstreamRequest.json_body(to_openai_body(request, DIALECT))
        return UpstreamRequest("POST", url, {"content-type": "application/json"}, body)

    def authorize(self, upstream: UpstreamRequest, credential: Credential,
                  auth: AuthContext) -> UpstreamRequest:
        headers = {**upstream.headers, "authorization": f"Bearer {credential.api_key or ''}"}
        return UpstreamRequest(upstream.method, upstream.url, headers, upstream.body)

    def parse_response(self, body: Json) -> ParsedResponse:
        return parse_openai_response(body, DIALECT)

    def parse_error(self, status: int, headers: dict[str, str], body: Any) -> ApiError:
        return parse_openai_error(PROVIDER_ID, status, headers, body)

    def test_request(self, credential: Credential) -> ChatRequest:
        model = str(credential.config.get("defaultModel") or "")
        return ChatRequest(provider=PROVIDER_ID, model=model, messages=[{"role": "user", "content": "ping"}],
                           options={"max_tokens": 1})


ADAPTER = OpenAICompatibleAdapter()
