"""/v1/provider-credentials: shapes, refusals, encryption at rest, rotation, AAD binding, the live test."""

from __future__ import annotations

import base64
import json
import os

import pytest

from app.errors import ApiError
from app.security.credential_crypto import Keyring, associated_data, open_sealed, seal
from tests.conftest import PROVIDER_KEYS, make_gateway

HELLO = [{"role": "user", "content": "Hi"}]


def _post(gateway, key, body):
    return gateway.client.post("/v1/provider-credentials", json=body, headers=gateway.auth(key))


def test_create_shows_preview_never_secret_and_stores_only_ciphertext(gateway):
    key = gateway.tenant()
    created = gateway.add_credential(key, "openai")
    assert created["preview"] == "…" + PROVIDER_KEYS["openai"][-4:]
    assert created["provider"] == "openai" and created["status"] == "active" and created["version"] == 1
    listed = gateway.client.get("/v1/provider-credentials", headers=gateway.auth(key)).get_json()
    one = gateway.client.get(f"/v1/provider-credentials/{created['id']}", headers=gateway.auth(key)).get_json()
    stored = gateway.db["provider_credentials"].find_one({"_id": created["id"]})
    for blob in (created, listed, one, stored):
        assert PROVIDER_KEYS["openai"] not in json.dumps(blob, default=str)
    assert set(stored["sealed"]) == {"kid", "nonce", "ciphertext"}


@pytest.mark.parametrize(("body", "code"), [
    ({"provider": "openai", "apiKey": ""}, "invalid_api_key"),
    ({"provider": "openai", "apiKey": "   "}, "invalid_api_key"),
    ({"provider": "openai"}, "invalid_api_key"),
    ({"provider": "openai", "apiKey": "sk-x", "secrets": {"a": "b"}}, "invalid_provider_secrets"),
    ({"provider": "aws_bedrock", "apiKey": "sk-x"}, "invalid_provider_secrets"),
    ({"provider": "openai", "secrets": {"apiKey": "sk-x"}}, "invalid_provider_secrets"),
    ({"provider": "azure_openai", "apiKey": "k-1234"}, "invalid_provider_config"),
    ({"provider": "nope", "apiKey": "k-1234"}, "provider_not_supported"),
    ({"provider": "openai", "apiKey": "k-1234", "extra": 1}, "invalid_request"),
])
def test_malformed_credentials_are_refused_with_stable_codes(gateway, body, code):
    key = gateway.tenant()
    response = _post(gateway, key, body)
    assert response.get_json()["error"]["code"] == code
    expected_status = 422 if code == "provider_not_supported" else 400
    assert response.status_code == expected_status
    assert "sk-x" not in response.get_data(as_text=True)


@pytest.mark.parametrize("endpoint", ["http://acme.openai.azure.com", "https://127.0.0.1", "https://10.1.2.3",
                                      "https://169.254.169.254", "https://[::1]", "https://localhost"])
def test_private_or_plain_http_tenant_endpoints_are_refused(endpoint):
    gateway = make_gateway({})
    key = gateway.tenant()
    response = _post(gateway, key, {"provider": "openai_compatible", "apiKey": "k-1234",
                                    "config": {"baseUrl": endpoint + "/v1", "defaultModel": "m"}})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_endpoint"


def test_private_endpoints_allowed_when_the_operator_says_so(upstreams):
    origin = upstreams.servers["openai_compatible"].origin
    gateway = make_gateway({"KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS": "true"})
    key = gateway.tenant()
    created = _post(gateway, key, {"provider": "openai_compatible", "apiKey": PROVIDER_KEYS["openai_compatible"],
                                   "config": {"baseUrl": origin + "/v1", "defaultModel": "llama-3.1-8b"}})
    assert created.status_code == 201, created.get_json()
    answer = gateway.chat(key, provider="openai_compatible", model="llama-3.1-8b", messages=HELLO)
    assert answer.status_code == 200, answer.get_json()
    assert upstreams.fakes["openai_compatible"].last.headers["authorization"] == \
        f"Bearer {PROVIDER_KEYS['openai_compatible']}"


def test_one_active_credential_per_provider_then_patch_and_delete(gateway, upstreams):
    key = gateway.tenant()
    first = gateway.add_credential(key, "openai", apiKey="sk-old-key-0001")
    second = _post(gateway, key, {"provider": "openai", "apiKey": PROVIDER_KEYS["openai"]})
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "credential_exists"
    patched = gateway.client.patch(f"/v1/provider-credentials/{first['id']}", headers=gateway.auth(key),
                                   json={"apiKey": PROVIDER_KEYS["openai"]}).get_json()
    assert patched["version"] == 2 and patched["preview"] == "…1111"
    assert gateway.chat(key, provider="openai", model="gpt-4.1", messages=HELLO).status_code == 200
    assert upstreams.fakes["openai"].last.headers["authorization"] == f"Bearer {PROVIDER_KEYS['openai']}"
    deleted = gateway.client.delete(f"/v1/provider-credentials/{first['id']}", headers=gateway.auth(key))
    assert deleted.status_code == 204
    again = gateway.chat(key, provider="openai", model="gpt-4.1", messages=HELLO)
    assert again.get_json()["error"]["code"] == "provider_credential_required"
    assert gateway.add_credential(key, "openai")["version"] == 1


