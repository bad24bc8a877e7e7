"""Fixtures shared by the cache and idempotency end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Gateway, Upstreams, make_gateway
from tests.e2e.test_cache_e2e import cache_env
from tests.redis_helpers import E2E_DB, RedisServer, cleanup_tracked, private_redis, shared_url, track_app_redis


@pytest.fixture
def cached(upstreams: Upstreams) -> Iterator[Gateway]:
    """A gateway with the exact cache on, on the shared Redis's e2e DB (every key it touched is deleted)."""
    url = shared_url(E2E_DB)
    gw = make_gateway(cache_env(upstreams, url))
    tracked = track_app_redis(gw.app)
    yield gw
    cleanup_tracked(tracked, url)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A private redis-server that a test may stop, break and restart."""
    with private_redis() as server:
        yield server
