"""The one place that builds the exact-cache key and the idempotency body fingerprint.

A wrong cache hit hands one tenant's answer to another, so the key is built from an explicit list: the tenant
first, the credential fingerprint (id and version, never the secret), provider, model, the resolved endpoint,
the entry point's format, and the whole body except ``NON_ANSWER_FIELDS``. Everything not on that short list
(unknown ``providerOptions`` included) stays in the key: a needless miss costs money, a wrong hit costs trust.

Canonical JSON makes two bodies that mean the same thing hash the same: keys sorted, no whitespace, UTF-8,
and one form per number (an integral float is written as the exact integer, so ``0``, ``0.0``, ``-0.0`` and
``0e0`` agree and ``1.0 == 1``; other floats use the shortest round-trip form; ints stay exact however big).
NaN and Infinity are not JSON and are refused.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from app.errors import ApiError

NON_ANSWER_FIELDS: frozenset[str] = frozenset({"metadata", "idempotencyKey", "cachePolicy"})

ENTRY_FORMATS: frozenset[str] = frozenset({"killtoken", "openai", "anthropic"})

CACHE_KEY_PREFIX = "kt:cache:"

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"), check_circular=False
)


def canonical_json(value: Any, *, body: Any = None) -> bytes:
    """Serialize a JSON value canonically (see the module docstring) for hashing.

    Raises ``ApiError("invalid_request")`` for NaN/Infinity (a client can send them: Python's JSON parser
    accepts them) and ``TypeError`` for values that are not JSON at all (a caller bug). When ``value`` wraps
    a client body, pass it as ``body`` so the error names the path the client sent (``$.providerOptions...``).
    """
    try:
        normalized = _normalize(value)
    except (ValueError, TypeError):
        _raise_with_path(value if body is None else body, "$")
        _raise_with_path(value, "$")
        raise
    return _ENCODER.encode(normalized).encode("utf-8", "surrogatepass")


def _normalize(value: Any) -> Any:
    """Return ``value`` with every integral float replaced by the exact int (the hot path: no path strings)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not finite")
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("object key")
            out[key] = _normalize(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_normalize(item) for item in value]
    raise TypeError("not JSON")


def _raise_with_path(value: Any, path: str) -> None:
    """Walk again to name where the bad value is (only after the fast walk failed)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ApiError("invalid_request", f"{path}: NaN and Infinity are not valid JSON numbers")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object keys must be strings, got {type(key).__name__}")
            _raise_with_path(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _raise_with_path(item, f"{path}[{index}]")
    elif not (value is None or isinstance(value, (str, bool, int, float))):
        raise TypeError(f"{path}: {type(value).__name__} is not a JSON value")


def answer_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level body fields that can change the answer: everything except ``NON_ANSWER_FIELDS``."""
    return {name: item for name, item in body.items() if name not in NON_ANSWER_FIELDS}


def normalize_endpoint(endpoint: str) -> str:
    """Scheme and host lower-cased, user-info and fragment dropped; path and query kept (api-version matters).

    The caller passes the resolved deployment or endpoint URL without secrets; dropping user-info is a
    second guard. A value that is not a URL (empty, a region name) is used as given.
    """
    parts = urlsplit(endpoint)
    if not parts.scheme or not parts.hostname:
        return endpoint
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, ""))


def cache_key(
    *,
    tenant_id: str,
    credential_id: str,
    credential_version: int,
    provider: str,
    model: str,
    endpoint: str,
    entry_format: str,
    body: dict[str, Any],
) -> str:
    """``kt:cache:`` + SHA-256 hex of canonical JSON of everything that decides the answer, tenant first."""
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ValueError("cache_key needs the authenticated tenant id")
    if not isinstance(credential_id, str) or not credential_id:
        raise ValueError("cache_key needs the credential id")
    if isinstance(credential_version, bool) or not isinstance(credential_version, int):
        raise ValueError("credential_version must be an int")
    if entry_format not in ENTRY_FORMATS:
        raise ValueError(f"entry_format must be one of {sorted(ENTRY_FORMATS)}")
    material = [
        tenant_id,
        {"id": credential_id, "version": credential_version},
        provider,
        model,
        normalize_endpoint(endpoint or ""),
        entry_format,
        answer_fields(body),  # normalized once, by canonical_json
    ]
    return CACHE_KEY_PREFIX + hashlib.sha256(canonical_json(material, body=material[-1])).hexdigest()


def body_fingerprint(body: dict[str, Any], *, context: Mapping[str, Any] | None = None) -> str:
    """SHA-256 hex of the body minus ``NON_ANSWER_FIELDS``: idempotency's "same request?" test.

    ``context`` adds request facts that live outside the body (e.g. the wrappers' ``x-killtoken-provider``
    header), so the same key with the same body but another provider is a reuse, not a replay.
    """
    answer = answer_fields(body)
    material: Any = [answer, dict(context)] if context else answer
    return hashlib.sha256(canonical_json(material, body=answer)).hexdigest()
