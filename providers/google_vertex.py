"""Google Vertex AI adapter: Gemini (generateContent) and Claude (rawPredict) with a service-account bearer.

URLs: ``{origin}/v1/projects/{projectId}/locations/{location}/publishers/google/models/{model}:generateContent``
for Gemini and ``.../publishers/anthropic/models/{model}:rawPredict`` for models whose id starts with
``claude``. The origin is the credential's ``endpointUrl`` when set (an https origin, checked by the endpoint
policy like every tenant endpoint), else the operator override ``KILLTOKEN_UPSTREAM_URL_GOOGLE_VERTEX``, else
the location's host: ``https://{location}-aiplatform.googleapis.com``, or ``https://aiplatform.googleapis.com``
for the ``global`` location.

Bodies reuse the Gemini and Anthropic translations: Gemini's body is the same on Vertex; Claude's is the
Messages body without ``model`` and with ``anthropic_version: vertex-2023-10-16`` (through the Anthropic
wrapper the native body is kept, so ``cache_control`` and system blocks stay exact), and its answer is a
Messages body (``UpstreamRequest.response_format`` is ``anthropic``). The bearer token comes
from the ``TokenSource`` in ``AuthContext`` (``providers/google_tokens.py``); the adapter itself does no I/O.

Credential: ``secrets`` = ``{clientEmail, privateKey, privateKeyId?}`` (the key is loaded at save time by the
same google-auth parser the call path uses); ``config`` = ``{projectId, location, defaultModel,
endpointUrl?}``. The credential test calls ``defaultModel``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from app.errors import ApiError
from providers.anthropic import (
    DEFAULT_MAX_TOKENS,
    beta_header,
    parse_anthropic_error,
    parse_anthropic_response,
    to_anthropic_body,
)
from providers.base import (
    FORMAT_ANTHROPIC,
    FORMAT_GEMINI,
    AuthContext,
    ChatRequest,
    Credential,
    ParsedResponse,
    UpstreamRequest,
)
from providers.credentials import config_string, only_fields, secrets_bundle
from providers.gemini import parse_gemini_error, parse_gemini_response, to_gemini_body
from providers.google_tokens import load_service_account, normalize_private_key

Json = dict[str, Any]

PROVIDER_ID = "google_vertex"
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
GLOBAL_HOST = "https://aiplatform.googleapis.com"
_ORIGIN_TEMPLATE = "https://{location}-aiplatform.googleapis.com"

_PROJECT = re.compile(r"^(?:[a-z0-9][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_LOCATION = re.compile(r"^(?:global|[a-z]+-[a-z]+[0-9]{1,2})$")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SECRET_FIELDS = ("clientEmail", "privateKey")
_OPTIONAL_SECRET_FIELDS = ("privateKeyId",)
_CONFIG_FIELDS = ("projectId", "location", "defaultModel", "endpointUrl")


def _config_error(field: str, what: str) -> ApiError:
    return ApiError("invalid_provider_config", f"config.{field} {what}", param=f"config.{field}")


def https_origin(value: str) -> str:
    """``endpointUrl`` as ``https://host[:port]``; anything with a path, query, userinfo or http is refused."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise _config_error("endpointUrl", "must be an https origin such as https://host") from None
    if (parts.scheme != "https" or not parts.hostname or parts.username or parts.password
            or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise _config_error("endpointUrl", "must be an https origin such as https://host")
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"https://{host}" + (f":{port}" if port else "")


def validate_secrets(api_key: str | None, secrets: dict[str, Any] | None) -> dict[str, str]:
    """The normalized service-account fields; the private key must load and sign with google-auth."""
    secrets = secrets_bundle(PROVIDER_ID, api_key, secrets, _SECRET_FIELDS, _OPTIONAL_SECRET_FIELDS)
    load_service_account(secrets)
    email = secrets["clientEmail"].strip()
    if not _EMAIL.match(email):
        raise ApiError("invalid_provider_secrets", "secrets.clientEmail must be a service account email",
                       param="secrets.clientEmail")
    out = {"clientEmail": email, "privateKey": normalize_private_key(secrets["privateKey"])}
    if isinstance(secrets.get("privateKeyId"), str) and secrets["privateKeyId"].strip():
        out["privateKeyId"] = secrets["privateKeyId"].strip()
    return out


def validate_config(config: dict[str, Any] | None) -> Json:
    """``projectId``, ``location``, ``defaultModel`` and the optional https-origin ``endpointUrl``."""
    config = {} if config is None else config
    only_fields(config, _CONFIG_FIELDS)
    project = config_string(config, "projectId") or ""
    if not _PROJECT.match(project):
        raise _config_error("projectId", "must be a Google Cloud project id")
    location = config_string(config, "location") or ""
    if not _LOCATION.match(location):
        raise _config_error("location", "must be a Vertex AI region such as us-central1, or global")
    model = config_string(config, "defaultModel") or ""
    if not _MODEL.match(model):
        raise _config_error("defaultModel", "must be a Vertex AI model id")
    out: Json = {"projectId": project, "location": location, "defaultModel": model}
    endpoint = config_string(config, "endpointUrl", required=False)
    if endpoint is not None:
        out["endpointUrl"] = https_origin(endpoint)
    return out


def is_claude_model(model: str) -> bool:
    """Claude on Vertex is published by Anthropic and called through rawPredict."""
    return model.startswith("claude")


def location_origin(location: str) -> str:
    return GLOBAL_HOST if location == "global" else _ORIGIN_TEMPLATE.format(location=location)


def _model_segment(model: Any) -> str:
    if not isinstance(model, str) or not _MODEL.match(model):
        raise ApiError("invalid_request", "model must be a Vertex AI model id", param="model")
    return quote(model, safe="@._-")


def _call_config(credential: Credential) -> tuple[str, str]:
    config = credential.config or {}
    project, location = config.get("projectId"), config.get("location")
    if not isinstance(project, str) or not _PROJECT.match(project):
        raise _config_error("projectId", "must be a Google Cloud project id")
    if not isinstance(location, str) or not _LOCATION.match(location):
        raise _config_error("location", "must be a Vertex AI region such as us-central1, or global")
    return project, location


def to_vertex_claude_body(request: ChatRequest) -> Json:
    """The Messages body in Vertex's dialect: no ``model`` (it is in the URL), ``anthropic_version`` set.

    ``metadata`` keeps only Anthropic's ``user_id``: the wrapper's ``metadata.feature`` is KillToken's tag and
    the Messages API refuses unknown metadata fields.
    """
    body = to_anthropic_body(request, DEFAULT_MAX_TOKENS, PROVIDER_ID)
    body.pop("model", None)
    metadata = body.pop("metadata", None)
    if isinstance(metadata, dict) and metadata.get("user_id") is not None:
        body["metadata"] = {"user_id": metadata["user_id"]}
    return {"anthropic_version": VERTEX_ANTHROPIC_VERSION, **body}


class VertexAdapter:
    """Vertex AI publisher models (Google's Gemini, Anthropic's Claude) in the tenant's own project."""

    id = PROVIDER_ID
    wire_format = FORMAT_GEMINI
    default_origin = _ORIGIN_TEMPLATE
    uses_api_key = False

    def validate_credential(self, api_key: str | None, secrets: dict[str, Any] | None,
                            config: Json) -> tuple[str | None, dict[str, str] | None, Json]:
        return None, validate_secrets(api_key, secrets), validate_config(config)

    def tenant_endpoints(self, config: Json) -> list[str]:
        endpoint = (config or {}).get("endpointUrl")
        return [endpoint] if isinstance(endpoint, str) and endpoint else []

    def origin_for(self, credential: Credential, origin: str) -> str:
        """Operator override > tenant ``endpointUrl`` > the location's public host.

        The operator's KILLTOKEN_UPSTREAM_URL_GOOGLE_VERTEX wins, as it does over every provider's tenant
        endpoint, so a tenant can never steer traffic around an operator's deliberate routing.
        """
        if origin and origin != self.default_origin:
            return origin.rstrip("/")
        endpoint = (credential.config or {}).get("endpointUrl")
        if isinstance(endpoint, str) and endpoint:
            return https_origin(endpoint)
        return location_origin(_call_config(credential)[1])

    def build_request(self, request: ChatRequest, credential: Credential, origin: str) -> UpstreamRequest:
        project, location = _call_config(credential)
        model = _model_segment(request.model)
        headers = {"content-type": "application/json"}
        answer_format: str | None = None
        if is_claude_model(request.model):
            publisher, method, body = "anthropic", "rawPredict", to_vertex_claude_body(request)
            answer_format = FORMAT_ANTHROPIC
            beta = beta_header(request.options)
            if beta is not None:
                headers["anthropic-beta"] = beta
        else:
            publisher, method, body = "google", "generateContent", to_gemini_body(request, PROVIDER_ID)
        path = (f"/v1/projects/{quote(project, safe='')}/locations/{location}/publishers/{publisher}"
                f"/models/{model}:{method}")
        return UpstreamRequest("POST", self.origin_for(credential, origin) + path, headers,
                               UpstreamRequest.json_body(body), response_format=answer_format)

    def authorize(self, upstream: UpstreamRequest, credential: Credential,
                  auth: AuthContext) -> UpstreamRequest:
        if auth.tokens is None:
            raise ApiError("internal_error", "google_vertex needs a token source")
        token = auth.tokens.token(credential)
        headers = {**upstream.headers, "authorization": f"Bearer {token}"}
        return UpstreamRequest(upstream.method, upstream.url, headers, upstream.body,
                               response_format=upstream.response_format)

    def parse_response(self, body: Json) -> ParsedResponse:
        if isinstance(body, dict) and isinstance(body.get("content"), list) and "candidates" not in body:
            return parse_anthropic_response(body, PROVIDER_ID)
        return parse_gemini_response(body, PROVIDER_ID)

    def parse_error(self, status: int, headers: dict[str, str], body: Any) -> ApiError:
        if isinstance(body, dict) and body.get("type") == "error":
            return parse_anthropic_error(PROVIDER_ID, status, headers, body)
        return parse_gemini_error(PROVIDER_ID, status, headers, body)

    def test_request(self, credential: Credential) -> ChatRequest:
        model = (credential.config or {}).get("defaultModel")
        if not isinstance(model, str) or not model:
            raise _config_error("defaultModel", "must be a Vertex AI model id")
        return ChatRequest(provider=PROVIDER_ID, model=model,
                           messages=[{"role": "user", "content": "ping"}], options={"max_tokens": 1})


ADAPTER = VertexAdapter()
