"""create_app: config → logging → extensions → blueprints → error handlers.

``create_app`` does no I/O: databases, Redis and the upstream session connect lazily in each worker process
after gunicorn forks and gevent patches.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request
from flask_smorest import Api
from pymongo.errors import PyMongoError
from werkzeug.exceptions import HTTPException

from app import extensions, logging_setup
from app.api.auth import VERIFIER_KEY
from app.api.gateway import GATEWAY_KEY
from app.api.rendering import RENDERERS, error_shape_for
from app.config import ConfigError, load_settings
from app.errors import ApiError
from app.security.credential_crypto import Keyring
from app.services import bootstrap
from app.services.credentials import ActiveCredentials
from app.services.dispatch import Dispatcher
from app.services.pipeline import Gateway
from app.services.tenant_auth import KeyVerifier

log = logging.getLogger("killtoken")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def create_app(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Flask:
    settings = load_settings(environ, overrides)
    logging_setup.configure(settings["KILLTOKEN_LOG_LEVEL"])
    _check_upstream_overrides(settings["UPSTREAM_URLS"])
    if settings["EMBEDDED_STORE"] and settings["KILLTOKEN_TASKS_MODE"] == "celery":
        log.warning("KILLTOKEN_TASKS_MODE=celery on the embedded store: no worker can reach this store, so "
                    "queued measurement is never applied here (benchmarks only)")
    app = Flask(__name__)
    app.json.sort_keys = False  # bodies keep the provider's key order
    app.config["KILLTOKEN"] = settings
    # One byte of headroom: reading limit + 1 bytes of a chunked body is how app/api/body.py sees it is too large.
    app.config["MAX_CONTENT_LENGTH"] = settings["KILLTOKEN_MAX_BODY_BYTES"] + 1
    app.config.update(API_TITLE="KillToken", API_VERSION="1", OPENAPI_VERSION="3.0.3",
                      OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json")

    handles = extensions.init_app(app, settings)
    entries = bootstrap.parse(settings["KILLTOKEN_BOOTSTRAP_TENANTS"])
    handles.after_connect = lambda db: _prepare_database(db, settings, entries)
    keyring = Keyring.from_settings(settings["KILLTOKEN_ENCRYPTION_KEY"], settings["KILLTOKEN_ENCRYPTION_KEYS"],
                                    allow_ephemeral=settings["EMBEDDED_STORE"])
    app.extensions["killtoken_keyring"] = keyring
    app.extensions[VERIFIER_KEY] = KeyVerifier(settings["KILLTOKEN_KEY_CACHE_SECONDS"])

    from app.celery_app import make_celery
    from app.optimize.pricing import Pricer

    celery = make_celery(app)
    dispatcher = Dispatcher(settings["KILLTOKEN_TASKS_MODE"], celery, _inprocess_runner(app))
    app.extensions["killtoken_dispatcher"] = dispatcher
    pricer = Pricer(settings["KILLTOKEN_PRICE_OVERRIDES"])
    app.extensions["killtoken_pricer"] = pricer
    app.extensions[GATEWAY_KEY] = Gateway(_AppDeps(handles, keyring, pricer, dispatcher))
    _register_blueprints(app)
    _register_error_handlers(app)
    from app import cli

    cli.register(app)
    log.info("killtoken configured: store=%s cache=%s tasks=%s encryption=%s",
             "embedded (in-process, not persisted)" if settings["EMBEDDED_STORE"] else "mongodb",
             "redis" if settings["KILLTOKEN_CACHE_ENABLED"] else "off",
             settings["KILLTOKEN_TASKS_MODE"], "ephemeral key" if keyring.ephemeral else f"key {keyring.current_id}")
    return app


def _check_upstream_overrides(overrides: dict[str, str]) -> None:
    """KILLTOKEN_UPSTREAM_URL_<PROVIDER>: a known provider and a bare http(s) origin, or start-up stops."""
    from providers.registry import PROVIDER_IDS

    for provider, origin in sorted(overrides.items()):
        setting = f"KILLTOKEN_UPSTREAM_URL_{provider.upper()}"
        if provider not in PROVIDER_IDS:
            raise ConfigError(f"{setting}: no provider {provider!r} (one of: {', '.join(PROVIDER_IDS)})")
        shape = (f"{setting}: must be an origin like http://127.0.0.1:9000 (scheme, host, port; the provider's "
                 "own path is kept)")
        try:
            parts = urlsplit(origin)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0-65535
        except ValueError:
            raise ConfigError(shape) from None
        if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password
                or parts.path not in ("", "/") or parts.query or parts.fragment):
            raise ConfigError(shape)
        log.info("upstream override: %s -> %s", provider, origin)


def _prepare_database(db: Any, settings: dict[str, Any], entries: list[bootstrap.BootstrapEntry]) -> None:
    if settings["EMBEDDED_STORE"]:
        import migrations

        migrations.run(db)
    bootstrap.apply(db, entries)


class _AppDeps:
    """The pipeline's dependencies; Mongo, Redis and the session resolve on first use in the worker."""

    def __init__(self, handles: extensions.Handles, keyring: Keyring, pricer: Any, dispatcher: Dispatcher) -> None:
        self._handles = handles
        self.settings = handles.settings
        self.keyring, self.pricer, self.dispatcher = keyring, pricer, dispatcher
        self.credentials = ActiveCredentials(self.settings["KILLTOKEN_KEY_CACHE_SECONDS"])
        self._exact: Any = None
        self._idem: Any = None

    @property
    def db(self) -> Any:
        return self._handles.db

    @property
    def session(self) -> Any:
        return self._handles.session

    @property
    def public_session(self) -> Any:
        return self._handles.public_session

    def tokens(self) -> Any:
        return self._handles.tokens

    @property
    def exact_cache(self) -> Any:
        client = self._handles.redis
        if client is None:
            return None
        if self._exact is None:
            from app.services.exact_cache import ExactCache

            self._exact = ExactCache(client, self.settings["KILLTOKEN_CACHE_TTL_SECONDS"])
        return self._exact

    @property
    def idempotency(self) -> Any:
        client = self._handles.redis
        if client is None:
            return None
        if self._idem is None:
            from app.services.idempotency import IdempotencyStore

            self._idem = IdempotencyStore(client, self.settings["KILLTOKEN_IDEMPOTENCY_TTL_SECONDS"],
                                          self.settings["KILLTOKEN_IDEMPOTENCY_LEASE_SECONDS"])
        return self._idem


