"""Redis down, hung, out of memory, then back: the cache degrades, idempotency fails closed, both recover.

Each test owns a private redis-server (never the shared one). Clients are built the way the gateway builds
them (``app.extensions.Handles``) so the timeouts under test are the production ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from app.errors import ApiError
from app.services.exact_cache import CacheUnavailable, ExactCache
from app.services.idempotency import IdempotencyStore
from tests.redis_helpers import RedisServer, gateway_client, private_redis, requires_redis_server

pytestmark = requires_redis_server

LIMIT_S = 0.5
ENTRY = {"response": {"id": "r"}, "usage": {"totalTokens": 3}}


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with private_redis() as srv:
        yield srv


def production_client(url: str) -> redis.Redis:
    """The cache/idempotency client exactly as the gateway creates it."""
    from app.config import load_settings
    from app.extensions import Handles

    handles = Handles(settings=load_settings(environ={"REDIS_URL": url, "KILLTOKEN_CACHE_ENABLED": "true",
                                                      "KILLTOKEN_TASKS_MODE": "inprocess"}))
    client = handles.redis
    assert client is not None
    return client


@pytest.fixture(params=["production", "recommended"])
def make_client(request: pytest.FixtureRequest) -> Callable[[str], redis.Redis]:
    return production_client if request.param == "production" else gateway_client


def timed(func: Callable[[], Any]) -> tuple[float, BaseException | None]:
    start = time.monotonic()
    try:
        func()
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        return time.monotonic() - start, exc
    return time.monotonic() - start, None


def assert_cache_unavailable(func: Callable[[], Any]) -> None:
    elapsed, exc = timed(func)
    assert isinstance(exc, CacheUnavailable), exc
    assert elapsed < LIMIT_S, f"took {elapsed:.3f}s"


def assert_idempotency_unavailable(func: Callable[[], Any]) -> None:
    elapsed, exc = timed(func)
    assert isinstance(exc, ApiError) and exc.code == "idempotency_unavailable", exc
    assert exc.status == 503
    assert elapsed < LIMIT_S, f"took {elapsed:.3f}s"


def test_stopped_redis_fails_fast_then_recovers_with_the_same_client(
        server: RedisServer, make_client: Callable[[str], redis.Redis]) -> None:
    client = make_client(server.url)
    cache = ExactCache(client, ttl_seconds=60)
    idem = IdempotencyStore(client, ttl_seconds=60, lease_seconds=30)
    cache.put("kt:cache:k", ENTRY)
    assert cache.get("kt:cache:k") == ENTRY
    assert idem.begin("ten", "chat", "before", "fp").owned

    server.stop()
    assert_cache_unavailable(lambda: cache.get("kt:cache:k"))
    assert_cache_unavailable(lambda: cache.put("kt:cache:k", ENTRY))
    assert_idempotency_unavailable(lambda: idem.begin("ten", "chat", "k", "fp"))

    server.start()  # same port, empty data, no new client
    assert cache.get("kt:cache:k") is None
    cache.put("kt:cache:k", ENTRY)
    assert cache.get("kt:cache:k") == ENTRY
    claim = idem.begin("ten", "chat", "k", "fp")
    assert claim.owned
    assert idem.complete(claim, {"status": 200}) is True
    assert idem.begin("ten", "chat", "k", "fp").replay == {"status": 200}


def test_restart_between_requests_recovers_on_the_first_call(server: RedisServer) -> None:
    """The pooled socket is stale after a restart; the recommended client retries it once, transparently."""
    client = gateway_client(server.url)
    cache = ExactCache(client, ttl_seconds=60)
    idem = IdempotencyStore(client, ttl_seconds=60, lease_seconds=30)
    cache.put("kt:cache:k", ENTRY)
    idem.begin("ten", "chat", "warm", "fp")
    server.restart()
    assert cache.get("kt:cache:k") is None
    server.restart()
    assert idem.begin("ten", "chat", "k", "fp").owned  # also reloads the Lua script (NOSCRIPT after restart)


def test_restart_between_requests_production_client(server: RedisServer) -> None:
    """Same with the production client: at most one failed call after the restart, then normal service."""
    client = production_client(server.url)
    cache = ExactCache(client, ttl_seconds=60)
    cache.put("kt:cache:k", ENTRY)
    server.restart()
    failures = 0
    for _ in range(3):
        try:
            cache.get("kt:cache:k")
        except CacheUnavailable:
            failures += 1
    assert failures <= 1
    assert cache.get("kt:cache:k") is None


def test_hung_redis_times_out_within_the_limit(
        server: RedisServer, make_client: Callable[[str], redis.Redis]) -> None:
    client = make_client(server.url)
    cache = ExactCache(client, ttl_seconds=60)
    idem = IdempotencyStore(client, ttl_seconds=60, lease_seconds=30)
    cache.put("kt:cache:k", ENTRY)
    server.pause()
    try:
        assert_cache_unavailable(lambda: cache.get("kt:cache:k"))
        assert_cache_unavailable(lambda: cache.put("kt:cache:k2", ENTRY))
        assert_idempotency_unavailable(lambda: idem.begin("ten", "chat", "k", "fp"))
    finally:
        server.resume()
    assert cache.get("kt:cache:k") == ENTRY


def test_never_started_redis(make_client: Callable[[str], redis.Redis]) -> None:
    from tests.redis_helpers import free_port

    client = make_client(f"redis://127.0.0.1:{free_port()}/0")
    assert_cache_unavailable(lambda: ExactCache(client, 60).get("kt:cache:k"))
    assert_idempotency_unavailable(lambda: IdempotencyStore(client, 60, 30).begin("t", "chat", "k", "fp"))


def test_out_of_memory_writes_fail_reads_still_work(server: RedisServer) -> None:
    client = gateway_client(server.url)
    cache = ExactCache(client, ttl_seconds=60)
    idem = IdempotencyStore(client, ttl_seconds=60, lease_seconds=30)
    cache.put("kt:cache:old", ENTRY)
    admin = server.admin()
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", 1)
    try:
        assert_cache_unavailable(lambda: cache.put("kt:cache:new", ENTRY))
        assert_idempotency_unavailable(lambda: idem.begin("ten", "chat", "k", "fp"))
        assert cache.get("kt:cache:old") == ENTRY  # reads are allowed under OOM
    finally:
        admin.config_set("maxmemory", 0)
    cache.put("kt:cache:new", ENTRY)
    assert idem.begin("ten", "chat", "k", "fp").owned


def test_complete_and_release_swallow_failures(server: RedisServer) -> None:
    client = gateway_client(server.url)
    idem = IdempotencyStore(client, ttl_seconds=60, lease_seconds=30)
    claim = idem.begin("ten", "chat", "k", "fp")
    other = idem.begin("ten", "chat", "k2", "fp")
    server.stop()
    elapsed, exc = timed(lambda: idem.complete(claim, {"status": 200}))
    assert exc is None and elapsed < LIMIT_S
    assert idem.complete(claim, {"status": 200}) is False
    assert idem.release(other) is False
    server.start()


def test_complete_under_oom_returns_false_and_claim_lapses(server: RedisServer) -> None:
    client = gateway_client(server.url)
    idem = IdempotencyStore(client, ttl_seconds=60, lease_seconds=1)
    claim = idem.begin("ten", "chat", "k", "fp")
    admin = server.admin()
    admin.config_set("maxmemory", 1)
    try:
        assert idem.complete(claim, {"status": 200, "body": "x" * 1000}) is False
        assert idem.release(claim) is True  # DEL is allowed under OOM: a retry can run
    finally:
        admin.config_set("maxmemory", 0)
    assert idem.begin("ten", "chat", "k", "fp").owned


def test_allkeys_lru_eviction_loses_claims(server: RedisServer) -> None:
    """Why idempotency needs noeviction: under allkeys-lru running claims vanish (docs/redis.md)."""
    import os

    client = gateway_client(server.url)
    idem = IdempotencyStore(client, ttl_seconds=60, lease_seconds=60)
    cache = ExactCache(client, ttl_seconds=60)
    claims = {f"k{index}": idem.begin("ten", "chat", f"k{index}", "fp") for index in range(20)}
    admin = server.admin()
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory-policy", "allkeys-lru")
    admin.config_set("maxmemory", used + 200_000)
    try:
        for index in range(2000):
            cache.put(f"kt:cache:{index}", {"pad": os.urandom(400).hex()})
        lost = [name for name, claim in claims.items() if not admin.exists(claim.redis_key)]
        assert lost
        assert idem.begin("ten", "chat", lost[0], "fp").owned  # the duplicate would run: double billing
    finally:
        admin.config_set("maxmemory", 0)
        admin.config_set("maxmemory-policy", "noeviction")
