"""Tenant-configured endpoints (Azure endpoint, openai_compatible baseUrl): shape checks and origin override.

Reachability rules (https, public address) are the caller's, through ``tenant_endpoints``; here a value is
only checked to be an absolute http(s) URL without credentials, query or fragment, so a path can follow it.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from app.errors import ApiError


def parse_endpoint(value: object, name: str) -> str:
    """A normalized endpoint URL (no trailing slash); the error names the config field, never its value."""
    param = f"config.{name}"
    if not isinstance(value, str) or not value.strip():
        raise ApiError("invalid_provider_config", f"{param} must be a non-empty URL", param=param)
    try:
        parts = urlsplit(value.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
        parts = None
    if (parts is None or not port_ok or parts.scheme not in ("https", "http") or not parts.hostname
            or parts.username is not None or parts.password is not None or parts.query or parts.fragment):
        raise ApiError("invalid_provider_config",
                       f"{param} must be an absolute https URL without credentials, query or fragment",
                       param=param)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def with_origin(endpoint: str, origin: str | None) -> str:
    """``endpoint`` with scheme, host and port replaced by the operator's ``origin`` override (path kept)."""
    if not origin:
        return endpoint
    target = urlsplit(origin)
    parts = urlsplit(endpoint)
    return urlunsplit((target.scheme, target.netloc, parts.path, "", ""))
