"""Provider credentials: validate with the adapter's parser, seal, store, load for a call, render safely.

Strict BYOK: the only credential a call can use is the tenant's active stored one; nothing here reads the
environment. Rendered credentials show non-secret config and a preview of the last 4 characters, never
the secret.
"""

from __future__ import annotations

import time
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from app.errors import ApiError
from app.security.credential_crypto import CredentialDecryptError, Keyring, associated_data, open_sealed, seal
from app.security.ids import new_id
from app.services.provider_call import check_tenant_endpoints
from app.store import credentials as store
from providers.base import Credential, ProviderAdapter
from providers.registry import get_adapter

_WRITE_FIELDS = {"provider", "apiKey", "secrets", "config", "name"}


def _validate_shape(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "the body must be a JSON object")
    unknown = sorted(set(body) - _WRITE_FIELDS)
    if unknown:
        raise ApiError("invalid_request", f"unknown field: {unknown[0]}", param=unknown[0])
    if "apiKey" in body and "secrets" in body:
        raise ApiError("invalid_provider_secrets", "give either apiKey or secrets, not both")
    if "config" in body and not isinstance(body["config"], dict):
        raise ApiError("invalid_provider_config", "config must be an object", param="config")
    if "secrets" in body and not isinstance(body["secrets"], dict):
        raise ApiError("invalid_provider_secrets", "secrets must be an object", param="secrets")
    if "apiKey" in body and (not isinstance(body["apiKey"], str) or not body["apiKey"].strip()):
        raise ApiError("invalid_api_key", "apiKey must be a non-empty string", status=400, param="apiKey")
    if "apiKey" in body and len(body["apiKey"]) > 4096:
        raise ApiError("invalid_api_key", "apiKey is longer than 4096 characters", status=400, param="apiKey")
    if "name" in body and (not isinstance(body["name"], str) or len(body["name"]) > 120):
        raise ApiError("invalid_request", "name must be a string of at most 120 characters", param="name")
    return body


def _preview(api_key: str | None, secrets: dict[str, str] | None) -> str:
    """The last 4 characters, and only when the value is long enough that they reveal little (>= 16)."""
    basis = api_key or (secrets or {}).get("accessKeyId") or (secrets or {}).get("clientEmail") or ""
    return "…" + basis[-4:] if len(basis) >= 16 else "…"


def _checked(adapter: ProviderAdapter, api_key: str | None, secrets: dict[str, Any] | None,
             config: dict[str, Any], settings: dict[str, Any]) -> tuple[str | None, dict[str, str] | None, dict]:
    if adapter.uses_api_key and secrets is not None:
        raise ApiError("invalid_provider_secrets", f"{adapter.id} takes apiKey, not secrets", param="secrets")
    if not adapter.uses_api_key and api_key is not None:
        raise ApiError("invalid_provider_secrets", f"{adapter.id} takes a secrets bundle, not apiKey",
                       param="apiKey")
    api_key, secrets, config = adapter.validate_credential(api_key, secrets, config)
    check_tenant_endpoints(adapter, config, settings)
    return api_key, secrets, config


def render(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "provider": doc["provider"],
        "name": doc.get("name"),
        "status": doc["status"],
        "version": doc["version"],
        "preview": doc.get("preview", ""),
        "secretFields": doc.get("secretFields", []),
        "config": doc.get("config", {}),
        "createdAt": doc["createdAt"].isoformat() + "Z",
        "updatedAt": doc["updatedAt"].isoformat() + "Z",
        "lastTest": doc.get("lastTest"),
    }


def create(db: Database, keyring: Keyring, tenant_id: str, body: Any, settings: dict[str, Any]) -> dict[str, Any]:
    _validate_shape(body)
    adapter = get_adapter(body.get("provider"))
    if adapter.uses_api_key and "secrets" in body:
        raise ApiError("invalid_provider_secrets", f"{adapter.id} takes apiKey, not secrets", param="secrets")
    if adapter.uses_api_key and "apiKey" not in body:
        raise ApiError("invalid_api_key", f"{adapter.id} needs a non-empty apiKey", status=400, param="apiKey")
    if not adapter.uses_api_key and "secrets" not in body:
        raise ApiError("invalid_provider_secrets", f"{adapter.id} needs a secrets object", param="secrets")
    api_key, secrets, config = _checked(adapter, body.get("apiKey"), body.get("secrets"),
                                        body.get("config") or {}, settings)
    credential_id = new_id("cred")
    now = store.now()
    secret_payload = {"apiKey": api_key} if api_key is not None else {"secrets": secrets}
    doc = {
        "_id": credential_id,
        "tenantId": tenant_id,
        "provider": adapter.id,
        "name": body.get("name"),
        "status": "active",
        "activeSlot": store.slot(tenant_id, adapter.id),
        "version": 1,
        "config": config,
        "preview": _preview(api_key, secrets),
        "secretFields": ["apiKey"] if api_key is not None else sorted(secrets or {}),
        "sealed": seal(keyring, secret_payload, associated_data(tenant_id, credential_id, adapter.id)),
        "createdAt": now,
        "updatedAt": now,
        "lastTest": None,
    }
    try:
        store.insert(db, doc)
    except DuplicateKeyError:
        raise ApiError("credential_exists",
                       f"an active {adapter.id} credential exists; PATCH or DELETE it first") from None
    return render(doc)


