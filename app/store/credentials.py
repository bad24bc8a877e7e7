"""The ``provider_credentials`` collection: sealed secrets, non-secret config, preview, status, version.

``activeSlot`` ("<tenant>|<provider>") is set only on the active credential and carries a unique sparse
index: the database itself guarantees at most one active credential per tenant and provider.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database

COLLECTION = "provider_credentials"
INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("activeSlot", ASCENDING)], {"name": "one_active_per_provider", "unique": True, "sparse": True}),
    ([("tenantId", ASCENDING), ("createdAt", ASCENDING)], {"name": "tenant"}),
]


def now() -> datetime:
    """UTC now at MongoDB's millisecond resolution (what a read returns is what the write answered)."""
    value = datetime.now(UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def slot(tenant_id: str, provider: str) -> str:
    return f"{tenant_id}|{provider}"


def insert(db: Database, doc: dict[str, Any]) -> None:
    db[COLLECTION].insert_one(doc)


def find_active(db: Database, tenant_id: str, provider: str) -> dict[str, Any] | None:
    return db[COLLECTION].find_one({"activeSlot": slot(tenant_id, provider)})


def get(db: Database, tenant_id: str, credential_id: str) -> dict[str, Any] | None:
    return db[COLLECTION].find_one({"_id": credential_id, "tenantId": tenant_id, "status": "active"})


def list_active(db: Database, tenant_id: str) -> list[dict[str, Any]]:
    return list(db[COLLECTION].find({"tenantId": tenant_id, "status": "active"}).sort("createdAt", ASCENDING))


def replace_version(db: Database, tenant_id: str, credential_id: str, expected_version: int,
                    fields: dict[str, Any]) -> dict[str, Any] | None:
    """Optimistic update: only applies over the version the caller read."""
    return db[COLLECTION].find_one_and_update(
        {"_id": credential_id, "tenantId": tenant_id, "status": "active", "version": expected_version},
        {"$set": {**fields, "version": expected_version + 1, "updatedAt": now()}},
        return_document=ReturnDocument.AFTER,
    )


def deactivate(db: Database, tenant_id: str, credential_id: str) -> bool:
    result = db[COLLECTION].update_one(
        {"_id": credential_id, "tenantId": tenant_id, "status": "active"},
        {"$set": {"status": "deleted", "deletedAt": now(), "sealed": None}, "$unset": {"activeSlot": ""},
         "$inc": {"version": 1}},
    )
    return result.modified_count == 1


def record_test(db: Database, tenant_id: str, credential_id: str, result: dict[str, Any]) -> None:
    db[COLLECTION].update_one({"_id": credential_id, "tenantId": tenant_id},
                              {"$set": {"lastTest": result}})
