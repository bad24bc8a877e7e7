"""Idempotency keys: one atomic claim per (tenant, entry point, key), a stored outcome replayed for 24 h.

A lost record bills a retry twice, so this module fails closed: any Redis failure in ``begin`` is a 503
``idempotency_unavailable`` and the request is not run unprotected. Each Redis key is
``kt:idem:<sha256 of [tenant, entry point, key]>``, so neither the client's key nor anything secret appears in
a key name. A record holds either a running claim (random token + body fingerprint, expiring after the lease,
so a crashed worker's claim frees itself) or a finished outcome (fingerprint + the pipeline's outcome dict,
expiring after ``ttl_seconds``). Claim, complete and release are single Lua scripts: the check and the write
can never interleave with another worker's.

After the provider has answered, the response must still be sent, so ``complete`` and ``release`` never raise
on Redis failure: they log and return False. A claim that could not be completed stays "running" until its
lease ends (retries get 409 until then, and may run again after); a claim that could not be released also
expires with its lease.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from dataclasses import dataclass
from typing import Any

import redis

from app.errors import ApiError
from app.services.cache_key import canonical_json
from app.services.exact_cache import decode_entry, encode_entry

log = logging.getLogger("killtoken.idempotency")

IDEMPOTENCY_KEY_PREFIX = "kt:idem:"
MAX_KEY_LENGTH = 255
DEFAULT_RETRY_AFTER_CAP_SECONDS = 5

_RUNNING = b"r"
_DONE = b"d"
_SEP = b"|"

# Claim the key if nobody holds it; else return what is there and its remaining life (ms).
_BEGIN_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1}
end
return {0, redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
"""

