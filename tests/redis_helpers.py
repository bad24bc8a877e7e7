"""Redis for tests: a private key space on the shared local server, or a private redis-server to break.

Tests never stop or reconfigure the shared server (127.0.0.1:6379, or ``TEST_REDIS_HOST``/``TEST_REDIS_PORT``).
They use DB ``TEST_DB`` and a unique key prefix, deleted afterwards (``redis_db``); the e2e tests use DB
``E2E_DB`` and delete every key the app touched. Tests that stop Redis, pause it or fill its memory start their own
``redis-server`` on a free port (``private_redis``) and kill only that process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

SHARED_HOST = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")
SHARED_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))
TEST_DB = int(os.environ.get("TEST_REDIS_DB", "11"))
TIMEOUT_MS = 250


def gateway_client(url: str, timeout_ms: int = TIMEOUT_MS) -> redis.Redis:
    """A client configured the way the gateway should configure its cache/idempotency client.

    Short socket timeouts; one immediate retry on a broken connection only (a stale pooled socket after a
    Redis restart), never on a timeout, so a slow Redis costs one timeout and a dead one two refusals.
    """
    timeout = timeout_ms / 1000.0
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=0,
        max_connections=256, retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )


def shared_url(db: int = TEST_DB) -> str:
    return f"redis://{SHARED_HOST}:{SHARED_PORT}/{db}"


def shared_redis_available() -> bool:
    try:
        redis.Redis(host=SHARED_HOST, port=SHARED_PORT, socket_connect_timeout=0.5).ping()
        return True
    except redis.RedisError:
        return False


requires_redis = pytest.mark.skipif(not shared_redis_available(), reason="no Redis on the shared test port")
requires_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server missing")


@dataclass
class TestKeys:
    """A client on the test DB and the prefix every key of this test must start with."""

    __test__ = False

    client: redis.Redis
    prefix: str

    def key(self, name: str) -> str:
        return self.prefix + name

    def keys(self) -> list[bytes]:
        return list(self.client.scan_iter(match=self.prefix + "*", count=1000))


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    batch = list(client.scan_iter(match=prefix + "*", count=1000))
    if batch:
        client.delete(*batch)


@contextlib.contextmanager
def redis_db(db: int = TEST_DB) -> Iterator[TestKeys]:
    """A gateway-configured client on the shared server's test DB with a unique prefix, cleaned up after."""
    client = gateway_client(shared_url(db))
    prefix = f"kt:test:{uuid.uuid4().hex}:"
    try:
        yield TestKeys(client=client, prefix=prefix)
    finally:
        delete_prefix(client, prefix)
        client.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server this test owns: start, stop, pause (SIGSTOP), resume, same port throughout."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.mkdtemp(prefix="kt-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def admin(self) -> redis.Redis:
        """A plain client with generous timeouts, for set-up and checks (not the client under test)."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, socket_connect_timeout=5)

    def start(self, timeout: float = 10.0) -> None:
        assert self.proc is None, "already running"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", self._dir, "--daemonize", "no", "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode} on port {self.port}")
            try:
                probe = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
                probe.ping()
                probe.close()
                return
            except redis.RedisError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel but nothing answers (a hung Redis)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


@contextlib.contextmanager
def private_redis() -> Iterator[RedisServer]:
    """A running private redis-server, killed (only it) afterwards."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


E2E_DB = int(os.environ.get("TEST_REDIS_E2E_DB", "9"))  # DB 12 is FLUSHed by other tests


class TrackingRedis(redis.Redis):
    """The app's own Redis client (same pool and timeouts), remembering every key it touched for clean-up."""

    touched: set[Any]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        name = str(args[0]).upper() if args else ""
        if name in {"EVALSHA", "EVAL"} and len(args) > 2:
            self.touched.update(args[3:3 + int(args[2])])
        elif len(args) > 1 and name not in {"SCRIPT", "PING", "INFO", "CONFIG"}:
            self.touched.add(args[1])
        return super().execute_command(*args, **options)


def track_app_redis(app: Any) -> TrackingRedis | None:
    """Turn the app's (lazily created) cache/idempotency client into a ``TrackingRedis``, same instance."""
    from app.extensions import handles

    client = handles(app).redis
    if client is None:
        return None
    client.__class__ = TrackingRedis
    client.touched = set()
    return client  # type: ignore[return-value]


def cleanup_tracked(client: TrackingRedis | None, url: str) -> None:
    """Delete what the app touched, through a separate client (the app's may point at a stopped server)."""
    if client is None or not client.touched:
        return
    admin = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        admin.delete(*client.touched)
    except redis.RedisError:
        pass
    finally:
        admin.close()
