"""Rollups per tenant/day/provider/model/feature, recomputed from traces (correct under at-least-once).

Every change to a bucket's traces marks the bucket (measurement, sweeper, the periodic scan of newly
written traces); ``refresh`` rebuilds marked buckets from their traces. Rebuilding is a pure function of the
traces, so duplicated, redelivered or out-of-order tasks converge to the same documents.

``stats`` is a tree of integer counters (money in nanodollars), so merging buckets is exact addition.
Cache hit rate is hits / (hits + misses): the requests that looked the cache up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.database import Database

from app.optimize.waste import CATEGORIES
from app.store import rollups as store
from app.store import traces

log = logging.getLogger("killtoken.rollups")

SCAN_OVERLAP = timedelta(minutes=15)   # > the longest request, so traces written late are still scanned
REBUILD_BATCH = 500
TOP_TEMPLATES_PER_BUCKET = 100
UNTAGGED = "(untagged)"
MEASUREMENT_STATES = ("pending", "measured", "skipped", "failed")

TRACE_FIELDS = {
    "tenantId": 1, "createdAt": 1, "provider": 1, "model": 1, "feature": 1, "status": 1, "cacheStatus": 1,
    "idempotencyStatus": 1, "optimizationMode": 1, "usage": 1, "usageCached": 1, "costNanos": 1,
    "priceVersion": 1, "savings": 1, "optimization": 1, "waste.categories": 1, "waste.potential": 1,
    "templateId": 1, "measurement": 1,
}
USAGE_FIELDS = ("inputTokens", "cachedInputTokens", "cacheWriteInputTokens", "outputTokens", "reasoningTokens")
SAVINGS_FIELDS = ("cacheNanos", "verifiedNanos", "estimatedNanos", "potentialNanos")


def utcnow() -> datetime:
    """Naive UTC, like every datetime stored in MongoDB here."""
    return datetime.now(UTC).replace(tzinfo=None)


def empty_stats() -> dict[str, Any]:
    return {
        "requests": 0, "okRequests": 0, "errorRequests": 0, "billedCalls": 0, "unpricedCalls": 0,
        "cache": {"hits": 0, "misses": 0, "writes": 0, "unavailable": 0, "replays": 0},
        "modes": {"measure_only": 0, "safe": 0},
        "usage": {name: 0 for name in USAGE_FIELDS},
        "costNanos": 0,
        "savings": {**{name: 0 for name in SAVINGS_FIELDS}, "potentialOptimizationNanos": 0,
                    "potentialRepeatNanos": 0},
        "optimization": {"requests": 0, "tokensRemoved": 0, "transforms": {}},
        "waste": {name: {"tokens": 0, "nanos": 0} for name in CATEGORIES},
        "measurement": {name: 0 for name in MEASUREMENT_STATES},
        "templates": {},
        "priceVersions": {},
    }


def day_start(at: datetime) -> datetime:
    return datetime(at.year, at.month, at.day)


def bucket_key(trace: dict[str, Any]) -> dict[str, Any]:
    start = day_start(trace["createdAt"])
    return {"tenantId": trace["tenantId"], "day": start.strftime("%Y-%m-%d"), "dayStart": start,
            "provider": trace.get("provider"), "model": trace.get("model"), "feature": trace.get("feature")}


def mark_trace_dirty(db: Database, trace: dict[str, Any], now: datetime | None = None) -> None:
    if trace.get("tenantId") is None:
        return
    store.mark(db, bucket_key(trace), now or utcnow())


def add_trace(stats: dict[str, Any], trace: dict[str, Any]) -> None:
    """Fold one trace into ``stats``: the one definition of what each counter means."""
    stats["requests"] += 1
    stats["okRequests" if trace.get("status") == "ok" else "errorRequests"] += 1
    cache_status = trace.get("cacheStatus")
    if cache_status == "hit":
        stats["cache"]["hits"] += 1
    elif cache_status == "miss":
        stats["cache"]["misses"] += 1
    elif cache_status == "write":
        stats["cache"]["writes"] += 1
    elif cache_status == "unavailable":
        stats["cache"]["unavailable"] += 1
    if trace.get("idempotencyStatus") == "replayed":
        stats["cache"]["replays"] += 1
    mode = trace.get("optimizationMode")
    if mode in stats["modes"]:
        stats["modes"][mode] += 1
    usage = trace.get("usage")
    billed = usage is not None and not trace.get("usageCached") and cache_status != "hit" \
        and trace.get("idempotencyStatus") != "replayed"
    if billed:
        stats["billedCalls"] += 1
        for name in USAGE_FIELDS:
            stats["usage"][name] += int(usage.get(name) or 0)
        if trace.get("costNanos") is None:
            stats["unpricedCalls"] += 1
    stats["costNanos"] += int(trace.get("costNanos") or 0)
    savings = trace.get("savings") or {}
    for name in SAVINGS_FIELDS:
        stats["savings"][name] += int(savings.get(name) or 0)
    waste = trace.get("waste") or {}
    potential = waste.get("potential") or {}
    stats["savings"]["potentialOptimizationNanos"] += int(potential.get("optimizationNanos") or 0)
    stats["savings"]["potentialRepeatNanos"] += int(potential.get("repeatNanos") or 0)
    _add_optimization(stats["optimization"], trace.get("optimization"))
    for name, category in (waste.get("categories") or {}).items():
        if name in stats["waste"]:
            stats["waste"][name]["tokens"] += int(category.get("tokens") or 0)
            stats["waste"][name]["nanos"] += int(category.get("nanos") or 0)
    state = trace.get("measurement")
    if state in stats["measurement"]:
        stats["measurement"][state] += 1
    template = trace.get("templateId")
    if template:
        stats["templates"][template] = stats["templates"].get(template, 0) + 1
    version = trace.get("priceVersion")
    if version:
        stats["priceVersions"][version] = stats["priceVersions"].get(version, 0) + 1


def _add_optimization(target: dict[str, Any], optimization: dict[str, Any] | None) -> None:
    if not optimization:
        return
    applied = optimization.get("applied") or []
    if applied:
        target["requests"] += 1
    for item in applied:
        slot = target["transforms"].setdefault(item["name"], {"count": 0, "tokensRemoved": 0})
        slot["count"] += int(item.get("count") or 0)
        slot["tokensRemoved"] += int(item.get("tokensRemoved") or 0)
        target["tokensRemoved"] += int(item.get("tokensRemoved") or 0)


def summarize(trace_docs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    stats = empty_stats()
    for trace in trace_docs:
        add_trace(stats, trace)
    return stats


def merge(into: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Exact addition of two stats trees (counters, template and price-version maps)."""
    for name, value in other.items():
        if isinstance(value, dict):
            merge(into.setdefault(name, {}), value)
        else:
            into[name] = into.get(name, 0) + value
    return into


