"""The one table of settings: environment name, parser, default and meaning.

Settings are read once, in ``create_app`` (and by the Celery worker through it), into ``app.config`` under their
environment name. Nothing else reads ``os.environ`` for settings. The README's settings table is checked
against ``SETTINGS`` by ``tests/test_readme_settings.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the setting, never a secret value."""


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def parse_positive_int(raw: str) -> int:
    value = int(raw.strip())
    if value <= 0:
        raise ValueError("expected a positive integer")
    return value


def parse_positive_float(raw: str) -> float:
    value = float(raw.strip())
    if value <= 0:
        raise ValueError("expected a positive number")
    return value


def parse_non_negative_int(raw: str) -> int:
    value = int(raw.strip())
    if value < 0:
        raise ValueError("expected 0 or a positive integer")
    return value


def parse_log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


def parse_str(raw: str) -> str:
    return raw.strip()


@dataclass(frozen=True)
class Setting:
    env: str
    parse: Callable[[str], Any]
    default: Any
    doc: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("PORT", parse_positive_int, 3000, "HTTP port gunicorn binds (make run)."),
    Setting("WEB_CONCURRENCY", parse_positive_int, 1,
            "gunicorn gevent worker processes; forced to 1 on the embedded store."),
    Setting("KILLTOKEN_MONGODB_URI", parse_str, None,
            "MongoDB URI. Unset: the embedded in-process store (mongomock-ng), lost on restart.", secret=True),
    Setting("KILLTOKEN_MONGODB_DB", parse_str, "killtoken", "MongoDB database name."),
    Setting("REDIS_URL", parse_str, None,
            "Redis URL for cache, idempotency and the Celery broker. Unset: no Redis.", secret=True),
    Setting("KILLTOKEN_CACHE_ENABLED", parse_bool, False,
            "Enable exact cache and idempotency keys (needs REDIS_URL)."),
    Setting("KILLTOKEN_CACHE_TTL_SECONDS", parse_positive_int, 86400, "Exact-cache entry lifetime."),
    Setting("KILLTOKEN_IDEMPOTENCY_TTL_SECONDS", parse_positive_int, 86400,
            "How long a finished idempotent result is replayed."),
    Setting("KILLTOKEN_IDEMPOTENCY_LEASE_SECONDS", parse_non_negative_int, 0,
            "Claim lease of a running idempotent request; 0 means read timeout + connect timeout + 30 s."),
    Setting("KILLTOKEN_REDIS_TIMEOUT_MS", parse_positive_int, 250,
            "Socket timeout for cache and idempotency calls; Redis trouble never blocks longer."),
    Setting("KILLTOKEN_TASKS_MODE", parse_str, "auto",
            "inprocess (run tasks in the web process), celery (send to the broker), or auto "
            "(celery when REDIS_URL and KILLTOKEN_MONGODB_URI are set, else inprocess)."),
    Setting("KILLTOKEN_CELERY_BROKER_URL", parse_str, None,
            "Celery broker URL; defaults to REDIS_URL.", secret=True),
    Setting("KILLTOKEN_ENCRYPTION_KEY", parse_str, None,
            "Current credential encryption key: [KEYID:]BASE64 of 32 bytes. Required with "
            "KILLTOKEN_MONGODB_URI; the embedded store uses an ephemeral key.", secret=True),
    Setting("KILLTOKEN_ENCRYPTION_KEYS", parse_str, "",
            "Older keys, comma-separated KEYID:BASE64, still accepted for decryption after rotation.",
            secret=True),
    Setting("KILLTOKEN_BOOTSTRAP_TENANTS", parse_str, "",
            "NAME:kt_...,OTHER:kt_... tenants and keys made sure to exist at start (idempotent).",
            secret=True),
    Setting("KILLTOKEN_KEY_CACHE_SECONDS", parse_positive_float, 1.0,
            "How long a worker trusts a verified tenant key before re-checking (revocation delay, max 1)."),
    Setting("KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS", parse_bool, False,
            "Allow tenant endpoints (azure endpoint, openai_compatible baseUrl) on private addresses or http."),
    Setting("KILLTOKEN_UPSTREAM_CONNECT_TIMEOUT_SECONDS", parse_positive_float, 5.0,
            "Upstream connect timeout."),
    Setting("KILLTOKEN_UPSTREAM_READ_TIMEOUT_SECONDS", parse_positive_float, 120.0,
            "Upstream read timeout; past it the call fails with 504 provider_timeout."),
    Setting("KILLTOKEN_UPSTREAM_POOL_SIZE", parse_positive_int, 64,
            "Pooled upstream connections per host per process."),
    Setting("KILLTOKEN_GOOGLE_TOKEN_URL", parse_str, None,
            "Override of Google's OAuth token endpoint (tests, private deployments)."),
    Setting("KILLTOKEN_MAX_BODY_BYTES", parse_positive_int, 20 * 1024 * 1024, "Largest accepted request body."),
    Setting("KILLTOKEN_PRICE_OVERRIDES", parse_str, "",
            "JSON object {\"provider/model\": {\"input\": usd_per_mtok, \"output\": ..., \"cacheRead\": ..., "
            "\"cacheWrite\": ...}} taking precedence over genai-prices."),
    Setting("KILLTOKEN_DASHBOARD_TOKEN", parse_str, None,
            "Operator token for the dashboard; /ready reports whether it is configured.", secret=True),
    Setting("KILLTOKEN_LOG_LEVEL", parse_log_level, "INFO", "Python log level."),
)

