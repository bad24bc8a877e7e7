"""A day of realistic traffic through the gateway; summary, ROI and exports recompute by hand from traces."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import pytest

MESSY_SYSTEM = "You are a support assistant.   \n\n\n\nAnswer briefly.  "
DATA = json.dumps({"order": {"id": 4521, "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]}}, indent=2)
SECRET = "Quokka-canary-8841"


def _usage(prompt: int, cached: int, completion: int) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}}


def _wait_measured(gateway: Any, tenant_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        docs = list(gateway.db["request_traces"].find({"tenantId": tenant_id}))
        if len(docs) == count and all(doc["measurement"] != "pending" for doc in docs):
            return docs
        time.sleep(0.02)
    raise AssertionError("measurement did not finish")


@pytest.fixture
def day(gateway: Any, upstreams: Any, monkeypatch: Any) -> dict[str, Any]:
    fake = upstreams.fakes["openai"]
    monkeypatch.setattr(fake, "usage", _usage(2000, 0, 100))
    key = gateway.tenant("acme")
    gateway.add_credential(key, "openai")
    messy = [{"role": "system", "content": MESSY_SYSTEM}, {"role": "user", "content": f"{SECRET}\n{DATA}"}]
    sent = [
        ("search", "measure_only", messy),
        ("search", "measure_only", messy),                      # exact repeat, cache not used: potential
        ("support", "safe", messy),                             # safe mode: estimated savings
        (None, "measure_only", [{"role": "user", "content": "Plain question?"}]),
    ]
    for feature, mode, messages in sent:
        body: dict[str, Any] = {"provider": "openai", "model": "gpt-4.1", "optimizationMode": mode,
                                "messages": messages}
        if feature:
            body["metadata"] = {"feature": feature}
        assert gateway.chat(key, **body).status_code == 200
    monkeypatch.setattr(fake, "usage", _usage(2000, 1920, 100))  # a provider-cached prompt: verified savings
    assert gateway.chat(key, provider="openai", model="gpt-4.1", messages=messy,
                        metadata={"feature": "support"}).status_code == 200
    tenant_id = gateway.tenant_of(key)
    return {"key": key, "tenant": tenant_id, "traces": _wait_measured(gateway, tenant_id, 5)}


def _sum(traces: list[dict[str, Any]], *path: str) -> int:
    total = 0
    for trace in traces:
        value: Any = trace
        for name in path:
            value = (value or {}).get(name)
        total += int(value or 0)
    return total


def test_summary_recomputes_from_traces(gateway: Any, day: dict[str, Any]) -> None:
    traces = day["traces"]
    response = gateway.client.get("/v1/analytics/summary", headers=gateway.auth(day["key"]))
    assert response.status_code == 200, response.get_json()
    summary = response.get_json()
    # gpt-4.1: $2 / $0.50 cached / $8 per million. 4 × (2000 × 2 + 100 × 8) + (80 × 2 + 1920 × 0.5 + 800)
    assert summary["totals"]["spendUsd"] == 0.02112
    assert _sum(traces, "costNanos") == 21_120_000
    assert summary["totals"]["requests"] == 5 and summary["totals"]["billedCalls"] == 5
    assert summary["totals"]["inputTokens"] == 10_000 and summary["totals"]["cachedInputTokens"] == 1920
    assert summary["savings"]["verifiedUsd"] == 0.00288          # 1920 × ($2 − $0.50) / M
    assert summary["savings"]["verifiedUsd"] == _sum(traces, "savings", "verifiedNanos") / 1e9
    assert summary["savings"]["estimatedUsd"] == _sum(traces, "savings", "estimatedNanos") / 1e9 > 0
    assert summary["savings"]["potentialUsd"] == _sum(traces, "savings", "potentialNanos") / 1e9 > 0
    assert summary["savings"]["cacheUsd"] == 0.0
    # Two exact repeats: the second "search" call, and the last "support" call (same body as the first two:
    # metadata is not part of the request, and an implicit measure_only is the explicit one).
    repeat = sorted((t for t in traces if (t["waste"]["potential"] or {}).get("repeatNanos")),
                    key=lambda t: t["createdAt"])
    assert [t["waste"]["potential"]["repeatNanos"] for t in repeat] == [4_800_000, 1_920_000]
    features = {row["feature"]: row for row in summary["byFeature"]}
    assert set(features) == {"search", "support", "(untagged)"}
    assert (features["search"]["requests"], features["support"]["requests"],
            features["(untagged)"]["requests"]) == (2, 2, 1)
    support = [t for t in traces if t["feature"] == "support"]
    assert features["support"]["spendUsd"] == _sum(support, "costNanos") / 1e9
    assert features["support"]["savings"]["estimatedUsd"] == _sum(support, "savings", "estimatedNanos") / 1e9
    assert summary["cache"] == {"hits": 0, "misses": 0, "lookups": 0, "hitRate": None, "replays": 0}
    template_counts = sorted(item["requests"] for item in summary["topTemplates"])
    assert template_counts == [1, 4]
    assert summary["waste"]["pretty_json"]["tokens"] == _sum(traces, "waste", "categories", "pretty_json", "tokens")
    assert summary["measurement"]["measured"] == 5
    assert summary["optimization"]["modes"] == {"measure_only": 4, "safe": 1}


def test_filters_and_roi(gateway: Any, day: dict[str, Any]) -> None:
    auth = gateway.auth(day["key"])
    untagged = gateway.client.get("/v1/analytics/summary?feature=(untagged)", headers=auth).get_json()
    assert untagged["totals"]["requests"] == 1 and untagged["totals"]["spendUsd"] == 0.0048
    other_model = gateway.client.get("/v1/analytics/summary?model=gpt-4o", headers=auth).get_json()
    assert other_model["totals"]["requests"] == 0
    roi = gateway.client.get("/v1/reports/roi", headers=auth).get_json()
    assert set(roi["savings"]) == {"cache", "verified", "estimated", "potential"}
    assert all(roi["savings"][kind]["method"] for kind in roi["savings"])
    assert roi["savings"]["verified"]["usd"] == 0.00288
    assert roi["savings"]["potential"]["repeatUsd"] == 0.00672  # 0.0048 + 0.00192 (see the summary test)
    assert [row["feature"] for row in roi["byFeature"]] == ["search", "support", "(untagged)"]
    assert roi["byProviderModel"][0]["provider"] == "openai" and roi["byProviderModel"][0]["requests"] == 5
    # Realized = what KillToken did (cache, safe mode); the provider's own cache discount is reported beside it.
    realized = sum(roi["savings"][kind]["usd"] for kind in ("cache", "estimated"))
    assert roi["realizedUsd"] == pytest.approx(realized, abs=1e-12)
    assert roi["spendWithoutKillTokenUsd"] == pytest.approx(roi["spendUsd"] + realized, abs=1e-12)


def test_bad_filters_are_400(gateway: Any, day: dict[str, Any]) -> None:
    auth = gateway.auth(day["key"])
    for query in ("from=yesterday", "to=2026-13-01", "from=2026-12-05&to=2026-12-01", "bogus=1", "feature="):
        response = gateway.client.get(f"/v1/analytics/summary?{query}", headers=auth)
        assert response.status_code == 400, query
        assert response.get_json()["error"]["code"] == "invalid_request"
    assert gateway.client.get("/v1/reports/roi?from=nope", headers=auth).status_code == 400
    assert gateway.client.get("/v1/analytics/summary").status_code == 401


def test_tenant_isolation(gateway: Any, day: dict[str, Any]) -> None:
    other = gateway.tenant("globex")
    summary = gateway.client.get("/v1/analytics/summary", headers=gateway.auth(other)).get_json()
    assert summary["totals"]["requests"] == 0 and summary["byFeature"] == []
    csv_body = gateway.client.get("/v1/exports/requests.csv", headers=gateway.auth(other)).get_data(as_text=True)
    assert csv_body.count("\r\n") == 1


def test_exports(gateway: Any, day: dict[str, Any]) -> None:
    auth = gateway.auth(day["key"])
    response = gateway.client.get("/v1/exports/requests.csv", headers=auth)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 5
    assert {row["requestId"] for row in rows} == {t["_id"] for t in day["traces"]}
    assert sum(float(row["costUsd"]) for row in rows) == pytest.approx(0.02112, abs=1e-12)
    assert SECRET not in text and "support assistant" not in text
    safe_only = gateway.client.get("/v1/exports/requests.csv?optimizationMode=safe", headers=auth)
    assert len(list(csv.DictReader(io.StringIO(safe_only.get_data(as_text=True))))) == 1
    assert gateway.client.get("/v1/exports/requests.csv?status=maybe", headers=auth).status_code == 400
    exported = gateway.client.get("/v1/exports/analytics.json?feature=search", headers=auth).get_json()
    assert exported["exportedAt"].endswith("Z")
    assert exported["filters"]["feature"] == "search"
    assert exported["summary"]["totals"]["requests"] == 2
    assert sum(row["requests"] for row in exported["rows"]) == 2


def test_no_prompt_text_in_any_collection(gateway: Any, day: dict[str, Any]) -> None:
    db = gateway.db
    dump = json.dumps([list(db[name].find()) for name in db.list_collection_names()], default=str)
    assert SECRET not in dump and "support assistant" not in dump


def test_anthropic_prompt_cache_write_then_read_is_net_verified(gateway: Any, upstreams: Any,
                                                               monkeypatch: Any) -> None:
    fake = upstreams.fakes["anthropic"]
    key = gateway.tenant("cachers")
    gateway.add_credential(key, "anthropic")
    body = {"provider": "anthropic", "model": "claude-3-7-sonnet-20250219", "metadata": {"feature": "rag"},
            "messages": [{"role": "system", "content": "Long policy."}, {"role": "user", "content": "Q?"}]}
    monkeypatch.setattr(fake, "usage", {"input_tokens": 3, "cache_creation_input_tokens": 12304,
                                        "cache_read_input_tokens": 0, "output_tokens": 550})
    write = gateway.chat(key, **body).get_json()["metrics"]
    monkeypatch.setattr(fake, "usage", {"input_tokens": 3, "cache_creation_input_tokens": 0,
                                        "cache_read_input_tokens": 12304, "output_tokens": 550})
    read = gateway.chat(key, **body).get_json()["metrics"]
    assert write["costUsd"] == 0.054399                       # 3 × $3 + 12304 × $3.75 + 550 × $15, per M
    assert read["costUsd"] == 0.0119502                       # 3 × $3 + 12304 × $0.30 + 550 × $15, per M
    _wait_measured(gateway, gateway.tenant_of(key), 2)
    roi = gateway.client.get("/v1/reports/roi", headers=gateway.auth(key)).get_json()
    # −12304 × $0.75 premium + 12304 × $2.70 discount
    assert roi["savings"]["verified"]["usd"] == 0.0239928
    assert roi["savings"]["verified"]["cachedInputTokens"] == 12304
    assert roi["savings"]["verified"]["cacheWriteInputTokens"] == 12304
    assert roi["spendUsd"] == 0.0663492
    # the second call repeats the first exactly and the exact cache was not used: its cost is potential
    assert roi["byFeature"] == [{"feature": "rag", "requests": 2, "spendUsd": 0.0663492, "cacheUsd": 0.0,
                                 "verifiedUsd": 0.0239928, "estimatedUsd": 0.0, "potentialUsd": 0.0119502}]
