"""``templates``: one document per (tenant, template fingerprint); counts and times only, never text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

COLLECTION = "templates"

INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("tenantId", ASCENDING), ("requests", DESCENDING)], {"name": "tenant_requests"}),
]


def record_use(db: Database, tenant_id: str, template_id: str, at: datetime) -> None:
    """Count one use. Callers guard against redelivery (only after winning the trace's measurement claim)."""
    db[COLLECTION].update_one(
        {"_id": template_id, "tenantId": tenant_id},
        {"$setOnInsert": {"firstSeenAt": at}, "$max": {"lastSeenAt": at}, "$inc": {"requests": 1}},
        upsert=True,
    )


def get_many(db: Database, tenant_id: str, template_ids: list[str]) -> dict[str, dict[str, Any]]:
    docs = db[COLLECTION].find({"tenantId": tenant_id, "_id": {"$in": template_ids}})
    return {doc["_id"]: doc for doc in docs}
