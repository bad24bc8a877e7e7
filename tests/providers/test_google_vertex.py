"""google_vertex: credential checks, URLs, Gemini and Claude bodies, round trips with real token exchange."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.errors import ApiError
from providers import google_vertex
from providers.base import AuthContext, ChatRequest, Credential, ParsedResponse, UpstreamRequest, Usage
from providers.google_tokens import GoogleTokenSource
from tests.conftest import PROXY_CANARIES, assert_no_canary, make_gateway
from tests.fakes.google import FakeGoogle, ServiceAccount, make_service_account

ADAPTER = google_vertex.ADAPTER
ACCOUNT_A = make_service_account("tenant-a@proj-a-123.iam.gserviceaccount.com", "proj-a-123")
ACCOUNT_B = make_service_account("tenant-b@proj-b-456.iam.gserviceaccount.com", "proj-b-456")
ROTATED_A = make_service_account("tenant-a@proj-a-123.iam.gserviceaccount.com", "proj-a-123")
AMBIENT = make_service_account("ambient@operator-project.iam.gserviceaccount.com", "operator-project",
                               "proj-a-123")
CLAUDE = "claude-3-5-haiku@20241022"
GEMINI = "gemini-2.5-flash"


def credential(account: ServiceAccount, project: str, *, tenant: str = "tenant-a", version: int = 1,
               location: str = "us-central1", **config: Any) -> Credential:
    return Credential(id=f"cred-{tenant}", tenant_id=tenant, provider="google_vertex", version=version,
                      secrets=account.secrets(),
                      config={"projectId": project, "location": location, "defaultModel": GEMINI, **config})


CRED_A = credential(ACCOUNT_A, "proj-a-123")
CRED_B = credential(ACCOUNT_B, "proj-b-456", tenant="tenant-b")


def chat(model: str = GEMINI, **options: Any) -> ChatRequest:
    return ChatRequest(provider="google_vertex", model=model, messages=[{"role": "user", "content": "Hello"}],
                       options=options)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGoogle]:
    server = FakeGoogle(accounts=[ACCOUNT_A, ACCOUNT_B, ROTATED_A, AMBIENT]).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset(fake: FakeGoogle) -> None:
    fake.reset()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        yield s


@pytest.fixture
def auth(fake: FakeGoogle, session: requests.Session) -> AuthContext:
    return AuthContext(tokens=GoogleTokenSource(session=session, token_url=fake.token_url, timeout=(2.0, 5.0)))


def call(session: requests.Session, auth: AuthContext, request: ChatRequest, cred: Credential,
         origin: str) -> ParsedResponse:
    upstream = ADAPTER.authorize(ADAPTER.build_request(request, cred, origin), cred, auth)
    response = session.request(upstream.method, upstream.url, headers=upstream.headers, data=upstream.body,
                               allow_redirects=False, timeout=5)
    if response.status_code >= 300:
        raise ADAPTER.parse_error(response.status_code, dict(response.headers), response.json())
    return ADAPTER.parse_response(response.json())


# ---- credential validation --------------------------------------------------------------------------------

def test_validate_credential_normalizes() -> None:
    secrets = {"clientEmail": f" {ACCOUNT_A.client_email} ",
               "privateKey": ACCOUNT_A.private_key_pem.strip().replace("\n", "\\n"), "privateKeyId": "abc123"}
    api_key, normalized, config = ADAPTER.validate_credential(
        None, secrets, {"projectId": "proj-a-123", "location": "global", "defaultModel": CLAUDE,
                        "endpointUrl": "https://Vertex.Example.com/"})
    assert api_key is None
    assert normalized == {"clientEmail": ACCOUNT_A.client_email, "privateKey": ACCOUNT_A.private_key_pem,
                          "privateKeyId": "abc123"}
    assert config == {"projectId": "proj-a-123", "location": "global", "defaultModel": CLAUDE,
                      "endpointUrl": "https://vertex.example.com"}


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.mark.parametrize("private_key", [
    ACCOUNT_A.private_key_pem[:300] + "\n-----END PRIVATE KEY-----\n",
    ACCOUNT_A.private_key_pem.replace("MII", "XYZ", 1),
    "not a pem at all",
    _ec_pem(),
])
def test_corrupted_private_key_is_refused_naming_the_field(private_key: str) -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.validate_credential(None, {"clientEmail": ACCOUNT_A.client_email, "privateKey": private_key},
                                    {"projectId": "proj-a-123", "location": "us-central1", "defaultModel": GEMINI})
    assert (caught.value.code, caught.value.status, caught.value.param) == (
        "invalid_provider_secrets", 400, "secrets.privateKey")
    assert caught.value.message == ("secrets.privateKey is not a PEM RSA private key that google-auth can load")
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(("api_key", "secrets", "field"), [
    ("AIzaSECRETVALUE", None, "apiKey"),
    (None, None, "secrets"),
    (None, {"privateKey": "SECRETVALUE"}, "secrets.clientEmail"),
    (None, {"clientEmail": "a@b.iam.gserviceaccount.com"}, "secrets.privateKey"),
    (None, {"clientEmail": "a@b.iam", "privateKey": "x", "token_uri": "https://evil"}, "secrets.token_uri"),
])
def test_bad_secrets_are_refused(api_key: str | None, secrets: dict[str, str] | None, field: str) -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.validate_credential(api_key, secrets,
                                    {"projectId": "proj-a-123", "location": "us-central1", "defaultModel": GEMINI})
    assert caught.value.code == "invalid_provider_secrets"
    assert field in caught.value.message
    assert "SECRETVALUE" not in caught.value.message


def test_bad_client_email_is_refused() -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.validate_credential(None, {**ACCOUNT_A.secrets(), "clientEmail": "not-an-email"},
                                    {"projectId": "proj-a-123", "location": "us-central1", "defaultModel": GEMINI})
    assert (caught.value.code, caught.value.param) == ("invalid_provider_secrets", "secrets.clientEmail")


@pytest.mark.parametrize(("config", "field"), [
    ({"location": "us-central1", "defaultModel": GEMINI}, "config.projectId"),
    ({"projectId": "proj-a-123", "location": "mars", "defaultModel": GEMINI}, "config.location"),
    ({"projectId": "proj-a-123", "location": "us-central1"}, "config.defaultModel"),
    ({"projectId": "proj-a-123", "location": "us-central1", "defaultModel": GEMINI,
      "endpointUrl": "http://vertex.example.com"}, "config.endpointUrl"),
    ({"projectId": "proj-a-123", "location": "us-central1", "defaultModel": GEMINI,
      "endpointUrl": "https://vertex.example.com/v1/projects"}, "config.endpointUrl"),
    ({"projectId": "proj-a-123", "location": "us-central1", "defaultModel": GEMINI,
      "endpointUrl": "https://user:pw@vertex.example.com"}, "config.endpointUrl"),
    ({"projectId": "proj-a-123", "location": "us-central1", "defaultModel": GEMINI, "region": "x"},
     "config.region"),
])
def test_bad_config_is_refused(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.validate_credential(None, ACCOUNT_A.secrets(), config)
    assert (caught.value.code, caught.value.status) == ("invalid_provider_config", 400)
    assert field in caught.value.message
    assert "pw@" not in caught.value.message


@pytest.mark.parametrize(("given", "origin"), [
    ("https://Vertex.Example.com", "https://vertex.example.com"),
    ("https://vertex.example.com:8443/", "https://vertex.example.com:8443"),
    ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
])
def test_endpoint_url_is_normalized_to_an_origin(given: str, origin: str) -> None:
    assert google_vertex.https_origin(given) == origin


def test_tenant_endpoints() -> None:
    assert ADAPTER.tenant_endpoints({"endpointUrl": "https://vertex.example.com"}) == ["https://vertex.example.com"]
    assert ADAPTER.tenant_endpoints({"projectId": "p"}) == []


# ---- URLs and bodies --------------------------------------------------------------------------------------

def test_regional_global_override_and_endpoint_urls() -> None:
    path = "/v1/projects/proj-a-123/locations/{loc}/publishers/google/models/gemini-2.5-flash:generateContent"
    assert ADAPTER.build_request(chat(), CRED_A, ADAPTER.default_origin).url == (
        "https://us-central1-aiplatform.googleapis.com" + path.format(loc="us-central1"))
    global_cred = credential(ACCOUNT_A, "proj-a-123", location="global")
    assert ADAPTER.build_request(chat(), global_cred, ADAPTER.default_origin).url == (
        "https://aiplatform.googleapis.com" + path.format(loc="global"))
    assert ADAPTER.build_request(chat(), CRED_A, "http://127.0.0.1:9100/").url == (
        "http://127.0.0.1:9100" + path.format(loc="us-central1"))
    tenant_endpoint = credential(ACCOUNT_A, "proj-a-123", endpointUrl="https://vertex.example.com")
    assert ADAPTER.build_request(chat(), tenant_endpoint, ADAPTER.default_origin).url == (
        "https://vertex.example.com" + path.format(loc="us-central1"))
    assert ADAPTER.build_request(chat(), tenant_endpoint, "http://127.0.0.1:9100").url == (
        "http://127.0.0.1:9100" + path.format(loc="us-central1"))


def test_gemini_body_is_generate_content() -> None:
    request = ChatRequest(provider="google_vertex", model=GEMINI, options={"max_tokens": 64, "temperature": 0.1},
                          messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}])
    upstream = ADAPTER.build_request(request, CRED_A, ADAPTER.default_origin)
    assert upstream.headers == {"content-type": "application/json"}
    assert upstream.response_format is None
    assert json.loads(upstream.body) == {
        "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"temperature": 0.1, "maxOutputTokens": 64},
    }


def test_claude_body_is_raw_predict_without_model() -> None:
    request = ChatRequest(provider="google_vertex", model=CLAUDE, options={"max_tokens": 64},
                          messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}])
    upstream = ADAPTER.build_request(request, CRED_A, ADAPTER.default_origin)
    assert upstream.url == ("https://us-central1-aiplatform.googleapis.com/v1/projects/proj-a-123/locations/"
                            "us-central1/publishers/anthropic/models/claude-3-5-haiku@20241022:rawPredict")
    assert upstream.response_format == "anthropic"
    assert json.loads(upstream.body) == {
        "anthropic_version": "vertex-2023-10-16", "max_tokens": 64,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
    }


def test_anthropic_wrapper_keeps_native_body_for_claude() -> None:
    native = {"model": "claude-3-5-haiku-latest", "max_tokens": 32, "stream": False,
              "metadata": {"feature": "faq", "user_id": "u-1"},
              "system": [{"type": "text", "text": "Policy", "cache_control": {"type": "ephemeral"}}],
              "messages": [{"role": "user", "content": "Hi"}]}
    request = ChatRequest(provider="google_vertex", model=CLAUDE, messages=[{"role": "user", "content": "Hi"}],
                          entry_format="anthropic", native_body=native)
    body = json.loads(ADAPTER.build_request(request, CRED_A, ADAPTER.default_origin).body)
    assert body == {"anthropic_version": "vertex-2023-10-16", "max_tokens": 32,
                    "system": [{"type": "text", "text": "Policy", "cache_control": {"type": "ephemeral"}}],
                    "messages": [{"role": "user", "content": "Hi"}], "metadata": {"user_id": "u-1"}}


def test_unsupported_option_names_vertex() -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.build_request(chat(logit_bias={"1": 2}), CRED_A, ADAPTER.default_origin)
    assert caught.value.message == "providerOptions.logit_bias is not supported by google_vertex"


def test_authorize_without_token_source_is_refused() -> None:
    upstream = ADAPTER.build_request(chat(), CRED_A, ADAPTER.default_origin)
    with pytest.raises(ApiError) as caught:
        ADAPTER.authorize(upstream, CRED_A, AuthContext())
    assert caught.value.code == "internal_error"


# ---- round trips ------------------------------------------------------------------------------------------

def test_gemini_round_trip_with_usage(fake: FakeGoogle, session: requests.Session, auth: AuthContext) -> None:
    fake.gemini_usage = {"promptTokenCount": 1200, "cachedContentTokenCount": 1000, "candidatesTokenCount": 40,
                         "thoughtsTokenCount": 60, "totalTokenCount": 1300}
    parsed = call(session, auth, chat(), CRED_A, fake.vertex_origin)
    assert parsed == ParsedResponse(usage=Usage(input_tokens=1200, cached_input_tokens=1000, output_tokens=100,
                                                reasoning_tokens=60),
                                    text="Hello from Gemini", response_id="resp-vertex-1", model=GEMINI)
    assert parsed.usage.total_tokens == 1300
    assert [(c.client_email, c.project, c.location, c.publisher, c.method) for c in fake.vertex_calls] == [
        (ACCOUNT_A.client_email, "proj-a-123", "us-central1", "google", "generateContent")]


def test_claude_round_trip_with_usage(fake: FakeGoogle, session: requests.Session, auth: AuthContext) -> None:
    fake.claude_usage = {"input_tokens": 20, "output_tokens": 15, "cache_read_input_tokens": 1000,
                         "cache_creation_input_tokens": 300}
    parsed = call(session, auth, chat(CLAUDE, max_tokens=16), CRED_A, fake.vertex_origin)
    assert parsed.usage.to_metrics() == {"inputTokens": 1320, "cachedInputTokens": 1000,
                                         "cacheWriteInputTokens": 300, "outputTokens": 15,
                                         "reasoningTokens": 0, "totalTokens": 1335}
    assert parsed.text == "Hello from Claude on Vertex"
    assert fake.vertex_calls[0].model == CLAUDE
    assert fake.vertex_calls[0].publisher == "anthropic"


def test_two_tenants_interleaved_each_call_carries_its_own_token(
        fake: FakeGoogle, session: requests.Session, auth: AuthContext) -> None:
    for cred in (CRED_A, CRED_B, CRED_A, CRED_B, CRED_A):
        call(session, auth, chat(), cred, fake.vertex_origin)
    issued_to = {e.token: e.client_email for e in fake.exchanges}
    assert [(c.client_email, c.project) for c in fake.vertex_calls] == [
        (ACCOUNT_A.client_email, "proj-a-123"), (ACCOUNT_B.client_email, "proj-b-456")] * 2 + [
        (ACCOUNT_A.client_email, "proj-a-123")]
    assert all(issued_to[c.token] == c.client_email for c in fake.vertex_calls)
    assert len(fake.exchanges) == 2


def test_tenant_b_cannot_reach_tenant_a_project_with_its_token(
        fake: FakeGoogle, session: requests.Session, auth: AuthContext) -> None:
    stolen_project = credential(ACCOUNT_B, "proj-a-123", tenant="tenant-b")
    with pytest.raises(ApiError) as caught:
        call(session, auth, chat(), stolen_project, fake.vertex_origin)
    assert caught.value.code == "provider_auth_failed"
    assert fake.vertex_calls == []


def test_credential_update_mid_run_never_uses_the_old_token(
        fake: FakeGoogle, session: requests.Session, auth: AuthContext) -> None:
    call(session, auth, chat(), CRED_A, fake.vertex_origin)
    old_token = fake.vertex_calls[0].token
    updated = Credential(id=CRED_A.id, tenant_id=CRED_A.tenant_id, provider="google_vertex", version=2,
                         secrets=ROTATED_A.secrets(), config=CRED_A.config)
    for _ in range(3):
        call(session, auth, chat(), updated, fake.vertex_origin)
    assert [c.token == old_token for c in fake.vertex_calls] == [True, False, False, False]
    assert len({c.token for c in fake.vertex_calls[1:]}) == 1
    assert len(fake.exchanges) == 2


def test_upstream_401_then_invalidate_then_recovery(
        fake: FakeGoogle, session: requests.Session, auth: AuthContext) -> None:
    call(session, auth, chat(), CRED_A, fake.vertex_origin)
    fake.revoke_next_call = True
    with pytest.raises(ApiError) as caught:
        call(session, auth, chat(), CRED_A, fake.vertex_origin)
    assert (caught.value.code, caught.value.provider_status) == ("provider_auth_failed", 401)
    assert caught.value.message == "google_vertex refused the stored credential: HTTP 401 (UNAUTHENTICATED)"
    assert auth.tokens is not None
    auth.tokens.invalidate(CRED_A)
    parsed = call(session, auth, chat(), CRED_A, fake.vertex_origin)
    assert parsed.text == "Hello from Gemini"
    revoked = fake.vertex_refusals[0][1]
    assert fake.vertex_calls[-1].token != revoked
    assert len(fake.exchanges) == 2


def test_corrupted_stored_key_fails_with_no_call(fake: FakeGoogle, session: requests.Session,
                                                 auth: AuthContext) -> None:
    broken = Credential(id="c", tenant_id="t", provider="google_vertex", version=1, config=CRED_A.config,
                        secrets={**ACCOUNT_A.secrets(), "privateKey": "-----BEGIN PRIVATE KEY-----\nAAAA\n"})
    with pytest.raises(ApiError) as caught:
        call(session, auth, chat(), broken, fake.vertex_origin)
    assert (caught.value.code, caught.value.status) == ("invalid_provider_secrets", 400)
    assert "secrets.privateKey" in caught.value.message
    assert fake.token_requests == 0
    assert fake.vertex_calls == [] and fake.vertex_refusals == []


def test_ambient_google_credentials_are_ignored(fake: FakeGoogle, session: requests.Session, auth: AuthContext,
                                                tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ambient_file = tmp_path / "adc.json"
    ambient_file.write_text(json.dumps({
        "type": "service_account", "client_email": AMBIENT.client_email, "private_key": AMBIENT.private_key_pem,
        "private_key_id": AMBIENT.private_key_id, "token_uri": fake.token_url, "project_id": "operator-project"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(ambient_file))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "operator-project")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:1")
    call(session, auth, chat(), CRED_A, fake.vertex_origin)
    call(session, auth, chat(CLAUDE), CRED_A, fake.vertex_origin)
    assert {e.client_email for e in fake.exchanges} == {ACCOUNT_A.client_email}
    assert {c.client_email for c in fake.vertex_calls} == {ACCOUNT_A.client_email}


def test_credential_test_request_round_trip(fake: FakeGoogle, session: requests.Session, auth: AuthContext) -> None:
    probe = ADAPTER.test_request(CRED_A)
    assert (probe.model, probe.options) == (GEMINI, {"max_tokens": 1})
    call(session, auth, probe, CRED_A, fake.vertex_origin)
    assert fake.vertex_calls[0].body == {"contents": [{"role": "user", "parts": [{"text": "ping"}]}],
                                         "generationConfig": {"maxOutputTokens": 1}}


# ---- errors -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "body", "code", "http"), [
    (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded"}},
     "provider_rate_limited", 429),
    (403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "denied"}}, "provider_auth_failed", 424),
    (400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad"}}, "provider_request_rejected", 400),
    (404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "no model"}}, "provider_request_rejected", 404),
    (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "provider_error", 502),
    (500, {"error": {"code": 500, "status": "INTERNAL", "message": "oops"}}, "provider_error", 502),
])
def test_error_mapping(status: int, body: Any, code: str, http: int) -> None:
    error = ADAPTER.parse_error(status, {"retry-after": "7"}, body)
    assert (error.code, error.status) == (code, http)
    assert "message" not in error.message and "Quota exceeded" not in error.message


def test_malformed_success_body_is_provider_error() -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.parse_response({"weird": 1})
    assert caught.value.code == "provider_error"


def test_upstream_request_carries_only_bearer(fake: FakeGoogle, auth: AuthContext) -> None:
    upstream = ADAPTER.authorize(ADAPTER.build_request(chat(), CRED_A, fake.vertex_origin), CRED_A, auth)
    assert set(upstream.headers) == {"content-type", "authorization"}
    assert upstream.headers["authorization"].startswith("Bearer ya29.fake-")
    assert isinstance(upstream, UpstreamRequest)


# ---- through the gateway: credential API, /v1/chat and both wrappers ---------------------------------------

@pytest.fixture
def gateway(fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in PROXY_CANARIES.items():
        monkeypatch.setenv(name, value)
    gw = make_gateway({"KILLTOKEN_UPSTREAM_URL_GOOGLE_VERTEX": fake.vertex_origin,
                       "KILLTOKEN_GOOGLE_TOKEN_URL": fake.token_url})
    return gw


VERTEX_CONFIG = {"projectId": "proj-a-123", "location": "us-central1", "defaultModel": GEMINI}


def store_vertex(gw: Any, account: ServiceAccount = ACCOUNT_A, config: dict[str, Any] | None = None
                 ) -> tuple[str, str]:
    tenant_key = gw.tenant()
    body = gw.add_credential(tenant_key, "google_vertex", secrets=account.secrets(),
                             config=config or VERTEX_CONFIG)
    assert "PRIVATE KEY" not in json.dumps(body)
    return tenant_key, body["id"]


def test_gateway_credential_test_is_token_exchange_plus_call(gateway: Any, fake: FakeGoogle) -> None:
    tenant_key, credential_id = store_vertex(gateway)
    tested = gateway.client.post(f"/v1/provider-credentials/{credential_id}/test", headers=gateway.auth(tenant_key))
    assert tested.get_json()["ok"] is True
    assert [e.client_email for e in fake.exchanges] == [ACCOUNT_A.client_email]
    assert fake.vertex_calls[0].body["generationConfig"] == {"maxOutputTokens": 1}


def test_gateway_chat_gemini_and_claude_through_three_entry_points(gateway: Any, fake: FakeGoogle) -> None:
    tenant_key, _ = store_vertex(gateway)
    hello = [{"role": "user", "content": "Hello"}]
    gemini = gateway.chat(tenant_key, provider="google_vertex", model=GEMINI, messages=hello).get_json()
    assert gemini["response"]["candidates"][0]["content"]["parts"] == [{"text": "Hello from Gemini"}]
    assert gemini["metrics"]["usage"]["inputTokens"] == 8
    headers = gateway.auth(tenant_key, **{"x-killtoken-provider": "google_vertex"})
    completion = gateway.client.post("/v1/openai/chat/completions", headers=headers,
                                     json={"model": CLAUDE, "messages": hello}).get_json()
    assert completion["choices"][0]["message"]["content"] == "Hello from Claude on Vertex"
    system = [{"type": "text", "text": "Policy", "cache_control": {"type": "ephemeral"}}]
    message = gateway.client.post("/v1/anthropic/messages", headers=headers, json={
        "model": CLAUDE, "max_tokens": 20, "system": system, "messages": hello}).get_json()
    assert message["id"] == "msg_vrtx_01"
    assert fake.vertex_calls[-1].body == {"anthropic_version": "vertex-2023-10-16", "max_tokens": 20,
                                          "system": system, "messages": hello}
    assert [c.method for c in fake.vertex_calls] == ["generateContent", "rawPredict", "rawPredict"]
    assert {c.client_email for c in fake.vertex_calls} == {ACCOUNT_A.client_email}
    assert len(fake.exchanges) == 1
    assert_no_canary(gemini, completion, message, [(r.headers, r.body) for r in fake.vertex_server.requests])


def test_gateway_credential_update_switches_token(gateway: Any, fake: FakeGoogle) -> None:
    tenant_key, credential_id = store_vertex(gateway)
    hello = [{"role": "user", "content": "Hello"}]
    gateway.chat(tenant_key, provider="google_vertex", model=GEMINI, messages=hello)
    old_token = fake.vertex_calls[-1].token
    patched = gateway.client.patch(f"/v1/provider-credentials/{credential_id}", headers=gateway.auth(tenant_key),
                                   json={"secrets": ROTATED_A.secrets()})
    assert patched.status_code == 200, patched.get_json()
    for _ in range(2):
        assert gateway.chat(tenant_key, provider="google_vertex", model=GEMINI, messages=hello).status_code == 200
    assert [c.token == old_token for c in fake.vertex_calls] == [True, False, False]


def test_gateway_upstream_401_then_recovery(gateway: Any, fake: FakeGoogle) -> None:
    tenant_key, _ = store_vertex(gateway)
    hello = [{"role": "user", "content": "Hello"}]
    assert gateway.chat(tenant_key, provider="google_vertex", model=GEMINI, messages=hello).status_code == 200
    fake.revoke_next_call = True
    refused = gateway.chat(tenant_key, provider="google_vertex", model=GEMINI, messages=hello)
    assert refused.status_code == 424
    assert refused.get_json()["error"]["code"] == "provider_auth_failed"
    assert gateway.chat(tenant_key, provider="google_vertex", model=GEMINI, messages=hello).status_code == 200
    assert len(fake.exchanges) == 2


def test_gateway_refuses_corrupted_key_without_any_call(gateway: Any, fake: FakeGoogle) -> None:
    tenant_key = gateway.tenant()
    response = gateway.client.post("/v1/provider-credentials", headers=gateway.auth(tenant_key), json={
        "provider": "google_vertex", "config": VERTEX_CONFIG,
        "secrets": {**ACCOUNT_A.secrets(), "privateKey": ACCOUNT_A.private_key_pem[:400]}})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_provider_secrets"
    assert "secrets.privateKey" in response.get_json()["error"]["message"]
    assert ACCOUNT_A.private_key_pem[100:140] not in response.get_data(as_text=True)
    assert fake.token_requests == 0
