"""KILLTOKEN_BOOTSTRAP_TENANTS: tenants and keys that must exist at start (idempotent, race-safe).

Parsed and checked when the app is created (a malformed key stops start-up with a clear message that never
shows the key); applied on first use of the database in each process, which for the embedded store is the
only process that holds it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from app.config import ConfigError
from app.security import api_keys
from app.store import api_keys as key_store
from app.store import tenants as tenant_store

log = logging.getLogger("killtoken.bootstrap")


@dataclass(frozen=True)
class BootstrapEntry:
    name: str
    key: str


def parse(spec: str) -> list[BootstrapEntry]:
    entries = []
    for number, item in enumerate(filter(None, (part.strip() for part in spec.split(","))), start=1):
        name, sep, key = item.partition(":")
        name, key = name.strip(), key.strip()
        if not sep or not name:
            raise ConfigError(f"KILLTOKEN_BOOTSTRAP_TENANTS: entry #{number} must be NAME:kt_...")
        if not api_keys.is_well_formed(key):
            raise ConfigError(f"KILLTOKEN_BOOTSTRAP_TENANTS: the key of tenant {name!r} is malformed: it must be "
                              "kt_ followed by at least 43 base62 characters (make key prints a fresh one)")
        entries.append(BootstrapEntry(name, key))
    return entries


def apply(db: Database, entries: list[BootstrapEntry]) -> None:
    for entry in entries:
        key_hash = api_keys.hash_key(entry.key)
        existing = key_store.find_by_hash(db, key_hash)
        if existing is not None:
            if existing.get("revokedAt") is not None:
                log.warning("bootstrap key of tenant %r is revoked; left revoked", entry.name)
            continue
        tenant_id = "ten_" + hashlib.sha256(f"bootstrap:{entry.name}".encode()).hexdigest()[:24]
        db[tenant_store.COLLECTION].update_one(
            {"_id": tenant_id},
            {"$setOnInsert": {"name": entry.name, "createdAt": key_store._now(), "bootstrap": True}},
            upsert=True,
        )
        try:
            key_store.add(db, tenant_id, entry.key)
        except DuplicateKeyError:
            pass  # another worker won the race
        log.info("bootstrap tenant %r ready (%s)", entry.name, tenant_id)
