"""Analytics summary, ROI report and analytics export, read from rollups (partial days from traces).

Money is summed in nanodollars and rendered once as USD numbers. Filters: ``from``/``to`` (ISO 8601, UTC;
default the 30 whole UTC days ending with today), ``provider``, ``model``, ``feature`` (``(untagged)``
selects requests without a feature). An unknown parameter or a bad value is 400 ``invalid_request``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.database import Database

from app.errors import ApiError
from app.optimize.pricing import nanos_to_usd
from app.services import rollups
from app.store import templates as template_store

DEFAULT_DAYS = 30
MAX_DAYS = 400
TOP_TEMPLATES = 10
QUERY_PARAMS = ("from", "to", "provider", "model", "feature")

METHODS = {
    "cache": "Sum over exact-cache hits and idempotent replays of the stored provider call's cost "
             "(the call that was avoided). Certain.",
    "verified": "Sum over provider calls of provider-reported cached input tokens × (input rate − cached "
                "rate), minus cache-write tokens × (write rate − input rate), from each provider's own usage "
                "fields and genai-prices rates at the request's price version. Certain; can be negative "
                "while caches are being written.",
    "estimated": "Tokens removed by safe-mode optimization (counted with the model's tokenizer: exact for "
                 "OpenAI encodings, o200k_base × a learned calibration ratio elsewhere) × the model's input "
                 "rate at the request's tier. Estimated.",
    "potential": "measure_only traffic: tokens safe mode would have removed × the input rate; plus, for any "
                 "billed request, its cost when it exactly repeated (same cache key) a successful request "
                 "within the cache TTL and was not served from the cache. Not realized.",
}


@dataclass(frozen=True)
class Query:
    start: datetime
    end: datetime
    provider: str | None
    model: str | None
    feature: str | None
    feature_given: bool

    def filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.provider is not None:
            out["provider"] = self.provider
        if self.model is not None:
            out["model"] = self.model
        if self.feature_given:
            out["feature"] = self.feature
        return out

    def describe(self) -> dict[str, Any]:
        return {"from": iso(self.start), "to": iso(self.end), "provider": self.provider, "model": self.model,
                "feature": (self.feature or rollups.UNTAGGED) if self.feature_given else None}


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def parse_time(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ApiError("invalid_request", f"{name} must be an ISO 8601 date or time", param=name) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def parse_query(args: Mapping[str, str], now: datetime, allowed: tuple[str, ...] = QUERY_PARAMS) -> Query:
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise ApiError("invalid_request", f"unknown query parameter {unknown[0]!r}; allowed: "
                       f"{', '.join(allowed)}", param=unknown[0])
    end = parse_time(args["to"], "to") if args.get("to") else rollups.day_start(now) + timedelta(days=1)
    start = parse_time(args["from"], "from") if args.get("from") else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ApiError("invalid_request", "from must be earlier than to", param="from")
    if end - start > timedelta(days=MAX_DAYS):
        raise ApiError("invalid_request", f"the range may cover at most {MAX_DAYS} days", param="from")
    values: dict[str, str | None] = {}
    for name in ("provider", "model", "feature"):
        raw = args.get(name)
        if raw is not None and (not raw.strip() or len(raw) > 200):
            raise ApiError("invalid_request", f"{name} must be a non-empty string of at most 200 characters",
                           param=name)
        values[name] = raw.strip() if raw is not None else None
    feature = values["feature"]
    return Query(start, end, values["provider"], values["model"],
                 None if feature == rollups.UNTAGGED else feature, feature is not None)


def realized_nanos(savings: dict[str, Any]) -> int:
    """What KillToken itself saved: avoided calls (cache, replays) and safe-mode removals.

    Verified savings are the provider's own prompt-cache discount: KillToken measures and verifies them, but the
    tenant would get them without the gateway, so they are reported beside, not inside, the realized figure.
    """
    return savings["cacheNanos"] + savings["estimatedNanos"]


def _savings_usd(stats: dict[str, Any]) -> dict[str, Any]:
    savings = stats["savings"]
    realized = realized_nanos(savings)
    return {"cacheUsd": nanos_to_usd(savings["cacheNanos"]), "verifiedUsd": nanos_to_usd(savings["verifiedNanos"]),
            "estimatedUsd": nanos_to_usd(savings["estimatedNanos"]),
            "potentialUsd": nanos_to_usd(savings["potentialNanos"]), "realizedUsd": nanos_to_usd(realized)}


def _hit_rate(stats: dict[str, Any]) -> float | None:
    lookups = stats["cache"]["hits"] + stats["cache"]["misses"]
    return None if lookups == 0 else round(stats["cache"]["hits"] / lookups, 6)


def _totals(stats: dict[str, Any]) -> dict[str, Any]:
    return {"requests": stats["requests"], "okRequests": stats["okRequests"],
            "errorRequests": stats["errorRequests"], "billedCalls": stats["billedCalls"],
            "unpricedCalls": stats["unpricedCalls"], **stats["usage"], "spendUsd": nanos_to_usd(stats["costNanos"])}


def _group(rows: list[dict[str, Any]], key: Any) -> dict[Any, dict[str, Any]]:
    grouped: dict[Any, dict[str, Any]] = {}
    for row in rows:
        rollups.merge(grouped.setdefault(key(row), rollups.empty_stats()), row["stats"])
    return grouped


def _feature_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    grouped = _group(rows, lambda row: row["feature"] or rollups.UNTAGGED)
    out = [{"feature": feature, "requests": stats["requests"], "spendUsd": nanos_to_usd(stats["costNanos"]),
            "savings": _savings_usd(stats), "cacheHits": stats["cache"]["hits"], "cacheHitRate": _hit_rate(stats),
            "replays": stats["cache"]["replays"]}
           for feature, stats in grouped.items()]
    return sorted(out, key=lambda item: (-item["requests"], item["feature"]))


def _top_templates(db: Database, tenant_id: str, stats: dict[str, Any]) -> list[dict[str, Any]]:
    top = sorted(stats["templates"].items(), key=lambda item: (-item[1], item[0]))[:TOP_TEMPLATES]
    meta = template_store.get_many(db, tenant_id, [tid for tid, _ in top])
    return [{"templateId": tid, "requests": count,
             "firstSeenAt": iso(meta.get(tid, {}).get("firstSeenAt")),
             "lastSeenAt": iso(meta.get(tid, {}).get("lastSeenAt"))} for tid, count in top]


def _price_versions(stats: dict[str, Any]) -> list[str]:
    return sorted(stats["priceVersions"])


def summary(db: Database, tenant_id: str, query: Query) -> dict[str, Any]:
    stats, rows = rollups.stats_for_range(db, tenant_id, query.start, query.end, query.filters())
    return {
        "period": {"from": iso(query.start), "to": iso(query.end)},
        "filters": query.describe(),
        "totals": _totals(stats),
        "savings": _savings_usd(stats),
        "cache": {"hits": stats["cache"]["hits"], "misses": stats["cache"]["misses"],
                  "lookups": stats["cache"]["hits"] + stats["cache"]["misses"], "hitRate": _hit_rate(stats),
                  "replays": stats["cache"]["replays"]},
        "optimization": {"modes": stats["modes"], "optimizedRequests": stats["optimization"]["requests"],
                         "tokensRemoved": stats["optimization"]["tokensRemoved"],
                         "transforms": stats["optimization"]["transforms"]},
        "waste": {name: {"tokens": value["tokens"], "usd": nanos_to_usd(value["nanos"])}
                  for name, value in stats["waste"].items()},
        "measurement": stats["measurement"],
        "topTemplates": _top_templates(db, tenant_id, stats),
        "byFeature": _feature_rows(rows),
        "priceVersions": _price_versions(stats),
    }


def _roi_line(stats: dict[str, Any]) -> dict[str, Any]:
    savings = stats["savings"]
    return {"requests": stats["requests"], "spendUsd": nanos_to_usd(stats["costNanos"]),
            "cacheUsd": nanos_to_usd(savings["cacheNanos"]), "verifiedUsd": nanos_to_usd(savings["verifiedNanos"]),
            "estimatedUsd": nanos_to_usd(savings["estimatedNanos"]),
            "potentialUsd": nanos_to_usd(savings["potentialNanos"])}


def roi(db: Database, tenant_id: str, query: Query, now: datetime) -> dict[str, Any]:
    stats, rows = rollups.stats_for_range(db, tenant_id, query.start, query.end, query.filters())
    savings = stats["savings"]
    realized = realized_nanos(savings)
    without = stats["costNanos"] + realized
    by_feature = _group(rows, lambda row: row["feature"] or rollups.UNTAGGED)
    by_model = _group(rows, lambda row: (row["provider"] or "", row["model"] or ""))
    return {
        "generatedAt": iso(now),
        "period": {"from": iso(query.start), "to": iso(query.end)},
        "filters": query.describe(),
        "spendUsd": nanos_to_usd(stats["costNanos"]),
        "savings": {
            "cache": {"usd": nanos_to_usd(savings["cacheNanos"]), "hits": stats["cache"]["hits"],
                      "replays": stats["cache"]["replays"], "method": METHODS["cache"]},
            "verified": {"usd": nanos_to_usd(savings["verifiedNanos"]),
                         "cachedInputTokens": stats["usage"]["cachedInputTokens"],
                         "cacheWriteInputTokens": stats["usage"]["cacheWriteInputTokens"],
                         "method": METHODS["verified"]},
            "estimated": {"usd": nanos_to_usd(savings["estimatedNanos"]),
                          "tokensRemoved": stats["optimization"]["tokensRemoved"],
                          "optimizedRequests": stats["optimization"]["requests"], "method": METHODS["estimated"]},
            "potential": {"usd": nanos_to_usd(savings["potentialNanos"]),
                          "optimizationUsd": nanos_to_usd(savings["potentialOptimizationNanos"]),
                          "repeatUsd": nanos_to_usd(savings["potentialRepeatNanos"]),
                          "method": METHODS["potential"]},
        },
        "realizedUsd": nanos_to_usd(realized),
        "spendWithoutKillTokenUsd": nanos_to_usd(without),
        "realizedPercent": None if without <= 0 else round(100 * realized / without, 4),
        "byFeature": sorted(({"feature": feature, **_roi_line(s)} for feature, s in by_feature.items()),
                            key=lambda item: (-item["requests"], item["feature"])),
        "byProviderModel": sorted(({"provider": p or None, "model": m or None, **_roi_line(s)}
                                   for (p, m), s in by_model.items()),
                                  key=lambda item: (-item["requests"], item["provider"] or "", item["model"] or "")),
        "unpricedCalls": stats["unpricedCalls"],
        "priceVersions": _price_versions(stats),
    }


def analytics_export(db: Database, tenant_id: str, query: Query, now: datetime) -> dict[str, Any]:
    """The summary plus one row per day/provider/model/feature, stamped with the export time."""
    _, rows = rollups.stats_for_range(db, tenant_id, query.start, query.end, query.filters())
    daily = sorted(({"day": row["day"], "provider": row["provider"], "model": row["model"],
                     "feature": row["feature"] or rollups.UNTAGGED, **_roi_line(row["stats"]),
                     "cacheHits": row["stats"]["cache"]["hits"], "usage": row["stats"]["usage"]}
                    for row in rows),
                   key=lambda item: (item["day"], item["provider"] or "", item["model"] or "", item["feature"]))
    return {"exportedAt": iso(now), "filters": query.describe(), "summary": summary(db, tenant_id, query),
            "rows": daily}
