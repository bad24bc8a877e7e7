"""Idempotency keys on the real local Redis: validation, claims, replay, reuse, release, lease expiry, races."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.errors import ApiError
from app.services.cache_key import body_fingerprint
from app.services.idempotency import MAX_KEY_LENGTH, Claim, IdempotencyStore, redis_key, validate_key
from tests.redis_helpers import TestKeys, redis_db, requires_redis

FP_A = body_fingerprint({"messages": [{"role": "user", "content": "a"}]})
FP_B = body_fingerprint({"messages": [{"role": "user", "content": "b"}]})
OUTCOME = {"status": 200, "body": {"response": {"id": "r1"}, "metrics": {"costUsd": 0.01}}, "requestId": "req_1"}


@pytest.fixture
def rdb() -> Iterator[TestKeys]:
    with redis_db() as keys:
        yield keys


def store(rdb: TestKeys, ttl: int = 60, lease: int = 30, **kwargs: object) -> IdempotencyStore:
    return IdempotencyStore(rdb.client, ttl_seconds=ttl, lease_seconds=lease, key_prefix=rdb.prefix + "idem:",
                            **kwargs)  # type: ignore[arg-type]


# --- validation -------------------------------------------------------------------------------------------------

def test_absent_key_is_none() -> None:
    assert validate_key(None) is None


@pytest.mark.parametrize("raw", ["a", "x" * MAX_KEY_LENGTH, "retry-2026-12-03T10:00:00Z", "ключ ✓", " "])
def test_valid_keys(raw: str) -> None:
    assert validate_key(raw) == raw


@pytest.mark.parametrize("raw", ["", "x" * (MAX_KEY_LENGTH + 1), 123, 1.5, True, ["k"], {"k": 1}])
def test_invalid_keys_are_400(raw: object) -> None:
    with pytest.raises(ApiError) as err:
        validate_key(raw)
    assert err.value.code == "invalid_idempotency_key"
    assert err.value.status == 400


def test_redis_key_is_a_hash_scoped_to_tenant_and_entry_point() -> None:
    raw = "my-secret-looking-key"
    name = redis_key("ten_a", "chat", raw)
    assert name.startswith("kt:idem:") and len(name) == len("kt:idem:") + 64
    assert raw not in name and "ten_a" not in name
    assert name != redis_key("ten_b", "chat", raw)
    assert name != redis_key("ten_a", "openai", raw)
    assert redis_key("a|b", "c", "k") != redis_key("a", "b|c", "k")


# --- claims -----------------------------------------------------------------------------------------------------

@requires_redis
def test_first_begin_claims_with_the_lease(rdb: TestKeys) -> None:
    idem = store(rdb, lease=30)
    claim = idem.begin("ten_a", "chat", "k1", FP_A)
    assert isinstance(claim, Claim) and claim.replay is None and claim.owned
    assert 25_000 <= rdb.client.pttl(claim.redis_key) <= 30_000
    assert b"k1" not in rdb.client.get(claim.redis_key)


@requires_redis
def test_repeat_while_running_is_409_with_retry_after(rdb: TestKeys) -> None:
    idem = store(rdb, lease=3)
    idem.begin("ten_a", "chat", "k1", FP_A)
    with pytest.raises(ApiError) as err:
        idem.begin("ten_a", "chat", "k1", FP_A)
    assert err.value.code == "idempotency_in_progress" and err.value.status == 409
    assert err.value.headers["retry-after"] in ("2", "3")  # ceil of the remaining lease


@requires_redis
def test_retry_after_is_capped_and_at_least_one(rdb: TestKeys) -> None:
    idem = store(rdb, lease=600)
    idem.begin("ten_a", "chat", "k1", FP_A)
    with pytest.raises(ApiError) as err:
        idem.begin("ten_a", "chat", "k1", FP_A)
    assert err.value.headers["retry-after"] == "5"


@requires_redis
def test_different_body_while_running_is_422(rdb: TestKeys) -> None:
    idem = store(rdb)
    idem.begin("ten_a", "chat", "k1", FP_A)
    with pytest.raises(ApiError) as err:
        idem.begin("ten_a", "chat", "k1", FP_B)
    assert err.value.code == "idempotency_key_reused" and err.value.status == 422


@requires_redis
def test_complete_then_begin_replays_the_outcome(rdb: TestKeys) -> None:
    idem = store(rdb, ttl=120)
    claim = idem.begin("ten_a", "chat", "k1", FP_A)
    assert idem.complete(claim, OUTCOME) is True
    assert 115 <= rdb.client.ttl(claim.redis_key) <= 120
    again = idem.begin("ten_a", "chat", "k1", FP_A)
    assert again.replay == OUTCOME and not again.owned
    assert idem.begin("ten_a", "chat", "k1", FP_A).replay == OUTCOME


@requires_redis
def test_big_outcome_roundtrips(rdb: TestKeys) -> None:
    idem = store(rdb)
    outcome = {**OUTCOME, "body": {"text": "word " * 50000}}
    idem.complete(idem.begin("ten_a", "chat", "big", FP_A), outcome)
    assert rdb.client.strlen(redis_key("ten_a", "chat", "big", rdb.prefix + "idem:")) < 20000
    assert idem.begin("ten_a", "chat", "big", FP_A).replay == outcome


@requires_redis
def test_stored_error_outcome_replays(rdb: TestKeys) -> None:
    idem = store(rdb)
    error = {"status": 400, "error": {"code": "provider_request_rejected", "message": "openai answered 400"}}
    idem.complete(idem.begin("ten_a", "chat", "k1", FP_A), error)
    assert idem.begin("ten_a", "chat", "k1", FP_A).replay == error


@requires_redis
def test_different_body_after_completion_is_422(rdb: TestKeys) -> None:
    idem = store(rdb)
    idem.complete(idem.begin("ten_a", "chat", "k1", FP_A), OUTCOME)
    with pytest.raises(ApiError) as err:
        idem.begin("ten_a", "chat", "k1", FP_B)
    assert err.value.code == "idempotency_key_reused"


@requires_redis
def test_release_lets_the_next_begin_claim(rdb: TestKeys) -> None:
    idem = store(rdb)
    claim = idem.begin("ten_a", "chat", "k1", FP_A)
    assert idem.release(claim) is True
    assert rdb.client.exists(claim.redis_key) == 0
    retry = idem.begin("ten_a", "chat", "k1", FP_A)
    assert retry.owned and retry.token != claim.token


@requires_redis
def test_release_after_a_release_frees_the_key_for_a_different_body(rdb: TestKeys) -> None:
    idem = store(rdb)
    idem.release(idem.begin("ten_a", "chat", "k1", FP_A))
    assert idem.begin("ten_a", "chat", "k1", FP_B).owned


@requires_redis
def test_scopes_tenant_and_entry_point(rdb: TestKeys) -> None:
    idem = store(rdb)
    idem.complete(idem.begin("ten_a", "chat", "k1", FP_A), OUTCOME)
    assert idem.begin("ten_b", "chat", "k1", FP_A).owned
    assert idem.begin("ten_a", "openai", "k1", FP_A).owned
    assert idem.begin("ten_a", "anthropic", "k1", FP_B).owned


@requires_redis
def test_lease_expiry_lets_a_new_claim_run(rdb: TestKeys) -> None:
    idem = store(rdb, lease=1)
    crashed = idem.begin("ten_a", "chat", "k1", FP_A)
    time.sleep(1.1)
    retry = idem.begin("ten_a", "chat", "k1", FP_A)
    assert retry.owned and retry.token != crashed.token


@requires_redis
def test_stale_claim_cannot_complete_or_release_over_a_new_claim(rdb: TestKeys) -> None:
    idem = store(rdb, lease=1)
    stale = idem.begin("ten_a", "chat", "k1", FP_A)
    time.sleep(1.1)
    fresh = idem.begin("ten_a", "chat", "k1", FP_A)
    assert idem.release(stale) is False
    assert idem.complete(stale, {"status": 200, "from": "stale"}) is False
    with pytest.raises(ApiError) as err:
        idem.begin("ten_a", "chat", "k1", FP_A)
    assert err.value.code == "idempotency_in_progress"
    assert idem.complete(fresh, OUTCOME) is True
    assert idem.begin("ten_a", "chat", "k1", FP_A).replay == OUTCOME


@requires_redis
def test_complete_after_lapsed_unclaimed_lease_still_stores(rdb: TestKeys) -> None:
    idem = store(rdb, lease=1)
    slow = idem.begin("ten_a", "chat", "k1", FP_A)
    time.sleep(1.1)
    assert idem.complete(slow, OUTCOME) is True
    assert idem.begin("ten_a", "chat", "k1", FP_A).replay == OUTCOME


@requires_redis
def test_release_of_a_completed_claim_keeps_the_outcome(rdb: TestKeys) -> None:
    idem = store(rdb)
    claim = idem.begin("ten_a", "chat", "k1", FP_A)
    idem.complete(claim, OUTCOME)
    assert idem.release(claim) is False
    assert idem.begin("ten_a", "chat", "k1", FP_A).replay == OUTCOME


@requires_redis
def test_replay_claim_cannot_be_completed(rdb: TestKeys) -> None:
    idem = store(rdb)
    idem.complete(idem.begin("ten_a", "chat", "k1", FP_A), OUTCOME)
    replay = idem.begin("ten_a", "chat", "k1", FP_A)
    with pytest.raises(ValueError):
        idem.complete(replay, OUTCOME)
    assert idem.release(replay) is False


@requires_redis
def test_unreadable_record_fails_closed(rdb: TestKeys) -> None:
    idem = store(rdb)
    rdb.client.set(redis_key("ten_a", "chat", "k1", rdb.prefix + "idem:"), b"?|garbage", ex=60)
    with pytest.raises(ApiError) as err:
        idem.begin("ten_a", "chat", "k1", FP_A)
    assert err.value.code == "idempotency_unavailable"


def test_zero_ttl_or_lease_refused() -> None:
    from unittest import mock

    with pytest.raises(ValueError):
        IdempotencyStore(mock.MagicMock(), ttl_seconds=0, lease_seconds=10)
    with pytest.raises(ValueError):
        IdempotencyStore(mock.MagicMock(), ttl_seconds=10, lease_seconds=0)


# --- races ------------------------------------------------------------------------------------------------------

@requires_redis
def test_concurrent_duplicates_exactly_one_claim_wins(rdb: TestKeys) -> None:
    idem = store(rdb)
    workers = 48
    barrier = threading.Barrier(workers)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            claim = idem.begin("ten_a", "chat", "race", FP_A)
        except ApiError as exc:
            return exc.code
        return "claimed" if claim.owned else "replay"

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(attempt, range(workers)))
    assert results.count("claimed") == 1
    assert results.count("idempotency_in_progress") == workers - 1


@requires_redis
def test_concurrent_duplicates_after_completion_all_replay(rdb: TestKeys) -> None:
    idem = store(rdb)
    workers = 32
    barrier = threading.Barrier(workers + 1)
    calls: list[int] = []

    def attempt(_: int) -> str:
        barrier.wait()
        deadline = time.monotonic() + 30
        while True:
            try:
                claim = idem.begin("ten_a", "chat", "race2", FP_A)
            except ApiError as exc:
                assert exc.code == "idempotency_in_progress"
                if time.monotonic() > deadline:
                    return "gave up"
                time.sleep(0.01)
                continue
            if claim.owned:
                calls.append(1)
                time.sleep(0.1)  # the "provider call"
                idem.complete(claim, OUTCOME)
                return "ran"
            assert claim.replay == OUTCOME
            return "replay"

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(attempt, i) for i in range(workers)]
        barrier.wait()
        results = [f.result() for f in futures]
    assert len(calls) == 1
    assert results.count("ran") == 1 and results.count("replay") == workers - 1


@requires_redis
def test_concurrent_duplicates_from_greenlets() -> None:
    """Many greenlets on gevent-patched sockets (the production worker model), in a subprocess."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = r'''
