"""/v1/provider-credentials: tenant-scoped BYOK credential management and the live credential test."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, jsonify
from flask_smorest import Blueprint

from app.api.auth import require_tenant
from app.api.body import read_json_object
from app.errors import ApiError
from app.extensions import handles
from app.services import credential_test
from app.services import credentials as service

blp = Blueprint("provider_credentials", __name__, description="Provider credentials (strict BYOK)")


def _keyring() -> Any:
    return current_app.extensions["killtoken_keyring"]


def _settings() -> dict[str, Any]:
    return current_app.config["KILLTOKEN"]


@blp.route("/v1/provider-credentials", methods=["POST"])
def create() -> Any:
    tenant = require_tenant()
    created = service.create(handles().db, _keyring(), tenant.tenant_id, read_json_object(), _settings())
    return jsonify(created), 201


@blp.route("/v1/provider-credentials", methods=["GET"])
def list_credentials() -> Any:
    tenant = require_tenant()
    from app.store import credentials as store

    return jsonify({"data": [service.render(doc) for doc in store.list_active(handles().db, tenant.tenant_id)]})


@blp.route("/v1/provider-credentials/<credential_id>", methods=["GET"])
def get_credential(credential_id: str) -> Any:
    tenant = require_tenant()
    return jsonify(service.render(service.get(handles().db, tenant.tenant_id, credential_id)))


@blp.route("/v1/provider-credentials/<credential_id>", methods=["PATCH"])
def update(credential_id: str) -> Any:
    tenant = require_tenant()
    body = read_json_object()
    updated = service.update(handles().db, _keyring(), tenant.tenant_id, credential_id, body, _settings())
    gateway_tokens_forget(tenant.tenant_id, credential_id)
    return jsonify(updated)


@blp.route("/v1/provider-credentials/<credential_id>", methods=["DELETE"])
def delete(credential_id: str) -> Any:
    tenant = require_tenant()
    service.delete(handles().db, tenant.tenant_id, credential_id)
    gateway_tokens_forget(tenant.tenant_id, credential_id)
    return "", 204


@blp.route("/v1/provider-credentials/<credential_id>/test", methods=["POST"])
def test(credential_id: str) -> Any:
    tenant = require_tenant()
    h = handles()
    doc = service.get(h.db, tenant.tenant_id, credential_id)
    started = time.perf_counter()
    result = credential_test.run(doc, _keyring(), h, current_app.config["KILLTOKEN"])
    result["latencyMs"] = round((time.perf_counter() - started) * 1000.0, 3)
    from app.store import credentials as store

    store.record_test(h.db, tenant.tenant_id, credential_id, {**result, "at": store.now().isoformat() + "Z"})
    return jsonify(result)


def gateway_tokens_forget(tenant_id: str, credential_id: str) -> None:
    """Drop any cached OAuth token of this credential in this process (other processes key by version)."""
    tokens = handles()._tokens
    if tokens is not None and hasattr(tokens, "forget"):
        tokens.forget(tenant_id, credential_id)


__all__ = ["blp", "ApiError"]
