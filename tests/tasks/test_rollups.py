"""Rollups equal a recomputation from traces after duplicated and out-of-order task delivery."""

import random
from datetime import datetime, timedelta

from app.optimize.pricing import Pricer
from app.services import measurement, rollups
from app.store import rollups as store
from tests.tasks.trace_factory import make_trace, memory_db, payload_for, usage

T0 = datetime(2026, 12, 2, 22, 0, 0)
SETTINGS = {"KILLTOKEN_CACHE_TTL_SECONDS": 3600}


def traffic(rng: random.Random) -> list[tuple[dict, list[dict]]]:
    items = []
    for index in range(80):
        tenant = rng.choice(["ten_a", "ten_b"])
        provider, model = rng.choice([("openai", "gpt-4o"), ("anthropic", "claude-3-7-sonnet-20250219")])
        cache_status = rng.choice(["bypass", "miss", "hit", "bypass"])
        hit = cache_status == "hit"
        trace = make_trace(
            tenant_id=tenant, at=T0 + timedelta(minutes=7 * index), provider=provider, model=model,
            feature=rng.choice([None, "search", "support"]), optimizationMode=rng.choice(["measure_only", "safe"]),
            cacheStatus=cache_status, usage=usage(400 + index, 30, cached=rng.choice([0, 128])),
            usageCached=hit, costNanos=0 if hit else 1_000 + index, cacheKeyHash=f"k{index % 9}",
            savings={"cacheNanos": 1_000 if hit else 0, "verifiedNanos": rng.choice([0, 160, -40]),
                     "estimatedNanos": rng.choice([0, 25]), "potentialNanos": 0},
            optimization={"applied": [{"name": "blank_lines", "count": 1, "tokensRemoved": 2}],
                          "tokensBefore": 10, "tokensAfter": 8} if rng.random() < 0.3 else None,
            status=rng.choice(["ok", "ok", "ok", "error"]),
        )
        messages = [{"role": "system", "content": f"Template {index % 4}.   \n\n\n\nRules."},
                    {"role": "user", "content": "question"}]
        items.append((trace, messages))
    return items


def expected_buckets(db) -> dict[str, dict]:
    grouped: dict[str, list] = {}
    for trace in db.request_traces.find():
        key = rollups.bucket_key(trace)
        grouped.setdefault(store.bucket_id(*(key[k] for k in store.KEY_FIELDS)), []).append(trace)
    return {bucket: rollups.to_stored(rollups.summarize(docs)) for bucket, docs in grouped.items()}


def test_duplicated_out_of_order_delivery_converges_to_recomputation() -> None:
    rng = random.Random(7)
    db = memory_db()
    items = traffic(rng)
    db.request_traces.insert_many([trace for trace, _ in items])
    deliveries = [item for item in items for _ in range(rng.choice([1, 2, 3]))]
    rng.shuffle(deliveries)
    now = T0 + timedelta(days=1)
    pricer = Pricer()
    for step, (trace, messages) in enumerate(deliveries):
        measurement.measure(db, pricer, SETTINGS, payload_for(trace, messages))
        if step % 17 == 0:
            rollups.refresh(db, now)           # rollup runs interleaved with measurement
        if step % 23 == 0:
            rollups.refresh(db, now)           # and duplicated
    measurement.sweep_pending(db, SETTINGS, now)
    rollups.refresh(db, now)
    rollups.refresh(db, now)
    expected = expected_buckets(db)
    built = {doc["_id"]: doc for doc in db.rollups.find()}
    assert set(built) == set(expected)
    for bucket, stats in expected.items():
        assert built[bucket]["stats"] == stats, bucket
        assert built[bucket]["dirty"] is False
    total = rollups.empty_stats()
    for doc in built.values():
        rollups.merge(total, rollups.from_stored(doc["stats"]))
    all_traces = list(db.request_traces.find())
    assert total["requests"] == len(items) == 80
    assert total["costNanos"] == sum(t["costNanos"] for t in all_traces)
    assert total["savings"]["potentialNanos"] == sum(t["savings"]["potentialNanos"] for t in all_traces)
    assert total["measurement"]["measured"] == 80


