"""The ``request_traces`` collection: one document per request, never any prompt or completion text.

Document shape (field names are what ``GET /v1/requests`` renders, camelCase):

    _id                 requestId, "req_" + 24 base62
    tenantId            str
    createdAt           datetime (UTC, naive in Mongo)
    entryPoint          "chat" | "openai" | "anthropic"
    provider, model     str | None (None when refused before they were known)
    credentialId        str | None
    optimizationMode    "measure_only" | "safe"
    feature             str | None (trimmed, <= 80 chars)
    metadata            tenant metadata object (feature included) or None
    cacheStatus         bypass | miss | hit | write | disabled | unavailable
    idempotencyStatus   none | disabled | unavailable | new | replayed | not_stored | in_progress | conflict
    status              "ok" | "error"
    httpStatus          int
    errorCode           str | None
    providerStatus      int | None (upstream HTTP status when there was a call)
    latencyMs, providerLatencyMs, overheadMs   float
    usage               {inputTokens, cachedInputTokens, cacheWriteInputTokens, outputTokens,
                         reasoningTokens, totalTokens} | None
    usageCached         bool (usage copied from the stored call on a cache hit / replay)
    costUsd             float | None  (what this request was billed; 0 on hit / replay)
    costNanos           int | None    (costUsd in 1e-9 USD, exact, what rollups sum)
    costReason          str | None    (why costUsd is None)
    priceVersion        str | None
    avoidedCostNanos    int           (cache hit / replay: the stored call's cost)
    savings             {cacheNanos, verifiedNanos, estimatedNanos, potentialNanos}
    optimization        {applied: [{name, count, tokensRemoved}], tokensBefore, tokensAfter} | None
    waste               measurement result (see app/optimize/waste.py) | None
    templateId          str | None
    cacheKeyHash        str | None    (sha256 of the exact-cache key: repeat detection, not the key itself)
    measurement         "pending" | "measured" | "skipped" | "failed"
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database

COLLECTION = "request_traces"

INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("tenantId", ASCENDING), ("createdAt", DESCENDING), ("_id", DESCENDING)], {"name": "tenant_time"}),
    ([("tenantId", ASCENDING), ("feature", ASCENDING), ("createdAt", DESCENDING)], {"name": "tenant_feature"}),
    ([("measurement", ASCENDING), ("createdAt", ASCENDING)], {"name": "measurement_sweep"}),
    ([("tenantId", ASCENDING), ("cacheKeyHash", ASCENDING), ("createdAt", DESCENDING)],
     {"name": "tenant_repeat", "sparse": True}),
]

FILTER_FIELDS = ("provider", "model", "optimizationMode", "cacheStatus", "feature", "status")


def collection(db: Database) -> Collection:
    return db[COLLECTION]


def insert(db: Database, trace: dict[str, Any]) -> None:
    """Write the trace of one request (exactly once, keyed by requestId)."""
    collection(db).insert_one(trace)


def get(db: Database, tenant_id: str, request_id: str) -> dict[str, Any] | None:
    return collection(db).find_one({"_id": request_id, "tenantId": tenant_id})


def update_fields(db: Database, request_id: str, fields: dict[str, Any]) -> None:
    collection(db).update_one({"_id": request_id}, {"$set": fields})


def page(
    db: Database,
    tenant_id: str,
    filters: dict[str, Any],
    start: datetime | None,
    end: datetime | None,
    cursor: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated on (createdAt, _id) so pages never skip or repeat under inserts."""
    query: dict[str, Any] = {"tenantId": tenant_id}
    query.update({k: v for k, v in filters.items() if k in FILTER_FIELDS})
    time_range: dict[str, Any] = {}
    if start is not None:
        time_range["$gte"] = start
    if end is not None:
        time_range["$lt"] = end
    if time_range:
        query["createdAt"] = time_range
    if cursor is not None:
        at, last_id = cursor
        query["$or"] = [{"createdAt": {"$lt": at}}, {"createdAt": at, "_id": {"$lt": last_id}}]
    return list(collection(db).find(query).sort([("createdAt", DESCENDING), ("_id", DESCENDING)]).limit(limit))
