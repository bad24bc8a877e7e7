"""Cache and replay savings reach the summary and ROI report (real Redis, this suite's DB 12)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.conftest import make_gateway

URL = "redis://127.0.0.1:6379/12"


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(URL, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def cached(upstreams: Any) -> Iterator[Any]:
    client = redis.Redis.from_url(URL)
    client.flushdb()
    yield make_gateway({**upstreams.env(), "REDIS_URL": URL, "KILLTOKEN_CACHE_ENABLED": "true",
                        "KILLTOKEN_TASKS_MODE": "inprocess"})
    client.flushdb()


@pytest.mark.skipif(not _redis_up(), reason="needs the local Redis on 127.0.0.1:6379")
def test_hits_and_replays_are_cache_savings(cached: Any) -> None:
    key = cached.tenant("cachey")
    cached.add_credential(key, "openai")
    body = {"provider": "openai", "model": "gpt-4.1", "messages": [{"role": "user", "content": "Same question"}],
            "cachePolicy": {"exactCache": "read_write"}, "metadata": {"feature": "faq"}}
    statuses = [cached.chat(key, **body).get_json()["metrics"]["cacheStatus"] for _ in range(2)]
    assert statuses == ["miss", "hit"]
    replay_body = {**body, "cachePolicy": {"exactCache": "bypass"}, "idempotencyKey": "order-77"}
    first = cached.chat(key, **replay_body).get_json()["metrics"]
    second = cached.chat(key, **replay_body).get_json()["metrics"]
    assert (first["idempotencyStatus"], second["idempotencyStatus"]) == ("new", "replayed")
    tenant_id = cached.tenant_of(key)
    deadline = time.monotonic() + 10
    while cached.db["request_traces"].count_documents({"tenantId": tenant_id, "measurement": "pending"}):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    summary = cached.client.get("/v1/analytics/summary", headers=cached.auth(key)).get_json()
    # the fake bills 120 input (100 cached) + 30 output on gpt-4.1: 20 × $2 + 100 × $0.50 + 30 × $8 = $0.00033
    assert summary["totals"]["spendUsd"] == 0.00066                 # the miss and the first idempotent call
    assert summary["savings"]["cacheUsd"] == 0.00066                # the hit and the replay avoided one each
    assert summary["cache"] == {"hits": 1, "misses": 1, "lookups": 2, "hitRate": 0.5, "replays": 1}
    assert summary["byFeature"][0]["feature"] == "faq" and summary["byFeature"][0]["cacheHits"] == 1
    assert summary["totals"]["billedCalls"] == 2
    roi = cached.client.get("/v1/reports/roi", headers=cached.auth(key)).get_json()
    assert roi["savings"]["cache"] == {**roi["savings"]["cache"], "usd": 0.00066, "hits": 1, "replays": 1}
    # the hit repeats the miss within the TTL but was served from cache: no potential savings there
    assert roi["savings"]["potential"]["repeatUsd"] == 0.00033      # the uncached idempotent call repeats it