def _inprocess_runner(app: Flask) -> Any:
    def run(task_name: str, payload: dict[str, Any]) -> None:
        import tasks.measurement  # noqa: F401  (registers task functions)
        import tasks.rollups  # noqa: F401
        from tasks.registry import TASKS

        with app.app_context():
            try:
                TASKS[task_name](payload)
            except Exception:
                log.exception("in-process task %s failed", task_name)

    return run


def _register_blueprints(app: Flask) -> None:
    from app.api import (
        analytics,
        anthropic_wrapper,
        chat,
        credentials,
        exports,
        openai_wrapper,
        ops,
        reports,
        requests_api,
    )

    api = Api(app)
    for module in (ops, chat, openai_wrapper, anthropic_wrapper, credentials, requests_api, analytics, reports,
                   exports):
        api.register_blueprint(module.blp)


def _register_error_handlers(app: Flask) -> None:
    def render(error: ApiError) -> Any:
        return RENDERERS[error_shape_for(request.path)](error)

    app.register_error_handler(ApiError, render)

    def http_error(exc: HTTPException) -> Any:
        code = _HTTP_CODES.get(exc.code or 500)
        if code is None:
            code = "invalid_request" if (exc.code or 500) < 500 else "internal_error"
        return render(ApiError(code, status=exc.code))

    app.register_error_handler(HTTPException, http_error)

    def database_down(exc: PyMongoError) -> Any:
        log.error("database unavailable on %s: %s", request.path, type(exc).__name__)
        return render(ApiError("not_ready", "the gateway's database is unreachable; retry shortly"))

    app.register_error_handler(PyMongoError, database_down)

    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s", request.path)
        return render(ApiError("internal_error", "an unexpected error occurred"))

    app.register_error_handler(Exception, unexpected)