# Store the outcome if the claim is still ours, or if the record is gone (the lease ran out and nobody
# re-claimed: the provider was billed, so keeping the result still saves a second bill).
_COMPLETE_LUA = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] or not current then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def validate_key(raw: Any) -> str | None:
    """The ``idempotencyKey`` field or ``Idempotency-Key`` header: None, or a string of 1–255 characters."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ApiError("invalid_idempotency_key",
                       f"idempotencyKey must be a string of 1 to {MAX_KEY_LENGTH} characters")
    if not 1 <= len(raw) <= MAX_KEY_LENGTH:
        raise ApiError("invalid_idempotency_key",
                       f"idempotencyKey must be 1 to {MAX_KEY_LENGTH} characters (got {len(raw)})")
    return raw


def redis_key(tenant_id: str, entry_point: str, key: str, prefix: str = IDEMPOTENCY_KEY_PREFIX) -> str:
    """The record's Redis key: a hash, so the client's key never appears in Redis key names or logs."""
    return prefix + hashlib.sha256(canonical_json([tenant_id, entry_point, key])).hexdigest()


@dataclass(frozen=True)
class Claim:
    """The result of ``begin``: ``replay`` is None when this request owns the key and must run.

    ``redis_key`` is safe to log or trace (a hash); ``token`` identifies this claim for complete/release.
    """

    redis_key: str
    fingerprint: str
    token: str
    replay: dict[str, Any] | None = None

    @property
    def owned(self) -> bool:
        return self.replay is None

    def _value(self) -> bytes:
        return _RUNNING + _SEP + self.token.encode() + _SEP + self.fingerprint.encode()


class IdempotencyStore:
    """Atomic claims with a lease, outcomes kept ``ttl_seconds``; see the module docstring."""

    def __init__(self, client: redis.Redis, ttl_seconds: int, lease_seconds: int, *,
                 key_prefix: str = IDEMPOTENCY_KEY_PREFIX,
                 retry_after_cap_seconds: int = DEFAULT_RETRY_AFTER_CAP_SECONDS) -> None:
        if ttl_seconds <= 0 or lease_seconds <= 0:
            raise ValueError("idempotency records always carry a TTL and a lease")
        self._client = client
        self._ttl = int(ttl_seconds)
        self._lease_ms = int(lease_seconds * 1000)
        self._prefix = key_prefix
        self._retry_after_cap = max(1, int(retry_after_cap_seconds))
        self._begin = client.register_script(_BEGIN_LUA)
        self._complete = client.register_script(_COMPLETE_LUA)
        self._release = client.register_script(_RELEASE_LUA)

    def begin(self, tenant_id: str, entry_point: str, key: str, fingerprint: str) -> Claim:
        """Claim the key, or return the stored outcome to replay; 409 while running, 422 on another body."""
        if not tenant_id:
            raise ValueError("begin needs the authenticated tenant id")
        if not fingerprint or "|" in fingerprint:
            raise ValueError("fingerprint must be body_fingerprint()'s hex digest")
        name = redis_key(tenant_id, entry_point, key, self._prefix)
        claim = Claim(redis_key=name, fingerprint=fingerprint, token=secrets.token_hex(16))
        try:
            result = self._begin(keys=[name], args=[claim._value(), self._lease_ms])
        except (redis.RedisError, OSError) as exc:
            log.warning("idempotency store unavailable on begin (%s…): %s", name[:20], type(exc).__name__)
            raise ApiError("idempotency_unavailable") from exc
        if int(result[0]) == 1:
            return claim
        current, pttl = result[1], int(result[2])
        if current is None:
            # Cannot happen inside one script (Redis freezes time for it); refuse rather than run unprotected.
            raise ApiError("idempotency_unavailable", "The idempotency record vanished while read; retry.")
        return self._resolve(name, current, pttl, claim)

    def _resolve(self, name: str, current: bytes, pttl: int, claim: Claim) -> Claim:
        state, _, rest = current.partition(_SEP)
        if state == _RUNNING:
            _token, _, running_fp = rest.partition(_SEP)
            if running_fp.decode() != claim.fingerprint:
                raise ApiError("idempotency_key_reused",
                               "This idempotency key is in use by a request with a different body.")
            retry_after = min(self._retry_after_cap, max(1, math.ceil(max(pttl, 0) / 1000)))
            raise ApiError("idempotency_in_progress", headers={"retry-after": str(retry_after)})
        if state == _DONE:
            stored_fp, _, payload = rest.partition(_SEP)
            if stored_fp.decode() != claim.fingerprint:
                raise ApiError("idempotency_key_reused",
                               "This idempotency key was used before with a different body.")
            try:
                outcome = decode_entry(payload)
            except (ValueError, UnicodeDecodeError) as exc:
                log.error("unreadable idempotency record %s…: %s", name[:20], exc)
                raise ApiError("idempotency_unavailable", "The stored result is unreadable.") from exc
            return Claim(redis_key=name, fingerprint=claim.fingerprint, token="", replay=outcome)
        log.error("unknown idempotency record format at %s…", name[:20])
        raise ApiError("idempotency_unavailable", "The stored idempotent result is unreadable.")

    def complete(self, claim: Claim, outcome: dict[str, Any]) -> bool:
        """Store ``outcome`` for ``ttl_seconds`` if the claim is still ours (or lapsed unclaimed).

        Never raises on Redis failure (the response must still go out): logs and returns False, and the
        claim then lapses with its lease.
        """
        if not claim.owned:
            raise ValueError("complete() needs a claim that begin() granted, not a replay")
        try:
            value = _DONE + _SEP + claim.fingerprint.encode() + _SEP + encode_entry(outcome)
        except (TypeError, ValueError) as exc:  # a caller bug; the response must still go out
            log.error("idempotent result not storable (%s…): %s", claim.redis_key[:20], type(exc).__name__)
            return False
        try:
            stored = int(self._complete(keys=[claim.redis_key], args=[claim._value(), value, self._ttl]))
        except (redis.RedisError, OSError) as exc:
            log.warning("idempotent result not stored (%s…): %s; the claim lapses with its lease",
                        claim.redis_key[:20], type(exc).__name__)
            return False
        if not stored:
            log.warning("idempotent result not stored (%s…): the claim was taken over after its lease",
                        claim.redis_key[:20])
        return bool(stored)

    def release(self, claim: Claim) -> bool:
        """Drop the claim if still ours so a retry runs (after provider 429, 5xx, timeouts).

        Never raises on Redis failure: logs and returns False; the claim then lapses with its lease.
        """
        if not claim.owned:
            return False
        try:
            return bool(int(self._release(keys=[claim.redis_key], args=[claim._value()])))
        except (redis.RedisError, OSError) as exc:
            log.warning("idempotency claim not released (%s…): %s; it lapses with its lease",
                        claim.redis_key[:20], type(exc).__name__)
            return False
