"""Measurement task service: waste on the trace, potential savings, idempotency, sweeper, calibration."""

import json
from datetime import datetime, timedelta

import pytest

from app.optimize import waste
from app.optimize.pricing import Pricer
from app.services import measurement, rollups
from app.store import calibration, templates
from tests.tasks.trace_factory import make_trace, memory_db, payload_for, usage

PRICER = Pricer()
SETTINGS = {"KILLTOKEN_CACHE_TTL_SECONDS": 3600}
T0 = datetime(2026, 12, 3, 10, 0, 0)
MESSY = [{"role": "system", "content": "You are helpful.   \n\n\n\nBe brief."},
         {"role": "user", "content": "Data:\n" + json.dumps({"a": [1, 2, 3], "b": {"c": "d"}}, indent=2)}]


def run(db, trace, messages):
    return measurement.measure(db, PRICER, SETTINGS, payload_for(trace, messages))


def stored(db, trace):
    return db.request_traces.find_one({"_id": trace["_id"]})


def test_measure_only_potential_is_safe_removable_tokens_at_input_rate() -> None:
    db = memory_db()
    trace = make_trace(usage=usage(1000, 100), costNanos=3_500_000)
    db.request_traces.insert_one(trace)
    assert run(db, trace, MESSY).status == "measured"
    doc = stored(db, trace)
    assert doc["measurement"] == "measured"
    categories = doc["waste"]["categories"]
    assert categories["whitespace"] == {"tokens": 2, "nanos": 5_000, "usd": 0.000005}
    assert categories["pretty_json"] == {"tokens": 20, "nanos": 50_000, "usd": 0.00005}
    assert doc["waste"]["totalNanos"] == 55_000
    assert doc["savings"]["potentialNanos"] == 55_000  # 22 tokens × $2.50 / M
    assert doc["templateId"].startswith("tpl_")
    assert db.templates.find_one({"_id": doc["templateId"]}) == {
        "_id": doc["templateId"], "tenantId": "ten_a", "firstSeenAt": trace["createdAt"],
        "lastSeenAt": trace["createdAt"]}


def test_redelivery_changes_nothing() -> None:
    db = memory_db()
    trace = make_trace(usage=usage(1000, 100), costNanos=3_500_000)
    db.request_traces.insert_one(trace)
    run(db, trace, MESSY)
    first = stored(db, trace)
    template = db.templates.find_one({"_id": first["templateId"]})
    assert run(db, trace, MESSY).status == "already"
    assert run(db, trace, []).status == "already"
    assert stored(db, trace) == first
    assert db.templates.find_one({"_id": first["templateId"]}) == template


def test_safe_mode_has_no_optimization_potential() -> None:
    db = memory_db()
    trace = make_trace(optimizationMode="safe", usage=usage(1000, 100), costNanos=3_500_000)
    db.request_traces.insert_one(trace)
    run(db, trace, MESSY)
    assert stored(db, trace)["savings"]["potentialNanos"] == 0


def test_unbilled_request_has_waste_tokens_but_no_dollars() -> None:
    db = memory_db()
    trace = make_trace(cacheStatus="hit", usage=usage(1000, 100), usageCached=True, costNanos=0)
    db.request_traces.insert_one(trace)
    run(db, trace, MESSY)
    doc = stored(db, trace)
    assert doc["waste"]["categories"]["pretty_json"] == {"tokens": 20, "nanos": 0, "usd": 0.0}
    assert doc["savings"]["potentialNanos"] == 0


def test_exact_repeat_within_ttl_not_served_from_cache_is_potential() -> None:
    db = memory_db()
    first = make_trace(at=T0, usage=usage(500, 50), costNanos=1_750_000, cacheKeyHash="k1",
                       optimizationMode="safe")
    repeat = make_trace(at=T0 + timedelta(minutes=30), usage=usage(500, 50), costNanos=1_750_000,
                        cacheKeyHash="k1", optimizationMode="safe")
    late = make_trace(at=T0 + timedelta(hours=2), usage=usage(500, 50), costNanos=1_750_000, cacheKeyHash="k1",
                      optimizationMode="safe")
    hit = make_trace(at=T0 + timedelta(minutes=31), usage=usage(500, 50), usageCached=True, cacheStatus="hit",
                     costNanos=0, cacheKeyHash="k1", optimizationMode="safe")
    other_tenant = make_trace(tenant_id="ten_b", at=T0 + timedelta(minutes=5), usage=usage(500, 50),
                              costNanos=1_750_000, cacheKeyHash="k1", optimizationMode="safe")
    db.request_traces.insert_many([first, repeat, late, hit, other_tenant])
    for trace in (repeat, late, hit, first, other_tenant):
        run(db, trace, [{"role": "user", "content": "same"}])
    assert stored(db, first)["savings"]["potentialNanos"] == 0
    assert stored(db, repeat)["savings"]["potentialNanos"] == 1_750_000
    assert stored(db, repeat)["waste"]["potential"]["repeatOf"] == first["_id"]
    assert stored(db, late)["savings"]["potentialNanos"] == 0   # the 30-minute repeat is 90 min earlier
    assert stored(db, hit)["savings"]["potentialNanos"] == 0
    assert stored(db, other_tenant)["savings"]["potentialNanos"] == 0


