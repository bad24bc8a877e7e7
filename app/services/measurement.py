"""Measure one traced request: waste, template, potential savings; and sweep traces whose task never ran.

The prompt text arrives only in the task payload and is dropped when the task ends; the trace receives
numbers and salted hashes. The trace update is conditional on ``measurement: "pending"`` (or a sweeper
``skipped``), so a redelivered or duplicated task changes nothing. Template first/last use is written with
idempotent operators; the one counting side effect (a calibration sample) happens only after the claim is
won, so at most one sample per request (a crash right after the claim loses that sample, which is
harmless for a statistic). A worker killed before the update leaves the trace pending: the redelivered task
measures it; one killed after it gets an "already" redelivery, which re-marks the rollup bucket.

Potential savings (DESIGN.md §5): on measure_only traffic, the tokens safe mode would remove at the model's
input rate; on any request the provider billed, its cost when it exactly repeats (same ``cacheKeyHash``)
a successful request of the tenant within the cache TTL without being served from the cache.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from pymongo.database import Database

from app.optimize import waste as waste_mod
from app.optimize.pricing import NANOS_PER_TOKEN_AT_ONE_USD_PER_MTOK, Pricer, nanos_to_usd
from app.optimize.templates import template_id
from app.optimize.tokenizers import openai_encoding_name
from app.services.rollups import mark_trace_dirty
from app.store import calibration, templates, traces
from providers.base import Usage

log = logging.getLogger("killtoken.measurement")

PENDING_GRACE = timedelta(minutes=15)
MAX_ATTEMPTS = 8  # above the task's own retries (5) plus a couple of worker-loss redeliveries
SWEEP_BATCH = 500
SKIPPED_REASON = ("measurement task did not run within the grace period (broker unreachable or backlog); "
                  "the prompt text is never stored, so waste could not be measured")


class TraceNotReady(Exception):
    """The trace is not visible yet (the task overtook the write); retry later."""


@dataclass(frozen=True)
class MeasureResult:
    status: str  # measured | already | missing | failed


def billed_usage(trace: dict[str, Any]) -> Usage | None:
    """The usage a provider billed for this request (None on hits, replays, failures before a call)."""
    if trace.get("usage") is None or trace.get("usageCached") or trace.get("cacheStatus") == "hit":
        return None
    if trace.get("idempotencyStatus") == "replayed":
        return None
    return Usage.from_metrics(trace["usage"])


def repeat_nanos(db: Database, trace: dict[str, Any], ttl_seconds: int) -> tuple[int, str | None]:
    """The cost of an exact repeat within the cache TTL that the cache did not serve, and what it repeats."""
    key_hash = trace.get("cacheKeyHash")
    if not key_hash or billed_usage(trace) is None or trace.get("costNanos") is None:
        return 0, None
    created = trace["createdAt"]
    earlier = traces.collection(db).find_one(
        {"tenantId": trace["tenantId"], "cacheKeyHash": key_hash, "status": "ok",
         "createdAt": {"$gte": created - timedelta(seconds=ttl_seconds), "$lt": created},
         "_id": {"$ne": trace["_id"]}},
        {"_id": 1},
    )
    if earlier is None:
        return 0, None
    return int(trace["costNanos"]), earlier["_id"]


def prefix_seen_recently(db: Database, trace: dict[str, Any], prefix: str | None) -> bool:
    if prefix is None:
        return False
    created = trace["createdAt"]
    return traces.collection(db).find_one(
        {"tenantId": trace["tenantId"], "waste.prefixHash": prefix,
         "createdAt": {"$gte": created - waste_mod.PREFIX_WINDOW, "$lt": created},
         "_id": {"$ne": trace["_id"]}},
        {"_id": 1},
    ) is not None


def _cache_discount_nanos(pricer: Pricer, provider: str, model: str, tokens: int, context: int) -> int:
    """What caching ``tokens`` would have saved: tokens × (input − cache read rate); 0 without caching."""
    rates = pricer.rates(provider, model, context)[0]
    if rates is None or rates.input is None or rates.cache_read is None or tokens <= 0:
        return 0
    value = Decimal(tokens) * (rates.input - rates.cache_read) * NANOS_PER_TOKEN_AT_ONE_USD_PER_MTOK
    return int(value.to_integral_value(rounding=ROUND_HALF_EVEN))


def build_waste(pricer: Pricer, provider: str, model: str, analysis: waste_mod.Analysis, usage: Usage | None,
                seen_recently: bool) -> dict[str, Any]:
    """The ``waste`` document of the trace: per category tokens, and USD only for what was actually billed."""
    tokens = dict(analysis.tokens)
    tokens[waste_mod.REPEATED_PREFIX] = waste_mod.repeated_prefix_tokens(
        analysis, seen_recently and usage is not None, usage.cached_input_tokens if usage else 0)
    context = usage.input_tokens if usage else analysis.prompt_tokens
    categories: dict[str, dict[str, Any]] = {}
    for name in waste_mod.CATEGORIES:
        count = tokens[name]
        if usage is None or count == 0:
            nanos: int | None = 0
        elif name == waste_mod.REPEATED_PREFIX:
            nanos = _cache_discount_nanos(pricer, provider, model, count, context)
        else:
            nanos = pricer.input_cost_nanos(provider, model, count, context)
        categories[name] = {"tokens": count, "nanos": nanos, "usd": nanos_to_usd(nanos)}
    priced = [c["nanos"] for c in categories.values() if c["nanos"] is not None]
    total_nanos = sum(priced) if len(priced) == len(categories) else None
    return {
        "promptTokens": analysis.prompt_tokens,
        "estimated": analysis.estimated,
        "encoding": analysis.encoding,
        "categories": categories,
        "totalTokens": sum(tokens.values()),
        "totalNanos": total_nanos,
        "totalUsd": nanos_to_usd(total_nanos),
        "prefixHash": analysis.prefix_hash,
        "prefixTokens": analysis.prefix_tokens,
    }


def measure(db: Database, pricer: Pricer, settings: dict[str, Any], payload: dict[str, Any]) -> MeasureResult:
    """Measure the request of ``payload`` once; safe to call any number of times."""
    tenant_id, request_id = payload["tenantId"], payload["requestId"]
    trace = traces.get(db, tenant_id, request_id)
    if trace is None:
        raise TraceNotReady(request_id)
    if not _claimable(trace):
        mark_trace_dirty(db, trace)  # a redelivery after a crash between claim and mark still rolls up
        return MeasureResult("already")
    # Count attempts on the trace: a delivery that kills its worker every time (redelivered by the broker, not
    # retried by Celery, so MAX_RETRIES never sees it) ends as failed instead of looping forever.
    attempts = (trace.get("measurementAttempts") or 0) + 1
    traces.collection(db).update_one({"_id": request_id, "tenantId": tenant_id},
                                     {"$inc": {"measurementAttempts": 1}})
    if attempts > MAX_ATTEMPTS:
        mark_failed(db, payload, f"gave up after {MAX_ATTEMPTS} attempts")
        return MeasureResult("failed")
    provider, model = payload["provider"], payload["model"]
    messages = payload.get("messages") or []
    is_openai = openai_encoding_name(provider, model) is not None
    ratio = None if is_openai else calibration.ratio(db, provider, model)
    analysis = waste_mod.analyze(tenant_id, provider, model, messages, ratio)
    usage = billed_usage(trace)
    waste_doc = build_waste(pricer, provider, model, analysis, usage,
                            prefix_seen_recently(db, trace, analysis.prefix_hash))
    optimization_nanos = 0
    if usage is not None and payload.get("optimizationMode") == "measure_only":
        optimization_nanos = pricer.input_cost_nanos(provider, model, analysis.safe_removable_tokens,
                                                     usage.input_tokens) or 0
    repeat, repeat_of = repeat_nanos(db, trace, settings["KILLTOKEN_CACHE_TTL_SECONDS"])
    waste_doc["potential"] = {"optimizationNanos": optimization_nanos, "repeatNanos": repeat,
                              "repeatOf": repeat_of, "safeRemovableTokens": analysis.safe_removable_tokens}
    tpl = template_id(tenant_id, messages)
    if tpl is not None:
        templates.record_use(db, tenant_id, tpl, trace["createdAt"])
    claimed = traces.collection(db).update_one(
        {"_id": request_id, "tenantId": tenant_id, **_CLAIMABLE},
        {"$set": {"measurement": "measured", "waste": waste_doc, "templateId": tpl,
                  "savings.potentialNanos": optimization_nanos + repeat}},
    )
    if claimed.modified_count != 1:
        mark_trace_dirty(db, trace)
        return MeasureResult("already")
    if (not is_openai and usage is not None and trace.get("status") == "ok" and analysis.text_only
            and not payload.get("hasTools")):  # tool definitions are billed input the count cannot see
        calibration.add_sample(db, provider, model, waste_mod.raw_prompt_tokens(messages), usage.input_tokens)
    mark_trace_dirty(db, trace)
    return MeasureResult("measured")


_CLAIMABLE: dict[str, Any] = {"$or": [{"measurement": "pending"},
                                      {"measurement": "skipped", "waste.swept": True}]}


def _claimable(trace: dict[str, Any]) -> bool:
    if trace.get("measurement") == "pending":
        return True
    return trace.get("measurement") == "skipped" and bool((trace.get("waste") or {}).get("swept"))


def mark_failed(db: Database, payload: dict[str, Any], reason: str) -> None:
    """After the last retry: the trace says so instead of staying pending forever."""
    result = traces.collection(db).update_one(
        {"_id": payload["requestId"], "tenantId": payload["tenantId"], "measurement": "pending"},
        {"$set": {"measurement": "failed", "waste": {"failed": True, "reason": reason[:200]}}},
    )
    if result.modified_count:
        trace = traces.get(db, payload["tenantId"], payload["requestId"])
        if trace is not None:
            mark_trace_dirty(db, trace)


def sweep_pending(db: Database, settings: dict[str, Any], now: datetime) -> int:
    """Traces still pending after the grace period: mark them skipped, keep what needs no prompt text.

    Waste and templates need the text, which is gone; cost, cache, verified and estimated savings are on
    the trace already and roll up as usual, and the repeat part of potential savings only needs
    ``cacheKeyHash``, so the sweeper computes it. A late task may still upgrade a swept trace to measured.
    """
    cutoff = now - PENDING_GRACE
    swept = 0
    for trace in traces.collection(db).find({"measurement": "pending", "createdAt": {"$lt": cutoff}}).limit(
            SWEEP_BATCH):
        repeat, repeat_of = repeat_nanos(db, trace, settings["KILLTOKEN_CACHE_TTL_SECONDS"])
        result = traces.collection(db).update_one(
            {"_id": trace["_id"], "measurement": "pending"},
            {"$set": {"measurement": "skipped", "savings.potentialNanos": repeat,
                      "waste": {"swept": True, "reason": SKIPPED_REASON,
                                "potential": {"optimizationNanos": 0, "repeatNanos": repeat,
                                              "repeatOf": repeat_of}}}},
        )
        if result.modified_count:
            swept += 1
            mark_trace_dirty(db, trace)
    return swept
