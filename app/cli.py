"""Operator CLI: ``flask --app wsgi tenants create NAME``, ``keys create|revoke|generate``, ``migrate``.

On the embedded store the data lives inside the running server process, so a CLI process would write into a
throwaway copy: there the commands that write refuse and say how to provision instead.
"""

from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.extensions import handles
from app.security import api_keys
from app.store import api_keys as key_store
from app.store import tenants as tenant_store

EMBEDDED_REFUSAL = (
    "The embedded store lives inside the running gateway process; this command would write into a throwaway "
    "copy. Provision instead with KILLTOKEN_BOOTSTRAP_TENANTS=NAME:$(make -s key) make run, or set "
    "KILLTOKEN_MONGODB_URI to use a real MongoDB."
)


def _refuse_if_embedded() -> None:
    if current_app.config["KILLTOKEN"]["EMBEDDED_STORE"]:
        click.echo(EMBEDDED_REFUSAL, err=True)
        sys.exit(2)


def register(app: Flask) -> None:
    tenants = AppGroup("tenants", help="Manage tenants (workspaces).")
    keys = AppGroup("keys", help="Manage tenant API keys.")

    @tenants.command("create")
    @click.argument("name")
    def create_tenant(name: str) -> None:
        """Create a tenant and its first key; prints {"tenantId", "apiKey"} (the key is shown once)."""
        _refuse_if_embedded()
        db = handles().db
        tenant = tenant_store.create(db, name)
        key = api_keys.mint()
        doc = key_store.add(db, tenant["_id"], key)
        click.echo(json.dumps({"tenantId": tenant["_id"], "apiKey": key, "keyId": doc["_id"]}))

    @keys.command("create")
    @click.argument("tenant_id")
    def create_key(tenant_id: str) -> None:
        """Mint another key for a tenant; prints {"keyId", "apiKey"}."""
        _refuse_if_embedded()
        db = handles().db
        if tenant_store.get(db, tenant_id) is None:
            click.echo(f"no tenant {tenant_id}", err=True)
            sys.exit(1)
        key = api_keys.mint()
        doc = key_store.add(db, tenant_id, key)
        click.echo(json.dumps({"tenantId": tenant_id, "keyId": doc["_id"], "apiKey": key}))

    @keys.command("revoke")
    @click.argument("key_id")
    def revoke_key(key_id: str) -> None:
        """Revoke a key; every worker refuses it within one second."""
        _refuse_if_embedded()
        if not key_store.revoke(handles().db, key_id):
            click.echo(f"no active key {key_id}", err=True)
            sys.exit(1)
        click.echo(json.dumps({"keyId": key_id, "revoked": True}))

    @keys.command("generate")
    def generate_key() -> None:
        """Print a fresh well-formed key without storing it (for KILLTOKEN_BOOTSTRAP_TENANTS)."""
        click.echo(api_keys.mint())

    @app.cli.command("migrate")
    def migrate() -> None:
        """Apply pending MongoDB migrations (the release process)."""
        import migrations

        _refuse_if_embedded()
        applied = migrations.run(handles().unprepared_db())  # indexes first, then bootstrap tenants
        handles().db  # noqa: B018
        click.echo(json.dumps({"applied": applied}))

    app.cli.add_command(tenants)
    app.cli.add_command(keys)