def test_repeated_static_prefix_not_served_by_provider_cache() -> None:
    db = memory_db()
    system = "Policy line number.\n" * 400
    analysis = waste.analyze("ten_a", "openai", "gpt-4o", [{"role": "system", "content": system}])
    prefix = analysis.prefix_tokens
    assert prefix == 3 + 1 + 1600 and prefix >= waste.MIN_CACHEABLE_PREFIX_TOKENS
    seen = make_trace(at=T0, usage=usage(prefix + 10, 5), costNanos=1)
    uncached = make_trace(at=T0 + timedelta(minutes=2), usage=usage(prefix + 10, 5), costNanos=1)
    cached = make_trace(at=T0 + timedelta(minutes=3), usage=usage(prefix + 10, 5, cached=1536), costNanos=1)
    db.request_traces.insert_many([seen, uncached, cached])
    for index, trace in enumerate((seen, uncached, cached)):
        run(db, trace, [{"role": "system", "content": system}, {"role": "user", "content": f"question {index}"}])
    assert stored(db, seen)["waste"]["categories"]["repeated_prefix"]["tokens"] == 0
    # (input − cached-read rate) for gpt-4o is $2.50 − $1.25 = $1.25 / M
    assert stored(db, uncached)["waste"]["categories"]["repeated_prefix"] == {
        "tokens": 1604, "nanos": 2_005_000, "usd": 0.002005}
    assert stored(db, cached)["waste"]["categories"]["repeated_prefix"] == {
        "tokens": 68, "nanos": 85_000, "usd": 0.000085}


def test_sweeper_skips_stale_pending_and_keeps_repeat_potential() -> None:
    db = memory_db()
    first = make_trace(at=T0, usage=usage(500, 50), costNanos=1_000, cacheKeyHash="k", measurement="measured")
    stale = make_trace(at=T0 + timedelta(minutes=1), usage=usage(500, 50), costNanos=1_000, cacheKeyHash="k")
    fresh = make_trace(at=T0 + timedelta(minutes=20))
    db.request_traces.insert_many([first, stale, fresh])
    assert measurement.sweep_pending(db, SETTINGS, T0 + timedelta(minutes=25)) == 1
    doc = stored(db, stale)
    assert doc["measurement"] == "skipped" and doc["waste"]["swept"] is True
    assert doc["savings"]["potentialNanos"] == 1_000
    assert stored(db, fresh)["measurement"] == "pending"
    assert measurement.sweep_pending(db, SETTINGS, T0 + timedelta(minutes=26)) == 0
    assert run(db, stale, MESSY).status == "measured"  # a late task still upgrades it
    assert stored(db, stale)["savings"]["potentialNanos"] == 1_000 + 55_000  # repeat + 22 tokens × $2.50/M


def test_calibration_learns_from_provider_reported_tokens() -> None:
    db = memory_db()
    messages = [{"role": "user", "content": "Hello there, how are you doing today?"}]
    counted = waste.raw_prompt_tokens(messages)
    for index in range(3):
        trace = make_trace(provider="anthropic", model="claude-3-7-sonnet-20250219",
                           usage=usage(round(counted * 1.25), 10), costNanos=1, at=T0 + timedelta(seconds=index))
        db.request_traces.insert_one(trace)
        assert calibration.ratio(db, "anthropic", "claude-3-7-sonnet-20250219") is None
        run(db, trace, messages)
    doc = db.token_calibration.find_one({"_id": "anthropic/claude-3-7-sonnet-20250219"})
    assert (doc["samples"], doc["counted"], doc["reported"]) == (3, 3 * counted, 3 * round(counted * 1.25))
    assert calibration.ratio(db, "anthropic", "claude-3-7-sonnet-20250219") == round(counted * 1.25) / counted