def update(db: Database, keyring: Keyring, tenant_id: str, credential_id: str, body: Any,
           settings: dict[str, Any]) -> dict[str, Any]:
    _validate_shape(body)
    doc = store.get(db, tenant_id, credential_id)
    if doc is None:
        raise ApiError("not_found", "no such provider credential")
    if "provider" in body and body["provider"] != doc["provider"]:
        raise ApiError("invalid_request", "provider cannot change; create a new credential", param="provider")
    if not set(body) - {"provider"}:  # nothing to change: no new version
        return render(doc)
    adapter = get_adapter(doc["provider"])
    current = _decrypt(keyring, doc)
    api_key = body.get("apiKey", current.get("apiKey"))
    secrets = body.get("secrets", current.get("secrets"))
    config = {**doc.get("config", {}), **body.get("config", {})} if "config" in body else doc.get("config", {})
    api_key, secrets, config = _checked(adapter, api_key, secrets, config, settings)
    secret_payload = {"apiKey": api_key} if api_key is not None else {"secrets": secrets}
    fields = {
        "config": config,
        "preview": _preview(api_key, secrets),
        "secretFields": ["apiKey"] if api_key is not None else sorted(secrets or {}),
        "sealed": seal(keyring, secret_payload, associated_data(tenant_id, credential_id, adapter.id)),
        "lastTest": None,
    }
    if "name" in body:
        fields["name"] = body["name"]
    updated = store.replace_version(db, tenant_id, credential_id, doc["version"], fields)
    if updated is None:
        raise ApiError("credential_conflict", "the credential changed concurrently; read it again and retry")
    return render(updated)


def delete(db: Database, tenant_id: str, credential_id: str) -> None:
    if not store.deactivate(db, tenant_id, credential_id):
        raise ApiError("not_found", "no such provider credential")


def get(db: Database, tenant_id: str, credential_id: str) -> dict[str, Any]:
    doc = store.get(db, tenant_id, credential_id)
    if doc is None:
        raise ApiError("not_found", "no such provider credential")
    return doc


def _decrypt(keyring: Keyring, doc: dict[str, Any]) -> dict[str, Any]:
    try:
        return open_sealed(keyring, doc["sealed"], associated_data(doc["tenantId"], doc["_id"], doc["provider"]))
    except (CredentialDecryptError, TypeError, KeyError):
        raise ApiError("provider_credential_required",
                       f"the stored {doc['provider']} credential cannot be decrypted with the configured "
                       "keys; store it again") from None


def to_credential(keyring: Keyring, doc: dict[str, Any]) -> Credential:
    secret = _decrypt(keyring, doc)
    return Credential(
        id=doc["_id"], tenant_id=doc["tenantId"], provider=doc["provider"], version=doc["version"],
        api_key=secret.get("apiKey"), secrets=secret.get("secrets"), config=dict(doc.get("config", {})),
    )


class ActiveCredentials:
    """Per-process cache of active credential records (sealed, never decrypted here) for at most ``ttl``.

    A change made through this process applies at once (``forget``); one made through another worker applies
    within ``ttl`` (KILLTOKEN_KEY_CACHE_SECONDS, at most 1 s), the same bound as key revocation. Records are
    decrypted per request, so plaintext secrets live only for the call.
    """

    def __init__(self, ttl: float, max_entries: int = 10000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._docs: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}

    def get(self, db: Database, tenant_id: str, provider: str) -> dict[str, Any] | None:
        key = (tenant_id, provider)
        now = time.monotonic()
        hit = self._docs.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        doc = store.find_active(db, tenant_id, provider)
        if len(self._docs) >= self._max:
            self._docs.clear()
        self._docs[key] = (now, doc)
        return doc

    def forget(self, tenant_id: str, provider: str) -> None:
        self._docs.pop((tenant_id, provider), None)


def load_active(db: Database, keyring: Keyring, tenant_id: str, provider: str,
                cache: ActiveCredentials | None = None) -> Credential:
    """The credential a call uses, or 400 ``provider_credential_required`` (before any cache or call)."""
    doc = cache.get(db, tenant_id, provider) if cache is not None else store.find_active(db, tenant_id, provider)
    if doc is None:
        raise ApiError("provider_credential_required",
                       f"add an active {provider} credential for this tenant (POST /v1/provider-credentials); "
                       "KillToken never falls back to environment or platform keys")
    return to_credential(keyring, doc)
