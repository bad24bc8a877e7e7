"""Operator CLI (tenants/keys) and KILLTOKEN_BOOTSTRAP_TENANTS."""

from __future__ import annotations

import base64
import json
import os

import mongomock_ng
import pytest

from app.config import ConfigError
from app.extensions import handles
from app.security import api_keys
from app.services import bootstrap
from tests.conftest import Gateway, make_gateway


def _shared_store_gateway() -> Gateway:
    """An app configured for a real MongoDB, whose database handle is swapped for an in-memory one."""
    gateway = make_gateway({"KILLTOKEN_MONGODB_URI": "mongodb://127.0.0.1:1/killtoken",
                            "KILLTOKEN_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode()})
    handles(gateway.app)._db = mongomock_ng.MongoClient()["killtoken"]
    return gateway


def test_cli_refuses_to_write_into_a_throwaway_embedded_store():
    runner = make_gateway({}).app.test_cli_runner()
    result = runner.invoke(args=["tenants", "create", "acme"])
    assert result.exit_code == 2
    assert "KILLTOKEN_BOOTSTRAP_TENANTS" in result.output and "KILLTOKEN_MONGODB_URI" in result.output


def test_cli_creates_tenants_and_keys_and_revokes_on_a_shared_store():
    gateway = _shared_store_gateway()
    runner = gateway.app.test_cli_runner()
    created = json.loads(runner.invoke(args=["tenants", "create", "acme"]).output)
    assert created["tenantId"].startswith("ten_") and api_keys.is_well_formed(created["apiKey"])
    stored = gateway.db["api_keys"].find_one({"tenantId": created["tenantId"]})
    assert stored["keyHash"] == api_keys.hash_key(created["apiKey"])
    assert created["apiKey"] not in json.dumps(stored, default=str)
    listed = gateway.client.get("/v1/provider-credentials", headers=gateway.auth(created["apiKey"]))
    assert listed.status_code == 200
    second = json.loads(runner.invoke(args=["keys", "create", created["tenantId"]]).output)
    assert second["apiKey"] != created["apiKey"]
    revoked = runner.invoke(args=["keys", "revoke", second["keyId"]])
    assert json.loads(revoked.output) == {"keyId": second["keyId"], "revoked": True}
    assert runner.invoke(args=["keys", "revoke", second["keyId"]]).exit_code == 1
    assert runner.invoke(args=["keys", "create", "ten_missing"]).exit_code == 1


def test_minted_keys_are_kt_base62_of_32_bytes():
    keys = {api_keys.mint() for _ in range(200)}
    assert len(keys) == 200
    assert all(k.startswith("kt_") and len(k) == 46 and api_keys.is_well_formed(k) for k in keys)


def test_bootstrap_makes_tenants_exist_idempotently():
    key = api_keys.mint()
    gateway = make_gateway({"KILLTOKEN_BOOTSTRAP_TENANTS": f"acme:{key}"})
    assert gateway.client.get("/v1/requests", headers=gateway.auth(key)).status_code == 200
    bootstrap.apply(gateway.db, bootstrap.parse(f"acme:{key}"))
    assert gateway.db["tenants"].count_documents({"name": "acme"}) == 1
    assert gateway.db["api_keys"].count_documents({}) == 1


@pytest.mark.parametrize("spec", ["acme:kt_short", "acme:sk-live-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
                                  ":kt_" + "a" * 43, "acme"])
def test_malformed_bootstrap_keys_are_refused_at_start_without_echo(spec):
    with pytest.raises(ConfigError) as refused:
        make_gateway({"KILLTOKEN_BOOTSTRAP_TENANTS": spec})
    assert "KILLTOKEN_BOOTSTRAP_TENANTS" in str(refused.value)
    assert "kt_short" not in str(refused.value) and "sk-live" not in str(refused.value)