from gevent import monkey; monkey.patch_all()
import gevent, uuid
from app.errors import ApiError
from app.services.idempotency import IdempotencyStore
from tests.redis_helpers import delete_prefix, gateway_client, shared_url
client = gateway_client(shared_url())
prefix = f"kt:test:{uuid.uuid4().hex}:"
idem = IdempotencyStore(client, 60, 30, key_prefix=prefix)
calls = []
def attempt():
    while True:
        try:
            claim = idem.begin("ten_a", "chat", "g", "fp")
        except ApiError as exc:
            assert exc.code == "idempotency_in_progress", exc.code
            gevent.sleep(0.005)
            continue
        if claim.owned:
            calls.append(1)
            gevent.sleep(0.05)
            idem.complete(claim, {"status": 200})
            return "ran"
        return "replay"
try:
    results = [g.get(timeout=10) for g in [gevent.spawn(attempt) for _ in range(200)]]
finally:
    delete_prefix(client, prefix)
print(len(calls), results.count("ran"), results.count("replay"))
'''
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "1", "199"]


@requires_redis
def test_unserializable_outcome_is_not_stored_and_does_not_raise(rdb: TestKeys) -> None:
    idem = store(rdb)
    claim = idem.begin("ten_a", "chat", "k1", FP_A)
    assert idem.complete(claim, {"when": object()}) is False
    with pytest.raises(ApiError) as err:
        idem.begin("ten_a", "chat", "k1", FP_A)
    assert err.value.code == "idempotency_in_progress"
    assert idem.release(claim) is True


@pytest.mark.parametrize("fingerprint", ["", None, "a|b"])
def test_malformed_fingerprint_is_a_caller_bug(fingerprint: object) -> None:
    from unittest import mock

    idem = IdempotencyStore(mock.MagicMock(), ttl_seconds=10, lease_seconds=10)
    with pytest.raises(ValueError):
        idem.begin("ten_a", "chat", "k", fingerprint)  # type: ignore[arg-type]
