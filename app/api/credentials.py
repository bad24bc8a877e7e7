"""/v1/provider-credentials: tenant-scoped BYOK credential management and the live credential test."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, jsonify
from flask_smorest import Blueprint

from app.api.auth import require_tenant
from app.api.body import read_json_object
from app.api.gateway import GATEWAY_KEY
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
    _forget(tenant.tenant_id, created["id"], created["provider"])
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
    _forget(tenant.tenant_id, credential_id, updated["provider"])
    return jsonify(updated)


@blp.route("/v1/provider-credentials/<credential_id>", methods=["DELETE"])
def delete(credential_id: str) -> Any:
    tenant = require_tenant()
    provider = service.get(handles().db, tenant.tenant_id, credential_id)["provider"]
    service.delete(handles().db, tenant.tenant_id, credential_id)
    _forget(tenant.tenant_id, credential_id, provider)
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


def _forget(tenant_id: str, credential_id: str, provider: str) -> None:
    """Make a change apply at once in this process: drop the cached record and any cached OAuth token."""
    current_app.extensions[GATEWAY_KEY].deps.credentials.forget(tenant_id, provider)
    tokens = handles().built_tokens()
    if tokens is not None:
        tokens.forget(tenant_id, credential_id)

