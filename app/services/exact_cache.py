"""Exact cache: the cache policy parsers and the Redis-backed store of successful provider answers.

The cache is an optimization, never a dependency: every Redis failure (down, refusing, slow, out of memory)
becomes ``CacheUnavailable`` so the pipeline serves the request without the cache and reports
``cacheStatus: "unavailable"``. Entries are compact JSON, zlib-compressed past a small size, and always
written with a TTL. The key comes from ``app.services.cache_key.cache_key``; this module never builds one.
"""

from __future__ import annotations

import json
import logging
import zlib
from typing import Any

import redis

from app.errors import ApiError

log = logging.getLogger("killtoken.cache")

POLICIES = ("bypass", "read_only", "write_only", "read_write")

# Which policies look up before the provider call, and which store a successful answer after it.
READ_POLICIES = frozenset({"read_only", "read_write"})
WRITE_POLICIES = frozenset({"write_only", "read_write"})

# Stored-value format: one marker byte, then JSON (``j``) or zlib-compressed JSON (``z``).
_RAW = b"j"
_ZLIB = b"z"
COMPRESS_OVER_BYTES = 1024
DEFAULT_MAX_ENTRY_BYTES = 8 * 1024 * 1024


class CacheUnavailable(Exception):
    """Redis could not serve a cache call; the request goes on without the cache."""


def reads(policy: str) -> bool:
    """True when ``policy`` looks the answer up before calling the provider."""
    return policy in READ_POLICIES


def writes(policy: str) -> bool:
    """True when ``policy`` stores a successful provider answer."""
    return policy in WRITE_POLICIES


def _check_policy(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in POLICIES:
        shown = repr(value) if isinstance(value, str) and len(value) <= 40 else type(value).__name__
        raise ApiError("invalid_cache_policy", f"{where} must be one of {', '.join(POLICIES)} (got {shown})")
    return value


def parse_policy(raw: Any) -> str:
    """The ``/v1/chat`` body's ``cachePolicy``: absent → ``bypass``, else ``{"exactCache": <policy>}``."""
    if raw is None:
        return "bypass"
    if not isinstance(raw, dict):
        raise ApiError("invalid_cache_policy",
                       'cachePolicy must be an object like {"exactCache": "read_write"}')
    unknown = sorted(str(name) for name in raw if name != "exactCache")
    if unknown:
        raise ApiError("invalid_cache_policy",
                       f"cachePolicy has unknown field(s) {', '.join(unknown)[:200]}; "
                       "only exactCache is allowed")
    if "exactCache" not in raw:
        return "bypass"
    return _check_policy(raw["exactCache"], "cachePolicy.exactCache")


def parse_policy_header(value: str | None) -> str:
    """The wrappers' ``x-killtoken-cache`` header: absent → ``bypass``; else one of ``POLICIES``."""
    if value is None:
        return "bypass"
    return _check_policy(value.strip().lower(), "x-killtoken-cache header")


def encode_entry(entry: dict[str, Any]) -> bytes:
    """Compact JSON with a marker byte; zlib past ``COMPRESS_OVER_BYTES`` (provider bodies compress well)."""
    data = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    if len(data) > COMPRESS_OVER_BYTES:
        packed = zlib.compress(data, 1)
        if len(packed) < len(data):
            return _ZLIB + packed
    return _RAW + data


def decode_entry(raw: bytes) -> dict[str, Any]:
    """The inverse of ``encode_entry``; ValueError when the value is not one of ours."""
    marker, data = raw[:1], raw[1:]
    if marker == _ZLIB:
        try:
            data = zlib.decompress(data)
        except zlib.error as exc:
            raise ValueError("corrupt compressed entry") from exc
    elif marker != _RAW:
        raise ValueError("unknown entry format")
    value = json.loads(data.decode("utf-8", "surrogatepass"))
    if not isinstance(value, dict):
        raise ValueError("entry is not an object")
    return value


class ExactCache:
    """Successful provider answers by exact key, each with the TTL ``ttl_seconds``."""

    def __init__(self, client: redis.Redis, ttl_seconds: int,
                 max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES) -> None:
        if ttl_seconds <= 0:
            raise ValueError("cache entries always carry a TTL")
        self._client = client
        self._ttl = int(ttl_seconds)
        self._max_entry_bytes = max_entry_bytes

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry, or None on a miss. A value we cannot decode counts as a miss (and is logged)."""
        try:
            raw = self._client.get(key)
        except (redis.RedisError, OSError) as exc:
            raise CacheUnavailable(f"cache read failed: {type(exc).__name__}") from exc
        if raw is None:
            return None
        try:
            return decode_entry(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("unreadable cache entry %s… treated as a miss: %s", key[:24], exc)
            return None

    def put(self, key: str, entry: dict[str, Any]) -> bool:
        """Store ``entry`` with the TTL; False when it was skipped for being over ``max_entry_bytes``.

        An entry that cannot be serialized raises ``CacheUnavailable`` too: the answer is still returned.
        """
        try:
            data = encode_entry(entry)
        except (TypeError, ValueError) as exc:  # a caller bug; after a billed call, never fail the request
            log.error("cache entry %s… not storable: %s", key[:24], type(exc).__name__)
            raise CacheUnavailable("cache entry is not JSON-serializable") from exc
        if len(data) > self._max_entry_bytes:
            log.info("cache entry %s… not stored: %d bytes over the %d limit",
                     key[:24], len(data), self._max_entry_bytes)
            return False
        try:
            self._client.set(key, data, ex=self._ttl)
        except (redis.RedisError, OSError) as exc:
            raise CacheUnavailable(f"cache write failed: {type(exc).__name__}") from exc
        return True
