"""Tenant-supplied endpoints must be https and resolve only to public addresses (SSRF guard).

The operator can lift the rule with KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS=true (self-hosted models on a private
network). The address is checked when a credential is saved (resolved here) and on every connection (by the
public-only session in providers/transport.py, which sees the address actually used, so re-pointing a name
after the save cannot reach a private address); before each call only the URL's shape is checked again.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urlsplit

from app.errors import ApiError

_RESOLVE_TTL_SECONDS = 30.0
_resolved: dict[str, tuple[float, list[str]]] = {}


def _addresses(host: str) -> list[str]:
    now = time.monotonic()
    hit = _resolved.get(host)
    if hit is not None and now - hit[0] < _RESOLVE_TTL_SECONDS:
        return hit[1]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ApiError("invalid_endpoint", f"endpoint host {host!r} does not resolve") from None
    addresses = sorted({info[4][0] for info in infos})
    if len(_resolved) > 1024:
        _resolved.clear()
    _resolved[host] = (now, addresses)
    return addresses


def is_public_address(address: str) -> bool:
    """A globally routable unicast address (IPv4-mapped IPv6 judged as its IPv4)."""
    return _is_public(address)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_endpoint(url: str, field: str, allow_private: bool, resolve: bool = True) -> None:
    """Raise 400 ``invalid_endpoint`` unless ``url`` is an https URL on public addresses (or allowed).

    ``resolve=False`` checks only the URL's shape: the call path leaves the address check to the connection
    itself (the public-only session), which sees the address actually used.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ApiError("invalid_endpoint", f"{field} must be an absolute https URL", param=field)
    if parts.username or parts.password:
        raise ApiError("invalid_endpoint", f"{field} must not carry credentials", param=field)
    if allow_private:
        return
    if parts.scheme != "https":
        raise ApiError("invalid_endpoint", f"{field} must use https", param=field)
    if not resolve:
        return
    addresses = _addresses(parts.hostname)
    if not addresses or not all(_is_public(a) for a in addresses):
        raise ApiError("invalid_endpoint", f"{field} resolves to a private or reserved address", param=field)