def test_stale_rebuild_never_overwrites_a_newer_one() -> None:
    db = memory_db()
    trace = make_trace(usage=usage(10, 1), costNanos=5)
    db.request_traces.insert_one(trace)
    key = rollups.bucket_key(trace)
    bucket = store.bucket_id(*(key[k] for k in store.KEY_FIELDS))
    now = datetime(2026, 12, 4)
    store.mark(db, key, now)
    stale_seq = store.get(db, bucket)["markSeq"]
    stale_stats = rollups.to_stored(rollups.summarize(db.request_traces.find()))   # sees one trace
    second = make_trace(usage=usage(10, 1), costNanos=7)
    db.request_traces.insert_one(second)
    rollups.mark_trace_dirty(db, second, now)
    assert rollups.rebuild(db, bucket, now) is True                                  # sees both
    assert store.write_built(db, bucket, stale_seq, stale_stats, now) is False       # the slow one loses
    doc = store.get(db, bucket)
    assert doc["stats"]["costNanos"] == 12 and doc["stats"]["requests"] == 2 and doc["dirty"] is False


def test_stats_for_range_mixes_rollups_and_partial_days() -> None:
    db = memory_db()
    docs = [make_trace(at=datetime(2026, 12, 1, 12), costNanos=1, usage=usage(1, 1)),
            make_trace(at=datetime(2026, 12, 2, 1), costNanos=10, usage=usage(1, 1)),
            make_trace(at=datetime(2026, 12, 2, 23), costNanos=100, usage=usage(1, 1)),
            make_trace(at=datetime(2026, 12, 3, 5), costNanos=1000, usage=usage(1, 1))]
    db.request_traces.insert_many(docs)
    rollups.refresh(db, datetime(2026, 12, 3, 6))
    whole, rows = rollups.stats_for_range(db, "ten_a", datetime(2026, 12, 1), datetime(2026, 12, 4), {})
    assert whole["costNanos"] == 1111 and len(rows) == 3
    partial, _ = rollups.stats_for_range(db, "ten_a", datetime(2026, 12, 1, 13), datetime(2026, 12, 3, 1), {})
    assert partial["costNanos"] == 110
    inside, _ = rollups.stats_for_range(db, "ten_a", datetime(2026, 12, 2, 0, 30), datetime(2026, 12, 2, 2), {})
    assert inside["costNanos"] == 10
    other, _ = rollups.stats_for_range(db, "ten_b", datetime(2026, 12, 1), datetime(2026, 12, 4), {})
    assert other["requests"] == 0


def test_rollup_bucket_task_and_unbuilt_bucket_reads(monkeypatch) -> None:
    import tasks.rollups as rollup_tasks

    db = memory_db()
    monkeypatch.setattr(rollup_tasks, "handles", lambda: type("H", (), {"db": db})())
    trace = make_trace(at=datetime(2026, 12, 1, 9), costNanos=42, usage=usage(1, 1), feature="f")
    db.request_traces.insert_one(trace)
    rollups.mark_trace_dirty(db, trace, datetime(2026, 12, 1, 10))
    unbuilt, _ = rollups.stats_for_range(db, "ten_a", datetime(2026, 12, 1), datetime(2026, 12, 2), {})
    assert unbuilt["costNanos"] == 42                              # summarized from traces, not empty
    payload = {"tenantId": "ten_a", "createdAt": "2026-12-01T09:00:00", "provider": "openai", "model": "gpt-4o",
               "feature": "f"}
    assert rollup_tasks.rollup_bucket(payload) is True
    assert rollup_tasks.rollup_bucket(payload) is True             # marks again, so rebuilds again
    bucket = db.rollups.find_one({})
    assert rollup_tasks.rollup_bucket({"bucketId": bucket["_id"]}) is False   # nothing new since
    assert db.rollups.find_one({})["stats"]["costNanos"] == 42