def test_credential_test_endpoint_reports_ok_and_upstream_refusal(gateway, upstreams):
    key = gateway.tenant()
    good = gateway.add_credential(key, "anthropic")
    result = gateway.client.post(f"/v1/provider-credentials/{good['id']}/test", headers=gateway.auth(key))
    assert result.status_code == 200
    assert result.get_json()["ok"] is True and result.get_json()["upstreamStatus"] == 200
    assert upstreams.fakes["anthropic"].last.json()["max_tokens"] == 1
    bad = gateway.add_credential(key, "openai", apiKey="sk-wrong-key-9999")
    refused = gateway.client.post(f"/v1/provider-credentials/{bad['id']}/test", headers=gateway.auth(key)).get_json()
    assert refused["ok"] is False and refused["upstreamStatus"] == 401
    assert refused["error"]["code"] == "provider_auth_failed"
    assert "sk-wrong" not in json.dumps(refused)
    shown = gateway.client.get(f"/v1/provider-credentials/{bad['id']}", headers=gateway.auth(key)).get_json()
    assert shown["lastTest"]["ok"] is False


def _b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_rotation_old_key_still_decrypts_and_new_writes_use_the_new_key():
    old, new = _b64key(), _b64key()
    before = Keyring.from_settings(f"k1:{old}", "", allow_ephemeral=False)
    aad = associated_data("ten_a", "cred_1", "openai")
    sealed = seal(before, {"apiKey": "sk-secret"}, aad)
    after = Keyring.from_settings(f"k2:{new}", f"k1:{old}", allow_ephemeral=False)
    assert open_sealed(after, sealed, aad) == {"apiKey": "sk-secret"}
    assert seal(after, {"apiKey": "sk-secret"}, aad)["kid"] == "k2"


def test_ciphertext_copied_to_another_tenant_record_does_not_decrypt(gateway, upstreams):
    key_a, key_b = gateway.tenant("a"), gateway.tenant("b")
    cred_a = gateway.add_credential(key_a, "openai")
    cred_b = gateway.add_credential(key_b, "openai", apiKey="sk-tenant-b-0000")
    stolen = gateway.db["provider_credentials"].find_one({"_id": cred_a["id"]})["sealed"]
    gateway.db["provider_credentials"].update_one({"_id": cred_b["id"]}, {"$set": {"sealed": stolen}})
    answer = gateway.chat(key_b, provider="openai", model="gpt-4.1", messages=HELLO)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "provider_credential_required"
    assert upstreams.fakes["openai"].requests == []


def test_encryption_key_is_required_with_a_real_mongodb():
    with pytest.raises(Exception, match="KILLTOKEN_ENCRYPTION_KEY"):
        make_gateway({"KILLTOKEN_MONGODB_URI": "mongodb://127.0.0.1:1/x"})


def test_bad_encryption_key_is_refused_without_echoing_it():
    with pytest.raises(Exception) as refused:
        make_gateway({"KILLTOKEN_ENCRYPTION_KEY": "c2hvcnQ="})
    assert "c2hvcnQ" not in str(refused.value)


def test_api_error_rejects_unknown_codes():
    with pytest.raises(ValueError):
        ApiError("made_up_code")


def test_a_name_rebound_to_a_private_address_is_refused_at_connect_time(upstreams, monkeypatch):
    """The save-time and call-time DNS checks see a public address; the connection itself lands on loopback."""
    from providers import endpoint_policy

    monkeypatch.setattr(endpoint_policy, "_addresses", lambda host: ["93.184.216.34"])
    port = upstreams.servers["openai_compatible"].origin.rsplit(":", 1)[1]
    gateway = make_gateway({})
    key = gateway.tenant()
    created = _post(gateway, key, {"provider": "openai_compatible", "apiKey": PROVIDER_KEYS["openai_compatible"],
                                   "config": {"baseUrl": f"https://localhost:{port}/v1", "defaultModel": "m"}})
    assert created.status_code == 201, created.get_json()
    answer = gateway.chat(key, provider="openai_compatible", model="m", messages=HELLO)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "invalid_endpoint"
    assert upstreams.fakes["openai_compatible"].requests == []
    test = gateway.client.post(f"/v1/provider-credentials/{created.get_json()['id']}/test",
                               headers=gateway.auth(key)).get_json()
    assert test["ok"] is False and test["error"]["code"] == "invalid_endpoint"
