"""The ``api_keys`` collection: sha256 of each tenant key (unique), a preview, and revocation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

from app.security import api_keys
from app.security.ids import new_id

COLLECTION = "api_keys"
INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("keyHash", ASCENDING)], {"name": "key_hash", "unique": True}),
    ([("tenantId", ASCENDING)], {"name": "tenant"}),
]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def add(db: Database, tenant_id: str, key: str) -> dict[str, Any]:
    """Store a key by hash; the caller shows the full key once and forgets it."""
    doc = {
        "_id": new_id("key"),
        "tenantId": tenant_id,
        "keyHash": api_keys.hash_key(key),
        "preview": api_keys.preview(key),
        "createdAt": _now(),
        "revokedAt": None,
    }
    db[COLLECTION].insert_one(doc)
    return doc


def find_active_by_hash(db: Database, key_hash: str) -> dict[str, Any] | None:
    return db[COLLECTION].find_one({"keyHash": key_hash, "revokedAt": None})


def find_by_hash(db: Database, key_hash: str) -> dict[str, Any] | None:
    return db[COLLECTION].find_one({"keyHash": key_hash})


def revoke(db: Database, key_id: str) -> bool:
    result = db[COLLECTION].update_one({"_id": key_id, "revokedAt": None}, {"$set": {"revokedAt": _now()}})
    return result.modified_count == 1