def to_stored(stats: dict[str, Any]) -> dict[str, Any]:
    """Mongo-safe form: maps whose keys are data (templates, price versions) become lists."""
    stored = {k: v for k, v in stats.items() if k not in ("templates", "priceVersions")}
    top = sorted(stats["templates"].items(), key=lambda item: (-item[1], item[0]))[:TOP_TEMPLATES_PER_BUCKET]
    stored["templates"] = [{"templateId": tid, "requests": n} for tid, n in top]
    stored["priceVersions"] = [{"version": v, "requests": n} for v, n in sorted(stats["priceVersions"].items())]
    return stored


def from_stored(stored: dict[str, Any] | None) -> dict[str, Any]:
    if not stored:
        return empty_stats()
    stats = merge(empty_stats(), {k: v for k, v in stored.items() if k not in ("templates", "priceVersions")})
    stats["templates"] = {item["templateId"]: item["requests"] for item in stored.get("templates") or []}
    stats["priceVersions"] = {item["version"]: item["requests"] for item in stored.get("priceVersions") or []}
    return stats


def bucket_query(bucket: dict[str, Any]) -> dict[str, Any]:
    start = bucket["dayStart"]
    return {"tenantId": bucket["tenantId"], "feature": bucket.get("feature"), "provider": bucket.get("provider"),
            "model": bucket.get("model"), "createdAt": {"$gte": start, "$lt": start + timedelta(days=1)}}


