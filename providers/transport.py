"""The only upstream I/O: one pooled ``requests`` session per process, timeouts, no redirects, no retries.

The session ignores proxy environment variables (``trust_env = False``) so a tenant's request can never be
routed through an operator's proxy, and never follows redirects (a redirect could carry the key elsewhere).
Network failures become ``ApiError``s whose messages name the provider, never the URL or a header.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from app.errors import ApiError
from providers.base import UpstreamRequest
from providers.endpoint_policy import is_public_address


class PrivateAddressRefused(NewConnectionError):
    """The connection reached a non-public address: closed before a byte (or a key) was sent."""


class _PublicOnly:
    """Checks the address actually connected to, so a name re-pointed after the save-time check (DNS
    rebinding) still cannot reach a private address."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        if not is_public_address(sock.getpeername()[0]):
            sock.close()
            raise PrivateAddressRefused(self, "the endpoint resolved to a private or reserved address")
        return sock


class _PublicHTTPConnection(_PublicOnly, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicOnly, HTTPSConnection):
    pass


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


def build_session(pool_size: int, public_only: bool = False) -> requests.Session:
    """A process-wide session: keep-alive pools, no env proxies, no automatic retries.

    ``public_only`` sessions carry calls to tenant-supplied endpoints and refuse any connection whose peer is
    not a public address.
    """
    session = requests.Session()
    session.trust_env = False  # redirects: every call passes allow_redirects=False
    adapter_cls = _PublicOnlyAdapter if public_only else HTTPAdapter
    adapter = adapter_cls(pool_connections=32, pool_maxsize=pool_size, max_retries=0, pool_block=False)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.clear()
    return session


def _refused_private(exc: BaseException) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, PrivateAddressRefused)


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    latency_ms: float


def send(session: requests.Session, upstream: UpstreamRequest, provider: str,
         timeout: tuple[float, float]) -> UpstreamResponse:
    """One call, exactly the bytes built by the adapter; 504 on read timeout, 502 on a broken connection."""
    started = time.perf_counter()
    try:
        response = session.request(
            upstream.method, upstream.url, headers=upstream.headers, data=upstream.body,
            timeout=timeout, allow_redirects=False, stream=False,
        )
    except requests.exceptions.ConnectTimeout:
        raise ApiError("provider_timeout", f"{provider} did not accept a connection in time") from None
    except requests.exceptions.ReadTimeout:
        raise ApiError("provider_timeout", f"{provider} did not answer within {timeout[1]:g} s") from None
    except requests.exceptions.ConnectionError as exc:
        if _refused_private(exc):
            raise ApiError("invalid_endpoint", f"the {provider} endpoint resolved to a private or reserved address "
                           "at connection time") from None
        raise ApiError("provider_error", f"{provider} could not be reached ({type(exc).__name__})") from None
    except requests.exceptions.RequestException as exc:
        raise ApiError("provider_error", f"{provider} could not be reached ({type(exc).__name__})") from None
    latency_ms = (time.perf_counter() - started) * 1000.0
    return UpstreamResponse(status=response.status_code, headers=dict(response.headers),
                            body=response.content, latency_ms=latency_ms)
