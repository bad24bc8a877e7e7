"""Per-process handles to MongoDB, Redis, the upstream HTTP session and the Google token source.

Handles are created lazily on first use, after gevent has patched and after gunicorn has forked (pymongo is
not fork-safe), and then reused by every request of the process: no per-request reconnects.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis
import requests
from flask import Flask, current_app
from pymongo.database import Database
from pymongo.errors import PyMongoError, ServerSelectionTimeoutError

EXTENSION_KEY = "killtoken"
_RETRY_AFTER_FAILURE_SECONDS = 1.0


@dataclass
class Handles:
    settings: dict[str, Any]
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _db: Database | None = None
    _connected: Database | None = None
    _failed_at: float = -1e9
    _redis: redis.Redis | None = None
    _session: requests.Session | None = None
    _public_session: requests.Session | None = None
    _tokens: Any = None
    _mongo_client: Any = None
    after_connect: Any = None  # called once with the database (embedded migrations, bootstrap tenants)

    @property
    def db(self) -> Database:
        if self._db is None:
            self._prepare()
        return self._db

    def _prepare(self) -> None:
        """Connect and prepare once; while MongoDB is down, callers fail fast instead of queueing on the lock."""
        if time.monotonic() - self._failed_at < _RETRY_AFTER_FAILURE_SECONDS:
            raise ServerSelectionTimeoutError("MongoDB was unreachable moments ago")
        with self._lock:
            if self._db is not None:
                return
            try:
                if self._connected is None:  # one client per process, even if preparing it fails
                    self._connected = self._connect_mongo()
                if self.after_connect is not None:
                    self.after_connect(self._connected)
            except PyMongoError:
                self._failed_at = time.monotonic()
                raise
            self._db = self._connected

    def unprepared_db(self) -> Database:
        """The database without migrations or bootstrap (the release step migrates before anything writes)."""
        with self._lock:
            if self._connected is None:
                self._connected = self._connect_mongo()
            return self._connected

    def _connect_mongo(self) -> Database:
        uri = self.settings["KILLTOKEN_MONGODB_URI"]
        if uri:
            from pymongo import MongoClient

            # Fail fast when MongoDB is down (3 s) unless the URI sets its own timeouts (those win).
            defaults = {name: 3000 for name in ("serverSelectionTimeoutMS", "connectTimeoutMS")
                        if name.lower() not in uri.lower()}
            self._mongo_client = MongoClient(uri, tz_aware=False, **defaults)
        else:
            import mongomock_ng

            self._mongo_client = mongomock_ng.MongoClient()
        return self._mongo_client[self.settings["KILLTOKEN_MONGODB_DB"]]

    @property
    def redis(self) -> redis.Redis | None:
        """The cache/idempotency client: short timeouts so Redis trouble never blocks a request for long."""
        url = self.settings["REDIS_URL"]
        if not url or not self.settings["KILLTOKEN_CACHE_ENABLED"]:
            return None
        if self._redis is None:
            with self._lock:
                if self._redis is None:
                    timeout = self.settings["KILLTOKEN_REDIS_TIMEOUT_MS"] / 1000.0
                    self._redis = redis.Redis.from_url(
                        url, socket_timeout=timeout, socket_connect_timeout=timeout,
                        retry_on_timeout=False, health_check_interval=0, max_connections=256,
                    )
        return self._redis

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    from providers.transport import build_session

                    self._session = build_session(self.settings["KILLTOKEN_UPSTREAM_POOL_SIZE"])
        return self._session

    @property
    def public_session(self) -> requests.Session:
        """The session for tenant-supplied endpoints: refuses any connection to a non-public address."""
        if self._public_session is None:
            with self._lock:
                if self._public_session is None:
                    from providers.transport import build_session

                    self._public_session = build_session(self.settings["KILLTOKEN_UPSTREAM_POOL_SIZE"],
                                                         public_only=True)
        return self._public_session

    @property
    def tokens(self) -> Any:
        """The Google OAuth token source (per-credential token cache) for Vertex."""
        if self._tokens is None:
            session = self.session  # outside the lock: ``session`` takes the same (non-reentrant) lock
            with self._lock:
                if self._tokens is None:
                    from providers.google_tokens import GoogleTokenSource

                    self._tokens = GoogleTokenSource(
                        session=session,
                        token_url=self.settings["KILLTOKEN_GOOGLE_TOKEN_URL"],
                        timeout=(self.settings["KILLTOKEN_UPSTREAM_CONNECT_TIMEOUT_SECONDS"],
                                 self.settings["KILLTOKEN_UPSTREAM_READ_TIMEOUT_SECONDS"]),
                    )
        return self._tokens


    def built_tokens(self) -> Any:
        """The token source if this process built one (nothing to forget otherwise)."""
        return self._tokens


def init_app(app: Flask, settings: dict[str, Any]) -> Handles:
    handles = Handles(settings=settings)
    app.extensions[EXTENSION_KEY] = handles
    return handles


def handles(app: Flask | None = None) -> Handles:
    """The handles of ``app`` (default: the current Flask app)."""
    return (app or current_app).extensions[EXTENSION_KEY]
