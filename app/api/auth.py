"""Bearer-key authentication for views: ``require_tenant()`` returns the caller's tenant or raises 401."""

from __future__ import annotations

from flask import current_app, g, request

from app.extensions import handles
from app.services.tenant_auth import KeyVerifier, TenantContext

VERIFIER_KEY = "killtoken_key_verifier"


def presented_key() -> str | None:
    """The key from ``Authorization: Bearer`` or, for the Anthropic SDK, ``x-api-key``."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("x-api-key") or None


def require_tenant() -> TenantContext:
    cached = g.get("tenant")
    if cached is not None:
        return cached
    verifier: KeyVerifier = current_app.extensions[VERIFIER_KEY]
    context = verifier.verify(handles().db, presented_key())
    g.tenant = context
    return context
