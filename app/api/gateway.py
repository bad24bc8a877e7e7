"""Glue between views and the pipeline: one Gateway per app, built from the app's handles."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from app.api.auth import require_tenant
from app.services.pipeline import Gateway, Incoming, Outcome

GATEWAY_KEY = "killtoken_gateway"


def run(entry_point: str, parse: Any, partial: Any) -> Outcome:
    gateway: Gateway = current_app.extensions[GATEWAY_KEY]
    return gateway.handle(entry_point, require_tenant, parse, partial)


def feature_header() -> str | None:
    """The header as UTF-8 (WSGI hands header bytes over as Latin-1)."""
    raw = request.headers.get("x-killtoken-feature")
    if raw is None:
        return None
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


__all__ = ["Incoming", "Outcome", "run", "feature_header"]
