"""Google OAuth access tokens for Vertex, from the tenant's stored service account only (strict BYOK).

Credentials are built with ``service_account.Credentials.from_service_account_info`` from the stored fields;
Application Default Credentials, gcloud, the metadata server and ``GOOGLE_APPLICATION_CREDENTIALS`` are never
consulted. The JWT-bearer exchange runs through a ``google.auth.transport.requests.Request`` built on the
session handed in (the process's pooled, proxy-free session), with the gateway's timeouts and no retries.

Tokens are cached per (tenant id, credential id, credential version) and refreshed ahead of expiry, so a
credential update can never reuse the old token and one tenant can never receive another's. Concurrent callers
for one credential share one exchange (a per-key lock, gevent-friendly once ``threading`` is patched).
``invalidate`` drops a token the upstream refused (the pipeline calls it after a 401).
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import google.auth.transport.requests
import requests
from google.auth import exceptions as google_exceptions
from google.oauth2 import service_account

from app.errors import ApiError
from providers import canonical
from providers.base import Credential
from providers.credentials import secret_string

PROVIDER_ID = "google_vertex"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
DEFAULT_LIFETIME_SECONDS = 600.0  # used when the token endpoint omits expires_in
_TRANSPORT_LOGGER = "google.auth.transport.requests"
_CacheKey = tuple[str, str, int]


class _NoRequestBodies(logging.Filter):
    """google-auth's transport logs request bodies at DEBUG; the signed JWT assertion in them is a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def _silence_transport_debug() -> None:
    logger = logging.getLogger(_TRANSPORT_LOGGER)
    if not any(isinstance(existing, _NoRequestBodies) for existing in logger.filters):
        logger.addFilter(_NoRequestBodies())


def normalize_private_key(pem: str) -> str:
    """A PEM pasted from a JSON key file often keeps its ``\\n`` escapes; restore the line breaks."""
    pem = pem.strip()
    if "\n" not in pem and "\\n" in pem:
        pem = pem.replace("\\n", "\n")
    return pem + "\n"


def load_service_account(secrets: dict[str, Any] | None, token_uri: str = GOOGLE_TOKEN_URL
                         ) -> service_account.Credentials:
    """google-auth credentials from the stored fields; the one parser used at save time and at call time.

    A key that does not load or cannot sign is a 400 ``invalid_provider_secrets`` naming ``privateKey``;
    the key itself never appears in the error or its chain.
    """
    secrets = secrets or {}
    email = secret_string(secrets, "clientEmail") or ""
    key = secret_string(secrets, "privateKey") or ""
    key_id = secret_string(secrets, "privateKeyId", required=False)
    info = {"type": "service_account", "client_email": email, "private_key": normalize_private_key(key),
            "token_uri": token_uri}
    if key_id:
        info["private_key_id"] = key_id
    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
        credentials.signer.sign(b"killtoken key check")
    except Exception:  # any parser or signer failure means the same thing: the stored key is unusable
        raise ApiError("invalid_provider_secrets",
                       "secrets.privateKey is not a PEM RSA private key that google-auth can load",
                       param="secrets.privateKey") from None
    return credentials


class _SessionRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport on a session it does not own: fixed timeouts, never closes it."""

    def __init__(self, session: requests.Session, timeout: float | tuple[float, float]) -> None:
        super().__init__(session=session)
        self._timeout = timeout

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: Any = None, **kwargs: Any) -> Any:
        return super().__call__(url, method=method, body=body, headers=headers, timeout=self._timeout, **kwargs)

    def __del__(self) -> None:
        return  # the session belongs to the transport owner


class _TokenEndpointStatus(Exception):
    def __init__(self, status: int, error: str | None) -> None:
        super().__init__(status)
        self.status = status
        self.error = error


class _OneShot:
    """Wraps the transport for one exchange: a non-200 answer stops google-auth's retry loop at once."""

    def __init__(self, request: _SessionRequest) -> None:
        self._request = request

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        response = self._request(*args, **kwargs)
        if response.status != 200:
            raise _TokenEndpointStatus(response.status, _oauth_error(response.data))
        return response


def _oauth_error(data: Any) -> str | None:
    try:
        parsed = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return canonical.safe_error_type(parsed.get("error")) if isinstance(parsed, dict) else None