# KILLTOKEN_UPSTREAM_URL_<PROVIDER> is a family, one per provider id upper-cased; documented as one row.
UPSTREAM_URL_PREFIX = "KILLTOKEN_UPSTREAM_URL_"


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
                  ) -> dict[str, Any]:
    """Parse every setting once; a bad value stops start-up with a message naming the setting."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.env)
        if raw is None or raw.strip() == "":
            values[setting.env] = setting.default
            continue
        try:
            values[setting.env] = setting.parse(raw)
        except ValueError as exc:
            shown = "" if setting.secret else f" (got {raw!r})"
            raise ConfigError(f"{setting.env}: {exc}{shown}") from None
    values["UPSTREAM_URLS"] = {
        name[len(UPSTREAM_URL_PREFIX):].lower(): value.strip().rstrip("/")
        for name, value in env.items()
        if name.startswith(UPSTREAM_URL_PREFIX) and value.strip()
    }
    if overrides:
        values.update(overrides)
    if values["KILLTOKEN_KEY_CACHE_SECONDS"] > 1.0:
        raise ConfigError("KILLTOKEN_KEY_CACHE_SECONDS: must be at most 1 (revocation must apply within 1 s)")
    if values["KILLTOKEN_TASKS_MODE"] not in {"auto", "inprocess", "celery"}:
        raise ConfigError("KILLTOKEN_TASKS_MODE: expected auto, inprocess or celery")
    if values["KILLTOKEN_CACHE_ENABLED"] and not values["REDIS_URL"]:
        raise ConfigError("KILLTOKEN_CACHE_ENABLED: true needs REDIS_URL")
    if not values["KILLTOKEN_IDEMPOTENCY_LEASE_SECONDS"]:
        values["KILLTOKEN_IDEMPOTENCY_LEASE_SECONDS"] = int(
            values["KILLTOKEN_UPSTREAM_READ_TIMEOUT_SECONDS"] + values["KILLTOKEN_UPSTREAM_CONNECT_TIMEOUT_SECONDS"]
        ) + 30
    embedded = not values["KILLTOKEN_MONGODB_URI"]
    if values["KILLTOKEN_TASKS_MODE"] == "auto":
        # A Celery worker cannot reach the embedded store (it lives in the web process), so tasks run there.
        values["KILLTOKEN_TASKS_MODE"] = "celery" if values["REDIS_URL"] and not embedded else "inprocess"
    if not values["KILLTOKEN_CELERY_BROKER_URL"]:
        values["KILLTOKEN_CELERY_BROKER_URL"] = values["REDIS_URL"]
    if values["KILLTOKEN_TASKS_MODE"] == "celery" and not values["KILLTOKEN_CELERY_BROKER_URL"]:
        raise ConfigError("KILLTOKEN_TASKS_MODE: celery needs REDIS_URL or KILLTOKEN_CELERY_BROKER_URL")
    values["EMBEDDED_STORE"] = embedded
    return values
