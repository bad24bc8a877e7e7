"""Trace documents shaped exactly like the pipeline writes them (app/store/traces.py)."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import mongomock_ng

_ids = itertools.count(1)


def memory_db() -> Any:
    return mongomock_ng.MongoClient()["killtoken_test"]


def make_trace(tenant_id: str = "ten_a", at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "_id": f"req_{next(_ids):024d}",
        "tenantId": tenant_id,
        "createdAt": at or datetime(2026, 12, 3, 10, 0, 0),
        "entryPoint": "chat",
        "provider": "openai",
        "model": "gpt-4o",
        "credentialId": "cred_1",
        "optimizationMode": "measure_only",
        "feature": None,
        "metadata": None,
        "cacheStatus": "bypass",
        "idempotencyStatus": "none",
        "status": "ok",
        "httpStatus": 200,
        "errorCode": None,
        "providerStatus": 200,
        "latencyMs": 10.0,
        "providerLatencyMs": 8.0,
        "overheadMs": 2.0,
        "usage": None,
        "usageCached": False,
        "costUsd": None,
        "costNanos": None,
        "costReason": None,
        "priceVersion": "genai-prices@0.2.3",
        "avoidedCostNanos": 0,
        "savings": {"cacheNanos": 0, "verifiedNanos": 0, "estimatedNanos": 0, "potentialNanos": 0},
        "optimization": None,
        "waste": None,
        "templateId": None,
        "cacheKeyHash": None,
        "measurement": "pending",
    }
    trace.update(fields)
    return trace


def usage(input_tokens: int, output_tokens: int, cached: int = 0, write: int = 0) -> dict[str, int]:
    return {"inputTokens": input_tokens, "cachedInputTokens": cached, "cacheWriteInputTokens": write,
            "outputTokens": output_tokens, "reasoningTokens": 0, "totalTokens": input_tokens + output_tokens}


def payload_for(trace: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"requestId": trace["_id"], "tenantId": trace["tenantId"], "provider": trace["provider"],
            "model": trace["model"], "optimizationMode": trace["optimizationMode"], "messages": messages,
            "nativeBody": None}
