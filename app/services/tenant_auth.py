"""Verify a Bearer tenant key, with a per-process cache no older than KILLTOKEN_KEY_CACHE_SECONDS (<= 1 s).

Missing, unknown and revoked keys all raise the same 401 ``invalid_api_key`` with the same body; every path
does one hash and one (cached) lookup, so their timing class is the same. The key is never echoed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pymongo.database import Database

from app.errors import ApiError
from app.security import api_keys
from app.store import api_keys as key_store


@dataclass(frozen=True)
class TenantContext:
    tenant_id: str
    key_id: str


_UNAUTHORIZED_MESSAGE = "Missing, unknown, or revoked KillToken API key."


def unauthorized() -> ApiError:
    return ApiError("invalid_api_key", _UNAUTHORIZED_MESSAGE,
                    headers={"www-authenticate": 'Bearer realm="killtoken"'})


class KeyVerifier:
    """Caches hash → tenant (or → unknown) for at most ``ttl`` seconds, so revocation applies within it.

    Unknown keys live in their own, smaller cache: a flood of random keys can only evict other unknown keys,
    never a valid tenant's entry.
    """

    def __init__(self, ttl: float, max_entries: int = 10000, max_unknown: int = 2000) -> None:
        self._ttl = ttl
        self._caches: dict[bool, tuple[int, dict[str, tuple[float, TenantContext | None]]]] = {
            True: (max_entries, {}), False: (max_unknown, {})}

    def verify(self, db: Database, presented: str | None) -> TenantContext:
        key = presented or ""
        key_hash = api_keys.hash_key(key)
        now = time.monotonic()
        hit = self._caches[True][1].get(key_hash) or self._caches[False][1].get(key_hash)
        if hit is not None and now - hit[0] < self._ttl:
            context = hit[1]
        else:
            context = None
            doc = key_store.find_active_by_hash(db, key_hash)  # always one lookup: same timing class
            if doc is not None and api_keys.is_well_formed(key):
                context = TenantContext(tenant_id=doc["tenantId"], key_id=doc["_id"])
            limit, cache = self._caches[context is not None]
            self._caches[context is None][1].pop(key_hash, None)  # a key revoked (or restored) changes sides
            if len(cache) >= limit:
                cache.clear()
            cache[key_hash] = (now, context)
        if context is None:
            raise unauthorized()
        return context
