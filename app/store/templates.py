"""``templates``: one document per (tenant, template fingerprint): first and last use, never text.

Use counts are not kept here: they come from the rollups, which recompute them from traces, so this
collection is written with idempotent operators only and a redelivered task cannot skew it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

COLLECTION = "templates"

INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("tenantId", ASCENDING), ("lastSeenAt", DESCENDING)], {"name": "tenant_last_seen"}),
]


def record_use(db: Database, tenant_id: str, template_id: str, at: datetime) -> None:
    """Note a use at ``at``; idempotent and order-independent ($min / $max)."""
    db[COLLECTION].update_one(
        {"_id": template_id, "tenantId": tenant_id},
        {"$min": {"firstSeenAt": at}, "$max": {"lastSeenAt": at}},
        upsert=True,
    )


def get_many(db: Database, tenant_id: str, template_ids: list[str]) -> dict[str, dict[str, Any]]:
    docs = db[COLLECTION].find({"tenantId": tenant_id, "_id": {"$in": template_ids}})
    return {doc["_id"]: doc for doc in docs}