def _exchange_error(exc: BaseException) -> ApiError:
    """A failed exchange → ApiError naming the status and OAuth error code, never the JWT or a token."""
    if isinstance(exc, _TokenEndpointStatus):
        kind = f" ({exc.error})" if exc.error else ""
        if exc.status in (400, 401, 403):
            return ApiError("provider_auth_failed",
                            f"{PROVIDER_ID} token exchange refused the service account: HTTP {exc.status}{kind}",
                            provider_status=exc.status)
        if exc.status == 429:
            return ApiError("provider_rate_limited",
                            f"{PROVIDER_ID} token exchange was rate limited: HTTP 429{kind}", provider_status=429)
        return ApiError("provider_error", f"{PROVIDER_ID} token exchange failed: HTTP {exc.status}{kind}",
                        provider_status=exc.status)
    cause = exc.__cause__
    if isinstance(cause, requests.exceptions.Timeout):
        return ApiError("provider_timeout", f"{PROVIDER_ID} token endpoint did not answer in time")
    if isinstance(exc, google_exceptions.TransportError):
        name = type(cause).__name__ if cause is not None else "TransportError"
        return ApiError("provider_error", f"{PROVIDER_ID} token endpoint could not be reached ({name})")
    return ApiError("provider_error", f"{PROVIDER_ID} token endpoint answered without a usable access token")


@dataclass(frozen=True)
class _Entry:
    credentials: service_account.Credentials  # kept so a refresh does not parse the PEM again
    token: str
    refresh_at: float


class _KeyLock:
    __slots__ = ("lock", "__weakref__")

    def __init__(self) -> None:
        self.lock = threading.Lock()


class GoogleTokenSource:
    """The ``TokenSource`` for google_vertex: one per process, shared by every request.

    ``session`` is the process's pooled session (its ``trust_env`` is forced off so the exchange never uses
    proxy variables or netrc; google-auth's transport DEBUG logging, which would print the signed assertion,
    is filtered out); ``token_url`` is ``KILLTOKEN_GOOGLE_TOKEN_URL`` or None for Google's endpoint;
    ``timeout`` is (connect, read) seconds. ``clock`` exists for tests.
    """

    def __init__(self, session: requests.Session, token_url: str | None = None,
                 timeout: float | tuple[float, float] = (5.0, 30.0), *, refresh_margin_seconds: float = 300.0,
                 max_entries: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        session.trust_env = False
        _silence_transport_debug()
        self._request = _SessionRequest(session, timeout)
        self._token_uri = token_url or GOOGLE_TOKEN_URL
        self._margin = refresh_margin_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[_CacheKey, _Entry] = OrderedDict()
        self._guard = threading.Lock()
        self._locks: weakref.WeakValueDictionary[_CacheKey, _KeyLock] = weakref.WeakValueDictionary()

    @staticmethod
    def _key(credential: Credential) -> _CacheKey:
        return (credential.tenant_id, credential.id, credential.version)

    def _cached(self, key: _CacheKey) -> str | None:
        with self._guard:
            entry = self._entries.get(key)
            if entry is not None and self._clock() < entry.refresh_at:
                self._entries.move_to_end(key)
                return entry.token
        return None

    def _key_lock(self, key: _CacheKey) -> _KeyLock:
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = _KeyLock()
                self._locks[key] = lock
            return lock

    def token(self, credential: Credential) -> str:
        """A live access token for this exact credential version, exchanged at most once per expiry."""
        key = self._key(credential)
        cached = self._cached(key)
        if cached:
            return cached
        key_lock = self._key_lock(key)
        with key_lock.lock:
            cached = self._cached(key)
            if cached:
                return cached
            with self._guard:
                entry = self._entries.get(key)
            credentials = entry.credentials if entry else load_service_account(credential.secrets, self._token_uri)
            token, lifetime = self._exchange(credentials)
            refresh_at = self._clock() + max(lifetime - self._margin, lifetime / 2)
            self._store(key, _Entry(credentials, token, refresh_at))
            return token

    def _exchange(self, credentials: service_account.Credentials) -> tuple[str, float]:
        try:
            credentials.refresh(_OneShot(self._request))
        except (_TokenEndpointStatus, google_exceptions.GoogleAuthError) as exc:
            raise _exchange_error(exc) from None
        token = credentials.token
        if not isinstance(token, str) or not token:
            raise _exchange_error(google_exceptions.RefreshError("no token"))
        if credentials.expiry is None:
            return token, DEFAULT_LIFETIME_SECONDS
        utcnow = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        return token, max((credentials.expiry - utcnow).total_seconds(), 0.0)

    def _store(self, key: _CacheKey, entry: _Entry) -> None:
        with self._guard:
            tenant_id, credential_id, version = key
            for other in [k for k in self._entries if k[:2] == (tenant_id, credential_id) and k[2] != version]:
                del self._entries[other]
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def invalidate(self, credential: Credential) -> None:
        """Forget this credential's token (call after the upstream answered 401 to it)."""
        with self._guard:
            self._entries.pop(self._key(credential), None)

    def forget(self, tenant_id: str, credential_id: str) -> None:
        """Drop every version of a credential (called when it is updated or deleted in this process)."""
        with self._guard:
            for key in [k for k in self._entries if k[:2] == (tenant_id, credential_id)]:
                del self._entries[key]

    def cached_count(self) -> int:
        """How many credentials hold a cached token (for tests and ops metrics)."""
        with self._guard:
            return len(self._entries)