def rebuild(db: Database, bucket_id: str, now: datetime | None = None) -> bool:
    """Recompute one bucket from its traces; False when a newer rebuild won (nothing to do)."""
    bucket = store.get(db, bucket_id)
    if bucket is None:
        return False
    seq = int(bucket.get("markSeq") or 0)
    docs = traces.collection(db).find(bucket_query(bucket), TRACE_FIELDS)
    return store.write_built(db, bucket_id, seq, to_stored(summarize(docs)), now or utcnow())


def scan_new_traces(db: Database, now: datetime) -> int:
    """Mark the buckets of traces written since the last scan (with an overlap for late writes)."""
    last = store.scanned_until(db)
    since = (last - SCAN_OVERLAP) if last is not None else datetime(1970, 1, 1)  # first run: everything
    seen: dict[str, dict[str, Any]] = {}
    fields = {"tenantId": 1, "createdAt": 1, "provider": 1, "model": 1, "feature": 1}
    for trace in traces.collection(db).find({"createdAt": {"$gte": since}}, fields):
        if trace.get("tenantId") is None:
            continue
        key = bucket_key(trace)
        seen[store.bucket_id(*(key[name] for name in store.KEY_FIELDS))] = key
    for key in seen.values():
        store.mark(db, key, now)
    store.set_scanned_until(db, now)
    return len(seen)


def rebuild_dirty(db: Database, now: datetime, limit: int = REBUILD_BATCH) -> int:
    rebuilt = 0
    for doc in store.dirty(db, limit):
        if rebuild(db, doc["_id"], now):
            rebuilt += 1
    return rebuilt


def refresh(db: Database, now: datetime | None = None) -> dict[str, int]:
    """The periodic job: mark buckets of new traces, then rebuild every marked bucket."""
    at = now or utcnow()
    marked = scan_new_traces(db, at)
    return {"marked": marked, "rebuilt": rebuild_dirty(db, at)}


def stats_for_range(db: Database, tenant_id: str, start: datetime, end: datetime,
                    filters: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Stats over [start, end): whole days from rollups, partial edge days straight from traces.

    A bucket marked but never built yet (its first minute) is summarized from its traces; a built bucket
    may lag its newest traces until the next rollup run (every minute under beat; before every read in the
    embedded default).

    Returns the merged stats and the per-bucket rows (feature/provider/model breakdowns).
    """
    rows: list[dict[str, Any]] = []
    first_full = day_start(start) if start == day_start(start) else day_start(start) + timedelta(days=1)
    last_full = day_start(end)
    if first_full < last_full:
        for doc in store.find_range(db, tenant_id, first_full, last_full, filters):
            stats = from_stored(doc["stats"]) if doc.get("stats") is not None else summarize(
                traces.collection(db).find(bucket_query(doc), TRACE_FIELDS))  # marked, never built yet
            rows.append({"provider": doc.get("provider"), "model": doc.get("model"),
                         "feature": doc.get("feature"), "day": doc.get("day"), "stats": stats})
        partial = [(start, min(first_full, end)), (max(last_full, start), end)]
    else:
        partial = [(start, end)]
    for lo, hi in partial:
        if lo < hi:
            rows.extend(_trace_rows(db, tenant_id, lo, hi, filters))
    total = empty_stats()
    for row in rows:
        merge(total, row["stats"])
    return total, rows


def _trace_rows(db: Database, tenant_id: str, start: datetime, end: datetime,
                filters: dict[str, Any]) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"tenantId": tenant_id, "createdAt": {"$gte": start, "$lt": end}, **filters}
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for trace in traces.collection(db).find(query, TRACE_FIELDS):
        key = (trace.get("provider"), trace.get("model"), trace.get("feature"),
               trace["createdAt"].strftime("%Y-%m-%d"))
        add_trace(grouped.setdefault(key, empty_stats()), trace)
    return [{"provider": p, "model": m, "feature": f, "day": d, "stats": s} for (p, m, f, d), s in grouped.items()]
