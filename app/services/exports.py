"""The request CSV export: fixed, privacy-safe columns (no prompt, completion or metadata), streamed.

Rows come oldest first in keyset order so a long export never holds more than one batch in memory. Cells a
spreadsheet would read as a formula (tenant-chosen feature tags, model names) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

from app.errors import ApiError
from app.optimize.pricing import nanos_to_usd
from app.services.reports import Query, iso
from app.store import traces

BATCH = 500
COLUMNS = (
    "requestId", "createdAt", "entryPoint", "provider", "model", "optimizationMode", "feature", "cacheStatus",
    "idempotencyStatus", "status", "httpStatus", "errorCode", "inputTokens", "cachedInputTokens",
    "cacheWriteInputTokens", "outputTokens", "reasoningTokens", "costUsd", "priceVersion", "cacheSavingsUsd",
    "verifiedSavingsUsd", "estimatedSavingsUsd", "potentialSavingsUsd", "tokensRemoved", "wasteTokens",
    "wasteUsd", "templateId", "measurement", "latencyMs", "providerLatencyMs", "overheadMs",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Extra exact-match filters of the CSV export (besides from/to/provider/model/feature) and their values.
TRACE_FILTERS: dict[str, tuple[str, ...]] = {
    "optimizationMode": ("measure_only", "safe"),
    "cacheStatus": ("bypass", "miss", "hit", "write", "disabled", "unavailable"),
    "status": ("ok", "error"),
}
_USAGE = ("inputTokens", "cachedInputTokens", "cacheWriteInputTokens", "outputTokens", "reasoningTokens")


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def row(trace: dict[str, Any]) -> list[Any]:
    usage = trace.get("usage") or {}
    savings = trace.get("savings") or {}
    waste = trace.get("waste") or {}
    optimization = trace.get("optimization") or {}
    removed = sum(int(item.get("tokensRemoved") or 0) for item in optimization.get("applied") or [])
    values = {
        "requestId": trace["_id"], "createdAt": iso(trace.get("createdAt")),
        **{name: trace.get(name) for name in ("entryPoint", "provider", "model", "optimizationMode", "feature",
                                              "cacheStatus", "idempotencyStatus", "status", "httpStatus",
                                              "errorCode", "priceVersion", "templateId", "measurement",
                                              "latencyMs", "providerLatencyMs", "overheadMs")},
        **{name: usage.get(name) for name in _USAGE},
        "costUsd": nanos_to_usd(trace.get("costNanos")),
        "cacheSavingsUsd": nanos_to_usd(int(savings.get("cacheNanos") or 0)),
        "verifiedSavingsUsd": nanos_to_usd(int(savings.get("verifiedNanos") or 0)),
        "estimatedSavingsUsd": nanos_to_usd(int(savings.get("estimatedNanos") or 0)),
        "potentialSavingsUsd": nanos_to_usd(int(savings.get("potentialNanos") or 0)),
        "tokensRemoved": removed if optimization else None,
        "wasteTokens": waste.get("totalTokens"),
        "wasteUsd": nanos_to_usd(waste.get("totalNanos")),
    }
    return [_safe("" if values[name] is None else values[name]) for name in COLUMNS]


def _line(cells: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


def trace_filters(args: Mapping[str, str]) -> dict[str, str]:
    """The CSV-only filters present in ``args``; a value outside the known set is 400 ``invalid_request``."""
    out: dict[str, str] = {}
    for name, allowed in TRACE_FILTERS.items():
        value = args.get(name)
        if value is None:
            continue
        if value not in allowed:
            raise ApiError("invalid_request", f"{name} must be one of {', '.join(allowed)}", param=name)
        out[name] = value
    return out


def requests_csv(db: Database, tenant_id: str, query: Query, extra: dict[str, str] | None = None
                 ) -> Iterator[str]:
    """Yield the header and then one line per trace in [from, to), filtered like the summary."""
    yield _line(list(COLUMNS))
    base: dict[str, Any] = {"tenantId": tenant_id, **query.filters(), **(extra or {})}
    last: tuple[Any, str] | None = None
    while True:
        window: dict[str, Any] = {"$gte": query.start, "$lt": query.end}
        find = {**base, "createdAt": window}
        if last is not None:
            find["$or"] = [{"createdAt": {"$gt": last[0]}}, {"createdAt": last[0], "_id": {"$gt": last[1]}}]
        batch = list(traces.collection(db).find(find).sort([("createdAt", ASCENDING), ("_id", ASCENDING)])
                     .limit(BATCH))
        for trace in batch:
            yield _line(row(trace))
        if len(batch) < BATCH:
            return
        last = (batch[-1]["createdAt"], batch[-1]["_id"])
