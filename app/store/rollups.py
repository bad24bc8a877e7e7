"""``rollups``: one document per tenant/day/provider/model/feature bucket, rebuilt from traces.

A bucket is never incremented: it is recomputed from its traces and written whole, so a duplicated or
redelivered task cannot double count. Ordering between concurrent rebuilds is settled by two sequence
numbers on the bucket: ``markSeq`` grows each time something in the bucket changes (``mark``), and a
rebuild that read ``markSeq = s`` before reading the traces writes only if the stored ``builtSeq < s``,
so a slow rebuild that saw older traces can never overwrite a newer one. ``dirty`` lists buckets to rebuild.
``rollup_state`` keeps the scan watermark of the periodic task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

COLLECTION = "rollups"
STATE = "rollup_state"

INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("tenantId", ASCENDING), ("dayStart", ASCENDING)], {"name": "tenant_day"}),
    ([("dirty", ASCENDING), ("dirtyAt", ASCENDING)], {"name": "dirty", "sparse": True}),
]

KEY_FIELDS = ("tenantId", "day", "provider", "model", "feature")


def bucket_id(tenant_id: str, day: str, provider: str | None, model: str | None, feature: str | None) -> str:
    return "|".join([tenant_id, day, provider or "", model or "", feature or ""])


def mark(db: Database, key: dict[str, Any], now: datetime) -> None:
    """Record that the bucket's traces changed; creates the bucket shell on first use."""
    db[COLLECTION].update_one(
        {"_id": bucket_id(*(key[name] for name in KEY_FIELDS))},
        {"$inc": {"markSeq": 1}, "$set": {"dirty": True, "dirtyAt": now},
         "$setOnInsert": {**key, "builtSeq": 0, "stats": None}},
        upsert=True,
    )


def get(db: Database, bucket: str) -> dict[str, Any] | None:
    return db[COLLECTION].find_one({"_id": bucket})


def write_built(db: Database, bucket: str, seq: int, stats: dict[str, Any], now: datetime) -> bool:
    """Store a rebuild made after reading ``markSeq = seq``; False when a newer rebuild is already stored."""
    try:
        result = db[COLLECTION].update_one(
            {"_id": bucket, "builtSeq": {"$lt": seq}},
            {"$set": {"stats": stats, "builtSeq": seq, "builtAt": now}},
        )
    except DuplicateKeyError:  # pragma: no cover - update without upsert never inserts
        return False
    if result.modified_count:
        db[COLLECTION].update_one({"_id": bucket, "markSeq": seq}, {"$set": {"dirty": False}})
        return True
    return False


def dirty(db: Database, limit: int) -> list[dict[str, Any]]:
    return list(db[COLLECTION].find({"dirty": True}, {"_id": 1, "markSeq": 1}).sort("dirtyAt", ASCENDING)
                .limit(limit))


def find_range(db: Database, tenant_id: str, start: datetime, end: datetime,
               filters: dict[str, Any]) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"tenantId": tenant_id, "dayStart": {"$gte": start, "$lt": end}}
    query.update(filters)
    return list(db[COLLECTION].find(query).sort([("dayStart", ASCENDING), ("_id", ASCENDING)]))


def scanned_until(db: Database) -> datetime | None:
    doc = db[STATE].find_one({"_id": "scan"})
    return None if doc is None else doc.get("scannedUntil")


def set_scanned_until(db: Database, at: datetime) -> None:
    db[STATE].update_one({"_id": "scan"}, {"$max": {"scannedUntil": at}}, upsert=True)
