"""Cache policies and the exact-cache store, on the real local Redis (test DB, private prefix)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app.errors import ApiError
from app.services import exact_cache
from app.services.exact_cache import (
    POLICIES,
    CacheUnavailable,
    ExactCache,
    decode_entry,
    encode_entry,
    parse_policy,
    parse_policy_header,
    reads,
    writes,
)
from tests.redis_helpers import TestKeys, redis_db, requires_redis

ENTRY = {
    "response": {"id": "msg_1", "content": [{"type": "text", "text": "héllo"}], "usage": {"input_tokens": 3}},
    "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4},
    "costUsd": 0.000012,
    "priceVersion": "2026-11-01",
    "requestId": "req_abc",
}


@pytest.fixture
def rdb() -> Iterator[TestKeys]:
    with redis_db() as keys:
        yield keys


# --- policies ---------------------------------------------------------------------------------------------------

def test_policy_names() -> None:
    assert POLICIES == ("bypass", "read_only", "write_only", "read_write")


def test_absent_policy_is_bypass() -> None:
    assert parse_policy(None) == "bypass"
    assert parse_policy({}) == "bypass"
    assert parse_policy_header(None) == "bypass"


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_parses(policy: str) -> None:
    assert parse_policy({"exactCache": policy}) == policy
    assert parse_policy_header(policy) == policy
    assert parse_policy_header(f" {policy.upper()} ") == policy


@pytest.mark.parametrize("raw", [
    "read_write", ["read_write"], 1, True, {"exactCache": "READ_WRITE"}, {"exactCache": "readwrite"},
    {"exactCache": None}, {"exactCache": 1}, {"exactCache": {"mode": "read_write"}},
    {"exactCache": "read_write", "semantic": True}, {"ttl": 5},
])
def test_malformed_policy_is_400(raw: object) -> None:
    with pytest.raises(ApiError) as err:
        parse_policy(raw)
    assert err.value.code == "invalid_cache_policy"
    assert err.value.status == 400
    assert "exactCache" in err.value.message or "cachePolicy" in err.value.message


@pytest.mark.parametrize("raw", ["", "yes", "readwrite", "read-write", "x" * 500])
def test_malformed_header_is_400(raw: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_policy_header(raw)
    assert err.value.code == "invalid_cache_policy"
    assert len(err.value.message) < 200


def test_read_and_write_sets_match_the_guide() -> None:
    assert [p for p in POLICIES if reads(p)] == ["read_only", "read_write"]
    assert [p for p in POLICIES if writes(p)] == ["write_only", "read_write"]


# --- storage format ---------------------------------------------------------------------------------------------

def test_small_entry_is_plain_json_roundtrip() -> None:
    data = encode_entry(ENTRY)
    assert data[:1] == b"j"
    assert json.loads(data[1:]) == ENTRY
    assert decode_entry(data) == ENTRY


def test_big_entry_is_compressed_and_roundtrips_exactly() -> None:
    entry = {**ENTRY, "response": {"text": "lorem ipsum " * 5000, "n": 2**70, "f": 0.1}}
    data = encode_entry(entry)
    assert data[:1] == b"z"
    assert len(data) < len(json.dumps(entry)) / 10
    assert decode_entry(data) == entry


def test_incompressible_big_entry_stays_plain() -> None:
    import base64
    import os

    entry = {"blob": base64.b85encode(os.urandom(4000)).decode()}
    assert decode_entry(encode_entry(entry)) == entry


@pytest.mark.parametrize("raw", [b"", b"x{}", b"z not zlib", b"j[1,2]", b"j{bad"])
def test_foreign_values_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_entry(raw)


# --- the store on Redis -----------------------------------------------------------------------------------------

@requires_redis
def test_miss_then_put_then_hit(rdb: TestKeys) -> None:
    cache = ExactCache(rdb.client, ttl_seconds=60)
    key = rdb.key("kt:cache:" + "a" * 64)
    assert cache.get(key) is None
    assert cache.put(key, ENTRY) is True
    assert cache.get(key) == ENTRY


@requires_redis
def test_put_always_sets_the_ttl(rdb: TestKeys) -> None:
    cache = ExactCache(rdb.client, ttl_seconds=1234)
    key = rdb.key("ttl")
    cache.put(key, ENTRY)
    assert 1230 <= rdb.client.ttl(key) <= 1234
    cache.put(key, {**ENTRY, "requestId": "req_2"})
    assert 1230 <= rdb.client.ttl(key) <= 1234


@requires_redis
def test_entry_expires(rdb: TestKeys) -> None:
    import time

    cache = ExactCache(rdb.client, ttl_seconds=1)
    key = rdb.key("short")
    cache.put(key, ENTRY)
    assert cache.get(key) == ENTRY
    time.sleep(1.2)
    assert cache.get(key) is None


@requires_redis
def test_big_entry_stored_compressed(rdb: TestKeys) -> None:
    cache = ExactCache(rdb.client, ttl_seconds=60)
    key = rdb.key("big")
    entry = {**ENTRY, "response": {"text": "the same words again " * 10000}}
    cache.put(key, entry)
    assert rdb.client.strlen(key) < 10000
    assert cache.get(key) == entry


@requires_redis
def test_over_limit_entry_is_skipped_not_stored(rdb: TestKeys) -> None:
    cache = ExactCache(rdb.client, ttl_seconds=60, max_entry_bytes=100)
    key = rdb.key("too-big")
    assert cache.put(key, {**ENTRY, "pad": "x" * 200}) is False
    assert rdb.client.exists(key) == 0


@requires_redis
def test_corrupt_value_is_a_miss(rdb: TestKeys) -> None:
    cache = ExactCache(rdb.client, ttl_seconds=60)
    key = rdb.key("corrupt")
    rdb.client.set(key, b"z\x00\x01garbage", ex=60)
    assert cache.get(key) is None


def test_zero_ttl_refused() -> None:
    with pytest.raises(ValueError):
        ExactCache(object(), ttl_seconds=0)  # type: ignore[arg-type]


def test_cache_unavailable_on_dead_port() -> None:
    from tests.redis_helpers import free_port, gateway_client

    client = gateway_client(f"redis://127.0.0.1:{free_port()}/0")
    cache = ExactCache(client, ttl_seconds=60)
    with pytest.raises(CacheUnavailable):
        cache.get("kt:cache:x")
    with pytest.raises(CacheUnavailable):
        cache.put("kt:cache:x", ENTRY)


def test_services_do_not_import_flask() -> None:
    import ast

    import app.services.cache_key as ck
    import app.services.idempotency as idem

    for module in (exact_cache, ck, idem):
        tree = ast.parse(open(module.__file__, encoding="utf-8").read())
        names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not [name for name in names if name.split(".")[0] == "flask"], module.__name__


@requires_redis
def test_unserializable_entry_is_cache_unavailable_not_a_crash(rdb: TestKeys) -> None:
    cache = ExactCache(rdb.client, ttl_seconds=60)
    with pytest.raises(CacheUnavailable):
        cache.put(rdb.key("bad"), {"when": object()})
    assert rdb.client.exists(rdb.key("bad")) == 0
