"""A real Celery worker on the real Redis broker (DB 12): measurement, a duplicate delivery, rollups."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from tests.conftest import make_gateway

BROKER = "redis://127.0.0.1:6379/12"


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(BROKER, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _until(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the worker")


@pytest.mark.skipif(not _redis_up(), reason="needs the local Redis on 127.0.0.1:6379")
def test_worker_measures_deduplicates_and_rolls_up(upstreams: Any) -> None:
    redis.Redis.from_url(BROKER).flushdb()
    gateway = make_gateway({**upstreams.env(), "REDIS_URL": BROKER, "KILLTOKEN_TASKS_MODE": "celery"})
    celery = gateway.app.extensions["celery"]
    key = gateway.tenant("worker-co")
    gateway.add_credential(key, "openai")
    with start_worker(celery, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10):
        messages = [{"role": "system", "content": "Be brief.   \n\n\n\nThanks."},
                    {"role": "user", "content": "Hi"}]
        response = gateway.chat(key, provider="openai", model="gpt-4.1", messages=messages,
                                metadata={"feature": "worker"})
        assert response.status_code == 200
        request_id = response.get_json()["metrics"]["requestId"]
        traces = gateway.db["request_traces"]
        trace = _until(lambda: traces.find_one({"_id": request_id, "measurement": "measured"}))
        tenant_id = trace["tenantId"]
        payload = {"requestId": request_id, "tenantId": tenant_id, "provider": "openai", "model": "gpt-4.1",
                   "optimizationMode": "measure_only", "messages": messages, "nativeBody": None}
        celery.send_task("killtoken.measure_request", args=[payload])   # a duplicate delivery
        celery.send_task("killtoken.rollup_recent", args=[None])
        bucket = _until(lambda: gateway.db["rollups"].find_one({"tenantId": tenant_id, "dirty": False}))
    template = gateway.db["templates"].find_one({"_id": trace["templateId"]})
    assert template["firstSeenAt"] == template["lastSeenAt"] == trace["createdAt"]
    assert traces.find_one({"_id": request_id})["waste"] == trace["waste"]
    assert trace["waste"]["categories"]["whitespace"]["tokens"] == 2
    assert bucket["feature"] == "worker" and bucket["stats"]["requests"] == 1
    assert bucket["stats"]["templates"] == [{"templateId": trace["templateId"], "requests": 1}]
    assert bucket["stats"]["costNanos"] == trace["costNanos"] == 330_000
