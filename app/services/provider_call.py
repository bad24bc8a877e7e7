"""One provider call: origin choice, tenant-endpoint guard, authorization, send, status → answer or ApiError.

Shared by the gateway pipeline and the credential test so both treat the upstream exactly alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.errors import ApiError
from providers import transport
from providers.base import AuthContext, Credential, ParsedResponse, ProviderAdapter, UpstreamRequest
from providers.endpoint_policy import check_endpoint


def origin_for(adapter: ProviderAdapter, settings: dict[str, Any]) -> str:
    """The operator's KILLTOKEN_UPSTREAM_URL_<PROVIDER> override, else the provider's public origin."""
    return settings["UPSTREAM_URLS"].get(adapter.id) or adapter.default_origin


def check_tenant_endpoints(adapter: ProviderAdapter, config: dict[str, Any], settings: dict[str, Any],
                           resolve: bool = True) -> None:
    """Tenant endpoints must be https on public addresses: resolved on save; on the call path (``resolve``
    False) the shape is checked here and the address by the connection itself (``pick_session``)."""
    if adapter.id in settings["UPSTREAM_URLS"]:
        return  # the operator pointed this provider elsewhere on purpose
    for index, url in enumerate(adapter.tenant_endpoints(config)):
        check_endpoint(url, f"config endpoint #{index + 1}", settings["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"],
                       resolve=resolve)


def pick_session(adapter: ProviderAdapter, config: dict[str, Any], settings: dict[str, Any], session: Any,
                 public_session: Any) -> Any:
    """Calls to a tenant-supplied endpoint go through the session that refuses private peers at connect time."""
    guarded = (bool(adapter.tenant_endpoints(config)) and adapter.id not in settings["UPSTREAM_URLS"]
               and not settings["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"])
    return public_session if guarded else session


@dataclass(frozen=True)
class CallResult:
    body: dict[str, Any]
    parsed: ParsedResponse
    status: int
    response_format: str
    raw: bytes  # the provider's body bytes as received (after transfer decoding)


@dataclass
class CallTiming:
    provider_ms: float = 0.0
    provider_status: int | None = None


def execute(adapter: ProviderAdapter, credential: Credential, upstream: UpstreamRequest, session: Any,
            tokens: Any, settings: dict[str, Any], timing: CallTiming) -> CallResult:
    """Authorize and send; 2xx JSON object → parsed answer, anything else → the adapter's ApiError."""
    response_format = upstream.response_format or adapter.wire_format  # authorize may rebuild the request
    upstream = adapter.authorize(upstream, credential, AuthContext(tokens=tokens))
    timeout = (settings["KILLTOKEN_UPSTREAM_CONNECT_TIMEOUT_SECONDS"],
               settings["KILLTOKEN_UPSTREAM_READ_TIMEOUT_SECONDS"])
    response = transport.send(session, upstream, adapter.id, timeout)
    timing.provider_ms = response.latency_ms
    timing.provider_status = response.status
    try:
        body: Any = json.loads(response.body) if response.body else None
    except ValueError:
        body = None
    if not 200 <= response.status < 300:
        if response.status == 401 and tokens is not None:
            tokens.invalidate(credential)
        if 300 <= response.status < 400:
            raise ApiError("provider_error", f"{adapter.id} answered a redirect (HTTP {response.status}); "
                           "redirects are never followed", provider_status=response.status)
        raise adapter.parse_error(response.status, response.headers, body)
    if not isinstance(body, dict):
        raise ApiError("provider_error", f"{adapter.id} answered HTTP {response.status} with a body that is not "
                       "a JSON object", provider_status=response.status)
    return CallResult(body=body, parsed=adapter.parse_response(body), status=response.status,
                      response_format=response_format, raw=response.body)