def test_no_prompt_text_reaches_mongodb() -> None:
    db = memory_db()
    secret_prompt = "Zebra-canary-prompt-7781 about the merger"
    trace = make_trace(usage=usage(100, 10), costNanos=1)
    db.request_traces.insert_one(trace)
    run(db, trace, [{"role": "system", "content": secret_prompt}, {"role": "user", "content": secret_prompt}])
    dump = json.dumps([list(db[name].find()) for name in db.list_collection_names()], default=str)
    assert "Zebra" not in dump and "merger" not in dump


def test_missing_trace_is_retryable_and_failure_is_recorded() -> None:
    db = memory_db()
    trace = make_trace()
    try:
        run(db, trace, MESSY)
    except measurement.TraceNotReady:
        pass
    else:
        raise AssertionError("expected TraceNotReady")
    db.request_traces.insert_one(trace)
    measurement.mark_failed(db, payload_for(trace, []), "TraceNotReady")
    assert stored(db, trace)["measurement"] == "failed"


def test_requests_with_tools_or_images_do_not_calibrate() -> None:
    db = memory_db()
    with_tools = make_trace(provider="anthropic", model="claude-3-7-sonnet-20250219", usage=usage(500, 5),
                            costNanos=1)
    with_image = make_trace(provider="anthropic", model="claude-3-7-sonnet-20250219", usage=usage(900, 5),
                            costNanos=1)
    db.request_traces.insert_many([with_tools, with_image])
    measurement.measure(db, PRICER, SETTINGS, {**payload_for(with_tools, [{"role": "user", "content": "hi"}]),
                                               "hasTools": True})
    image = [{"role": "user", "content": [{"type": "text", "text": "what?"},
                                          {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]
    run(db, with_image, image)
    assert db.token_calibration.count_documents({}) == 0
    assert stored(db, with_image)["measurement"] == "measured"


@pytest.mark.parametrize(("owner", "attr"), [(templates, "record_use"), (calibration, "ratio"),
                                            (measurement, "mark_trace_dirty"), (calibration, "add_sample")])
def test_worker_killed_at_any_point_then_redelivered_ends_like_one_clean_run(owner, attr, monkeypatch) -> None:
    def scenario(db) -> dict:
        trace = make_trace(provider="anthropic", model="claude-3-7-sonnet-20250219", usage=usage(40, 5),
                           costNanos=195, at=T0)
        db.request_traces.insert_one(trace)
        return trace

    clean_db = memory_db()
    clean = scenario(clean_db)
    run(clean_db, clean, MESSY)
    rollups.refresh(clean_db, T0 + timedelta(hours=1))

    db = memory_db()
    trace = scenario(db)
    original = getattr(owner, attr)
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, attr, crash_once)
    with pytest.raises(RuntimeError):
        run(db, trace, MESSY)
    run(db, trace, MESSY)                      # the redelivery (acks_late)
    run(db, trace, MESSY)                      # and a duplicate for good measure
    rollups.refresh(db, T0 + timedelta(hours=1))
    assert stored(db, trace)["waste"] == stored(clean_db, clean)["waste"]
    assert stored(db, trace)["savings"] == stored(clean_db, clean)["savings"]
    assert db.templates.find_one({}, {"_id": 0}) == clean_db.templates.find_one({}, {"_id": 0})
    built = db.rollups.find_one({}, {"stats": 1, "dirty": 1, "_id": 0})
    assert built == clean_db.rollups.find_one({}, {"stats": 1, "dirty": 1, "_id": 0})
    assert built["dirty"] is False and built["stats"]["requests"] == 1
    samples = db.token_calibration.find_one({}) or {}
    assert samples.get("samples", 0) <= 1     # a crash right after the claim may lose the one sample


def test_a_delivery_that_keeps_crashing_ends_failed_not_looping() -> None:
    db = memory_db()
    trace = make_trace(usage=usage(1000, 100), costNanos=3_500_000)
    trace["measurementAttempts"] = measurement.MAX_ATTEMPTS  # earlier deliveries died mid-task
    db.request_traces.insert_one(trace)
    assert run(db, trace, MESSY).status == "failed"
    doc = stored(db, trace)
    assert doc["measurement"] == "failed"
    assert doc["measurementAttempts"] == measurement.MAX_ATTEMPTS + 1
    assert "gave up after 8 attempts" in doc["waste"]["reason"]


def test_attempts_are_counted_on_a_normal_run() -> None:
    db = memory_db()
    trace = make_trace(usage=usage(1000, 100), costNanos=3_500_000)
    db.request_traces.insert_one(trace)
    assert run(db, trace, MESSY).status == "measured"
    assert stored(db, trace)["measurementAttempts"] == 1
