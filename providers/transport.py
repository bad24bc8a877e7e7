"""The only upstream I/O: one pooled ``requests`` session per process, timeouts, no redirects, no retries.

The session ignores proxy environment variables (``trust_env = False``) so a tenant's request can never be
routed through an operator's proxy, and never follows redirects (a redirect could carry the key elsewhere).
Network failures become ``ApiError``s whose messages name the provider, never the URL or a header.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from app.errors import ApiError
from providers.base import UpstreamRequest


def build_session(pool_size: int) -> requests.Session:
    """The process-wide session: keep-alive pools, no env proxies, no automatic retries."""
    session = requests.Session()
    session.trust_env = False  # redirects: every call passes allow_redirects=False
    adapter = HTTPAdapter(pool_connections=32, pool_maxsize=pool_size, max_retries=0, pool_block=False)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.clear()
    return session


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
    except requests.exceptions.RequestException as exc:
        raise ApiError("provider_error", f"{provider} could not be reached ({type(exc).__name__})") from None
    latency_ms = (time.perf_counter() - started) * 1000.0
    return UpstreamResponse(status=response.status_code, headers=dict(response.headers),
                            body=response.content, latency_ms=latency_ms)
