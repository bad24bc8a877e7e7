"""Azure OpenAI adapter: chat.completions on a tenant's Azure resource, key in the ``api-key`` header.

Credential: ``apiKey`` plus config ``{endpoint, deployment, apiVersion?}``. The URL style follows ``apiVersion``:

- a dated version (``2024-10-21``, ``2025-04-01-preview``) → the deployment URL
  ``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={apiVersion}`` (no model in body);
- ``"v1"`` or absent → the v1 API ``{endpoint}/openai/v1/chat/completions`` with ``model`` = the deployment.

There is no public default origin (``default_origin`` is ""): the tenant's endpoint is the upstream. An operator
override (``KILLTOKEN_UPSTREAM_URL_AZURE_OPENAI``) replaces only its scheme, host and port.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

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

PROVIDER_ID = "azure_openai"
V1 = "v1"
DIALECT = Dialect(PROVIDER_ID, OPENAI_OPTIONS | {"data_sources"})
_CONFIG_FIELDS = ("endpoint", "deployment", "apiVersion")
_DEPLOYMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


def parse_config(config: Json) -> Json:
    """Validated ``{endpoint, deployment, apiVersion}``; ``apiVersion`` is "v1" when absent."""
    only_fields(config, _CONFIG_FIELDS)
    endpoint = parse_endpoint(config.get("endpoint"), "endpoint")
    deployment = config_string(config, "deployment")
    if not deployment or not _DEPLOYMENT.match(deployment):
        raise ApiError("invalid_provider_config",
                       "config.deployment must be 1-64 letters, digits, '.', '_' or '-'", param="config.deployment")
    version = config_string(config, "apiVersion", required=False) or V1
    if version != V1 and not _API_VERSION.match(version):
        raise ApiError("invalid_provider_config",
                       "config.apiVersion must be \"v1\" or a dated version like 2024-10-21",
                       param="config.apiVersion")
    return {"endpoint": endpoint, "deployment": deployment, "apiVersion": version}


def upstream_url(config: Json, origin: str | None = None) -> str:
    """The chat.completions URL for a validated config (see the module docstring for the two styles)."""
    base = with_origin(config["endpoint"], origin)
    if config["apiVersion"] == V1:
        return f"{base}/openai/v1/chat/completions"
    deployment = quote(config["deployment"], safe="")
    return f"{base}/openai/deployments/{deployment}/chat/completions?api-version={config['apiVersion']}"


class AzureOpenAIAdapter:
    """One tenant Azure OpenAI resource and deployment."""

    id = PROVIDER_ID
    wire_format = FORMAT_OPENAI
    default_origin = ""
    uses_api_key = True

    def validate_credential(self, api_key: str | None, secrets: dict[str, Any] | None,
                            config: Json) -> tuple[str | None, dict[str, str] | None, Json]:
        return require_api_key(api_key, secrets), None, parse_config(config)

    def tenant_endpoints(self, config: Json) -> list[str]:
        return [parse_endpoint(config.get("endpoint"), "endpoint")]

    def build_request(self, request: ChatRequest, credential: Credential, origin: str) -> UpstreamRequest:
        config = parse_config(credential.config)
        model = config["deployment"] if config["apiVersion"] == V1 else ""
        body = UpstreamRequest.json_body(to_openai_body(request, DIALECT, model=model))
        return UpstreamRequest("POST", upstream_url(config, origin), {"content-type": "application/json"}, body)

    def authorize(self, upstream: UpstreamRequest, credential: Credential,
                  auth: AuthContext) -> UpstreamRequest:
        headers = {**upstream.headers, "api-key": credential.api_key or ""}
        return UpstreamRequest(upstream.method, upstream.url, headers, upstream.body)

    def parse_response(self, body: Json) -> ParsedResponse:
        return parse_openai_response(body, DIALECT)

    def parse_error(self, status: int, headers: dict[str, str], body: Any) -> ApiError:
        return parse_openai_error(PROVIDER_ID, status, headers, body)

    def test_request(self, credential: Credential) -> ChatRequest:
        deployment = str(credential.config.get("deployment") or "")
        return ChatRequest(provider=PROVIDER_ID, model=deployment,
                           messages=[{"role": "user", "content": "ping"}])


ADAPTER = AzureOpenAIAdapter()
