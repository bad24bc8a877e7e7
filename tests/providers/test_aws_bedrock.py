"""aws_bedrock: credential checks, Converse/InvokeModel translation, SigV4 round trips through a verifying fake."""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import botocore.auth
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from app.errors import ApiError
from providers import aws_bedrock
from providers.base import AuthContext, ChatRequest, Credential, ParsedResponse, UpstreamRequest, Usage
from tests.conftest import PROXY_CANARIES, assert_no_canary, make_gateway
from tests.fakes.bedrock import AwsKey, FakeBedrock

ADAPTER = aws_bedrock.ADAPTER
TENANT = AwsKey("AKIATENANTKEY0000001", "tenant-secret-0123456789abcdefghijklmnopqrst")
TEMPORARY = AwsKey("ASIATEMPKEY000000001", "temp-secret-0123456789abcdefghijklmnopqrstu",
                   session_token="FQoGZXIvYXdzEXAMPLEsessionTOKENvalue0123456789")
EXPIRED = AwsKey("ASIAEXPIREDKEY000001", "expired-secret-0123456789abcdefghijklmnop",
                 session_token="FQoGZXIvYXdzEXPIREDsessionTOKEN", expired=True)
AMBIENT_KEY_ID = "AKIAAMBIENTKEY000009"
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
PNG = "iVBORw0KGgo="


def credential(key: AwsKey, *, tenant: str = "t1", secret: str | None = None, **config: Any) -> Credential:
    secrets = {"accessKeyId": key.access_key_id, "secretAccessKey": secret or key.secret_access_key}
    if key.session_token:
        secrets["sessionToken"] = key.session_token
    return Credential(id=f"cred-{key.access_key_id}", tenant_id=tenant, provider="aws_bedrock", version=1,
                      secrets=secrets, config={"region": "us-east-1", **config})


def chat(model: str = HAIKU, **options: Any) -> ChatRequest:
    return ChatRequest(provider="aws_bedrock", model=model, messages=[{"role": "user", "content": "Hello"}],
                       options=options)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBedrock]:
    server = FakeBedrock(keys=[TENANT, TEMPORARY, EXPIRED]).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset(fake: FakeBedrock) -> None:
    fake.calls.clear()
    fake.rejected.clear()
    fake.scripted.clear()
    fake.usage = {"inputTokens": 12, "outputTokens": 5, "totalTokens": 17}


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        yield s


def send(session: requests.Session, upstream: UpstreamRequest) -> tuple[int, dict[str, str], Any]:
    response = session.request(upstream.method, upstream.url, headers=upstream.headers, data=upstream.body,
                               allow_redirects=False, timeout=5)
    return response.status_code, dict(response.headers), response.json()


def signed(request: ChatRequest, cred: Credential, origin: str, now: float | None = None) -> UpstreamRequest:
    return ADAPTER.authorize(ADAPTER.build_request(request, cred, origin), cred, AuthContext(now=now))


def call(session: requests.Session, upstream: UpstreamRequest) -> ParsedResponse:
    status, headers, body = send(session, upstream)
    if status >= 300:
        raise ADAPTER.parse_error(status, headers, body)
    return ADAPTER.parse_response(body)


# ---- credential validation --------------------------------------------------------------------------------

def test_validate_credential_normalizes() -> None:
    api_key, secrets, config = ADAPTER.validate_credential(
        None, {"accessKeyId": " AKIATENANTKEY0000001 ", "secretAccessKey": "s3cr3t", "sessionToken": "tok"},
        {"region": "eu-west-3", "defaultModel": "eu.amazon.nova-micro-v1:0"})
    assert api_key is None
    assert secrets == {"accessKeyId": "AKIATENANTKEY0000001", "secretAccessKey": "s3cr3t", "sessionToken": "tok"}
    assert config == {"region": "eu-west-3", "defaultModel": "eu.amazon.nova-micro-v1:0"}


@pytest.mark.parametrize(("api_key", "secrets", "code", "field"), [
    ("sk-live-SECRETVALUE", None, "invalid_provider_secrets", "apiKey"),
    (None, None, "invalid_provider_secrets", "secrets"),
    (None, {"secretAccessKey": "SECRETVALUE"}, "invalid_provider_secrets", "secrets.accessKeyId"),
    (None, {"accessKeyId": "AKIATENANTKEY0000001", "secretAccessKey": "  "}, "invalid_provider_secrets",
     "secrets.secretAccessKey"),
    (None, {"accessKeyId": "AKIATENANTKEY0000001", "secretAccessKey": "SECRETVALUE", "sessionToken": ""},
     "invalid_provider_secrets", "secrets.sessionToken"),
    (None, {"accessKeyId": "not a key SECRETVALUE", "secretAccessKey": "x"}, "invalid_provider_secrets",
     "secrets.accessKeyId"),
    (None, {"accessKeyId": "AKIATENANTKEY0000001", "secretAccessKey": "SECRETVALUE", "apiKey": "SECRETVALUE"},
     "invalid_provider_secrets", "secrets.apiKey"),
])
def test_validate_credential_refuses_bad_secrets(api_key: str | None, secrets: dict[str, str] | None,
                                                 code: str, field: str) -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.validate_credential(api_key, secrets, {"region": "us-east-1"})
    assert caught.value.code == code
    assert caught.value.status == 400
    assert field in caught.value.message
    assert "SECRETVALUE" not in caught.value.message


@pytest.mark.parametrize(("config", "field"), [
    ({}, "config.region"),
    ({"region": "US East"}, "config.region"),
    ({"region": "us-east-1", "endpoint": "https://x"}, "config.endpoint"),
    ({"region": "us-east-1", "defaultModel": "bad model"}, "config.defaultModel"),
])
def test_validate_credential_refuses_bad_config(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.validate_credential(None, {"accessKeyId": TENANT.access_key_id, "secretAccessKey": "x"}, config)
    assert (caught.value.code, caught.value.status, caught.value.param) == ("invalid_provider_config", 400, field)
    assert field in caught.value.message


def test_credential_repr_and_errors_hide_secrets() -> None:
    cred = credential(TEMPORARY)
    assert TEMPORARY.secret_access_key not in repr(cred)
    upstream = signed(chat(), cred, "http://127.0.0.1:9")
    assert TEMPORARY.secret_access_key not in json.dumps(upstream.headers)
    assert TEMPORARY.secret_access_key not in upstream.url


# ---- translation ------------------------------------------------------------------------------------------

def test_converse_translation_exact_body_and_url() -> None:
    request = ChatRequest(
        provider="aws_bedrock", model=HAIKU,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ]},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"answer\": 42}"},
            {"role": "user", "content": "Thanks"},
        ],
        options={"max_tokens": 256, "temperature": 0.2, "top_p": 0.9, "stop": "END", "top_k": 40,
                 "tools": [{"type": "function", "function": {"name": "lookup", "description": "Look up",
                                                              "parameters": {"type": "object"}}}],
                 "tool_choice": {"type": "function", "function": {"name": "lookup"}}},
    )
    upstream = ADAPTER.build_request(request, credential(TENANT), ADAPTER.default_origin)
    assert upstream.method == "POST"
    assert upstream.url == ("https://bedrock-runtime.us-east-1.amazonaws.com/model/"
                            "anthropic.claude-3-5-haiku-20241022-v1%3A0/converse")
    assert upstream.headers == {"content-type": "application/json", "accept": "application/json"}
    assert json.loads(upstream.body) == {
        "messages": [
            {"role": "user", "content": [
                {"text": "What is this?"}, {"image": {"format": "png", "source": {"bytes": PNG}}}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "call_1", "name": "lookup",
                                                           "input": {"q": "x"}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "call_1", "content": [{"text": "{\"answer\": 42}"}]}},
                {"text": "Thanks"}]},
        ],
        "system": [{"text": "Be brief."}, {"text": "Answer in French."}],
        "inferenceConfig": {"maxTokens": 256, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]},
        "toolConfig": {"tools": [{"toolSpec": {"name": "lookup", "description": "Look up",
                                               "inputSchema": {"json": {"type": "object"}}}}],
                       "toolChoice": {"tool": {"name": "lookup"}}},
        "additionalModelRequestFields": {"top_k": 40},
    }
    assert upstream.body == UpstreamRequest.json_body(json.loads(upstream.body))


def test_region_and_operator_override_origins() -> None:
    cred = credential(TENANT, region="eu-central-1")
    cred = Credential(id="c", tenant_id="t", provider="aws_bedrock", version=1, secrets=cred.secrets,
                      config={"region": "eu-central-1"})
    assert ADAPTER.build_request(chat(), cred, ADAPTER.default_origin).url.startswith(
        "https://bedrock-runtime.eu-central-1.amazonaws.com/model/")
    assert ADAPTER.build_request(chat(), cred, "http://127.0.0.1:9000/").url == (
        "http://127.0.0.1:9000/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse")


def test_arn_model_id_is_one_encoded_segment() -> None:
    url = ADAPTER.build_request(chat(PROFILE_ARN), credential(TENANT), "http://h").url
    assert url == ("http://h/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F"
                   "us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse")


@pytest.mark.parametrize("option", ["seed", "response_format", "logprobs", "presence_penalty"])
def test_unsupported_options_are_refused(option: str) -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.build_request(chat(**{option: 1}), credential(TENANT), "http://h")
    assert (caught.value.code, caught.value.status, caught.value.param) == (
        "unsupported_provider_option", 400, option)


@pytest.mark.parametrize("model", ["", "bad model", "model?x=1", "a#b", "x" * 2049])
def test_malformed_model_ids_are_refused(model: str) -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.build_request(chat(model), credential(TENANT), "http://h")
    assert (caught.value.code, caught.value.status, caught.value.param) == ("invalid_request", 400, "model")


def test_remote_image_url_is_refused() -> None:
    request = ChatRequest(provider="aws_bedrock", model=HAIKU, messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}])
    with pytest.raises(ApiError) as caught:
        ADAPTER.build_request(request, credential(TENANT), "http://h")
    assert caught.value.code == "invalid_messages"


def test_native_converse_fields_pass_through() -> None:
    request = chat("amazon.nova-micro-v1:0", additionalModelRequestFields={"inferenceConfig": {"topK": 20}},
                   guardrailConfig={"guardrailIdentifier": "g1", "guardrailVersion": "1"})
    body = json.loads(ADAPTER.build_request(request, credential(TENANT), "http://h").body)
    assert body == {"messages": [{"role": "user", "content": [{"text": "Hello"}]}],
                    "additionalModelRequestFields": {"inferenceConfig": {"topK": 20}},
                    "guardrailConfig": {"guardrailIdentifier": "g1", "guardrailVersion": "1"}}


ANTHROPIC_NATIVE = {
    "model": "claude-3-5-haiku-latest", "max_tokens": 64, "stream": False, "metadata": {"feature": "faq"},
    "system": [{"type": "text", "text": "Long policy text", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]}],
    "top_k": 5,
}


def anthropic_wrapper_request(model: str = HAIKU, native: dict[str, Any] | None = None) -> ChatRequest:
    return ChatRequest(provider="aws_bedrock", model=model, messages=[{"role": "user", "content": "Hi"}],
                       options={"max_tokens": 64}, entry_format="anthropic",
                       native_body=ANTHROPIC_NATIVE if native is None else native)


def test_anthropic_wrapper_with_claude_uses_invoke_model_with_native_body() -> None:
    upstream = ADAPTER.build_request(anthropic_wrapper_request(PROFILE_ARN), credential(TENANT), "http://h")
    assert upstream.url.endswith("%2Fus.anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke")
    assert upstream.response_format == "anthropic"
    assert ADAPTER.authorize(upstream, credential(TENANT), AuthContext()).response_format == "anthropic"
    assert json.loads(upstream.body) == {
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
        "system": [{"type": "text", "text": "Long policy text", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi",
                                                    "cache_control": {"type": "ephemeral"}}]}],
        "top_k": 5,
    }


def test_anthropic_beta_travels_in_the_body() -> None:
    request = ChatRequest(provider="aws_bedrock", model=HAIKU, messages=[], entry_format="anthropic",
                          native_body={"max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]},
                          options={"anthropic_beta": "context-1m-2025-08-07, token-efficient-tools-2025-02-19"})
    assert json.loads(ADAPTER.build_request(request, credential(TENANT), "http://h").body) == {
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
        "messages": [{"role": "user", "content": "Hi"}],
        "anthropic_beta": ["context-1m-2025-08-07", "token-efficient-tools-2025-02-19"]}
    converse = json.loads(ADAPTER.build_request(chat(anthropic_beta=["b1"]), credential(TENANT), "http://h").body)
    assert converse["additionalModelRequestFields"] == {"anthropic_beta": ["b1"]}


def test_anthropic_wrapper_with_non_claude_model_uses_converse() -> None:
    upstream = ADAPTER.build_request(anthropic_wrapper_request("amazon.nova-micro-v1:0"), credential(TENANT),
                                     "http://h")
    assert upstream.url == "http://h/model/amazon.nova-micro-v1%3A0/converse"
    assert upstream.response_format is None
    assert json.loads(upstream.body) == {"messages": [{"role": "user", "content": [{"text": "Hi"}]}],
                                         "inferenceConfig": {"maxTokens": 64}}


def test_anthropic_wrapper_field_invoke_model_cannot_take_is_refused() -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.build_request(anthropic_wrapper_request(native={**ANTHROPIC_NATIVE, "service_tier": "auto"}),
                              credential(TENANT), "http://h")
    assert (caught.value.code, caught.value.param) == ("unsupported_provider_option", "service_tier")


# ---- signing ----------------------------------------------------------------------------------------------

def test_only_built_headers_are_signed() -> None:
    upstream = signed(chat(), credential(TEMPORARY), "http://127.0.0.1:9000", now=1_700_000_000)
    assert upstream.headers["x-amz-date"] == "20231114T221320Z"
    assert upstream.headers["x-amz-security-token"] == TEMPORARY.session_token
    assert upstream.headers["host"] == "127.0.0.1:9000"
    assert upstream.headers["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=ASIATEMPKEY000000001/20231114/us-east-1/bedrock/aws4_request, "
        "SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token, Signature=")
    assert set(upstream.headers) == {"content-type", "accept", "host", "x-amz-date", "x-amz-security-token",
                                     "authorization"}


def test_signature_equals_botocore_add_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter signs with an explicit time; the result must be what SigV4Auth.add_auth itself produces."""
    cred = credential(TEMPORARY)
    unsigned = ADAPTER.build_request(chat(PROFILE_ARN), cred, ADAPTER.default_origin)
    ours = ADAPTER.authorize(unsigned, cred, AuthContext(now=1_700_000_000))
    reference = AWSRequest(method="POST", url=unsigned.url, data=unsigned.body, headers={
        **unsigned.headers, "host": "bedrock-runtime.us-east-1.amazonaws.com"})
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: datetime.datetime(2023, 11, 14, 22, 13, 20))
    SigV4Auth(Credentials(TEMPORARY.access_key_id, TEMPORARY.secret_access_key, TEMPORARY.session_token),
              "bedrock", "us-east-1").add_auth(reference)
    assert ours.headers["authorization"] == reference.headers["Authorization"]
    assert ours.headers["x-amz-security-token"] == reference.headers["X-Amz-Security-Token"]


# ---- round trips through the verifying fake ---------------------------------------------------------------

def test_round_trip_plain_keys(fake: FakeBedrock, session: requests.Session) -> None:
    parsed = call(session, signed(chat(), credential(TENANT), fake.origin))
    assert parsed == ParsedResponse(usage=Usage(input_tokens=12, output_tokens=5), text="Hello from Bedrock",
                                    finish_reason="stop")
    assert [(c.access_key_id, c.model, c.operation) for c in fake.calls] == [
        (TENANT.access_key_id, HAIKU, "converse")]
    assert fake.calls[0].signed_headers == ["accept", "content-type", "host", "x-amz-date"]


def test_round_trip_session_token(fake: FakeBedrock, session: requests.Session) -> None:
    call(session, signed(chat(), credential(TEMPORARY), fake.origin))
    assert fake.calls[0].access_key_id == TEMPORARY.access_key_id
    assert "x-amz-security-token" in fake.calls[0].signed_headers


def test_temporary_key_without_its_session_token_is_refused(fake: FakeBedrock, session: requests.Session) -> None:
    cred = Credential(id="c", tenant_id="t", provider="aws_bedrock", version=1, config={"region": "us-east-1"},
                      secrets={"accessKeyId": TEMPORARY.access_key_id,
                               "secretAccessKey": TEMPORARY.secret_access_key})
    with pytest.raises(ApiError) as caught:
        call(session, signed(chat(), cred, fake.origin))
    assert (caught.value.code, caught.value.status) == ("provider_auth_failed", 424)
    assert caught.value.message == ("aws_bedrock refused the stored credential: HTTP 403 "
                                    "(UnrecognizedClientException)")


def test_expired_session_token(fake: FakeBedrock, session: requests.Session) -> None:
    with pytest.raises(ApiError) as caught:
        call(session, signed(chat(), credential(EXPIRED), fake.origin))
    assert caught.value.code == "provider_auth_failed"
    assert "ExpiredTokenException" in caught.value.message


@pytest.mark.parametrize("model", [HAIKU, "us.anthropic.claude-3-5-haiku-20241022-v1:0", PROFILE_ARN,
                                   "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"])
def test_round_trip_colon_and_arn_model_ids(fake: FakeBedrock, session: requests.Session, model: str) -> None:
    call(session, signed(chat(model), credential(TENANT), fake.origin))
    assert [c.model for c in fake.calls] == [model]


def test_wrong_secret_is_403_invalid_signature(fake: FakeBedrock, session: requests.Session) -> None:
    cred = credential(TENANT, secret="wrong-secret-0123456789abcdefghijklmnopqrs")
    with pytest.raises(ApiError) as caught:
        call(session, signed(chat(), cred, fake.origin))
    assert (caught.value.code, caught.value.status, caught.value.provider_status) == (
        "provider_auth_failed", 424, 403)
    assert caught.value.message == "aws_bedrock refused the stored credential: HTTP 403 (InvalidSignatureException)"
    assert "wrong-secret" not in caught.value.message
    assert fake.calls == []


def test_unknown_access_key_is_unrecognized_client(fake: FakeBedrock, session: requests.Session) -> None:
    cred = Credential(id="c", tenant_id="t", provider="aws_bedrock", version=1, config={"region": "us-east-1"},
                      secrets={"accessKeyId": "AKIAUNKNOWNKEY000001", "secretAccessKey": "whatever"})
    with pytest.raises(ApiError) as caught:
        call(session, signed(chat(), cred, fake.origin))
    assert caught.value.message == ("aws_bedrock refused the stored credential: HTTP 403 "
                                    "(UnrecognizedClientException)")


def test_signed_header_changed_in_transit_is_refused(fake: FakeBedrock, session: requests.Session) -> None:
    upstream = signed(chat(), credential(TENANT), fake.origin)
    upstream.headers["content-type"] = "application/x-amz-json-1.1"
    with pytest.raises(ApiError) as caught:
        call(session, upstream)
    assert "InvalidSignatureException" in caught.value.message


def test_body_changed_in_transit_is_refused(fake: FakeBedrock, session: requests.Session) -> None:
    upstream = signed(chat(), credential(TENANT), fake.origin)
    upstream.body = upstream.body.replace(b"Hello", b"Hellp")
    with pytest.raises(ApiError) as caught:
        call(session, upstream)
    assert "InvalidSignatureException" in caught.value.message


def test_unsigned_header_added_in_transit_is_ignored(fake: FakeBedrock, session: requests.Session) -> None:
    upstream = signed(chat(), credential(TENANT), fake.origin)
    upstream.headers["x-extra"] = "added later"
    assert call(session, upstream).text == "Hello from Bedrock"


def test_mis_encoded_model_id_is_refused(fake: FakeBedrock, session: requests.Session) -> None:
    upstream = signed(chat(), credential(TENANT), fake.origin)
    upstream.url = upstream.url.replace("%3A", ":")
    with pytest.raises(ApiError) as caught:
        call(session, upstream)
    assert "InvalidSignatureException" in caught.value.message


def test_stale_signature_is_refused(fake: FakeBedrock, session: requests.Session) -> None:
    with pytest.raises(ApiError) as caught:
        call(session, signed(chat(), credential(TENANT), fake.origin, now=time.time() - 3600))
    assert caught.value.code == "provider_auth_failed"


def test_ambient_aws_environment_is_never_used(fake: FakeBedrock, session: requests.Session, tmp_path: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "credentials"
    shared.write_text(f"[default]\naws_access_key_id = {AMBIENT_KEY_ID}\naws_secret_access_key = ambient\n"
                      f"[ambient]\naws_access_key_id = {AMBIENT_KEY_ID}\naws_secret_access_key = ambient\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AMBIENT_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ambient-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "ambient-token")
    monkeypatch.setenv("AWS_PROFILE", "ambient")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(shared))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds")
    upstream = signed(chat(), credential(TENANT), fake.origin)
    assert "ambient" not in json.dumps(upstream.headers)
    call(session, upstream)
    assert fake.seen_access_key_ids() == {TENANT.access_key_id}
    assert "/us-east-1/bedrock/" in upstream.headers["authorization"]


def test_usage_normalization_adds_cache_buckets(fake: FakeBedrock, session: requests.Session) -> None:
    fake.usage = {"inputTokens": 100, "outputTokens": 50, "totalTokens": 1350, "cacheReadInputTokens": 1000,
                  "cacheWriteInputTokens": 200}
    parsed = call(session, signed(chat(), credential(TENANT), fake.origin))
    assert parsed.usage.to_metrics() == {"inputTokens": 1300, "cachedInputTokens": 1000,
                                         "cacheWriteInputTokens": 200, "outputTokens": 50,
                                         "reasoningTokens": 0, "totalTokens": 1350}


def test_tool_use_answer_is_parsed(fake: FakeBedrock, session: requests.Session) -> None:
    fake.scripted.append((200, {}, {
        "output": {"message": {"role": "assistant", "content": [
            {"text": "Let me look."}, {"toolUse": {"toolUseId": "tu_1", "name": "lookup", "input": {"q": "x"}}}]}},
        "stopReason": "tool_use", "usage": {"inputTokens": 30, "outputTokens": 9, "totalTokens": 39}}))
    request = chat(tools=[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
                   tool_choice="required")
    parsed = call(session, signed(request, credential(TENANT), fake.origin))
    assert fake.calls[0].body["toolConfig"]["toolChoice"] == {"any": {}}
    assert parsed == ParsedResponse(
        usage=Usage(input_tokens=30, output_tokens=9), text="Let me look.", finish_reason="tool_calls",
        tool_calls=[{"id": "tu_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}}])


def test_anthropic_wrapper_round_trip_invoke_model(fake: FakeBedrock, session: requests.Session) -> None:
    parsed = call(session, signed(anthropic_wrapper_request(), credential(TENANT), fake.origin))
    assert fake.calls[0].operation == "invoke"
    assert fake.calls[0].body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert parsed.text == "Hello from Claude on Bedrock"
    assert parsed.usage == Usage(input_tokens=1320, cached_input_tokens=1000, cache_write_input_tokens=300,
                                 output_tokens=7)


def test_test_request_is_minimal_converse_call(fake: FakeBedrock, session: requests.Session) -> None:
    default = ADAPTER.test_request(credential(TENANT))
    assert (default.model, default.options) == ("amazon.nova-micro-v1:0", {"max_tokens": 1})
    configured = ADAPTER.test_request(credential(TENANT, defaultModel=PROFILE_ARN))
    assert configured.model == PROFILE_ARN
    call(session, signed(default, credential(TENANT), fake.origin))
    assert fake.calls[0].body == {"messages": [{"role": "user", "content": [{"text": "ping"}]}],
                                  "inferenceConfig": {"maxTokens": 1}}


def test_validation_error_from_upstream(fake: FakeBedrock, session: requests.Session) -> None:
    request = ChatRequest(provider="aws_bedrock", model=HAIKU, messages=[{"role": "assistant", "content": "Hi"}])
    with pytest.raises(ApiError) as caught:
        call(session, signed(request, credential(TENANT), fake.origin))
    assert (caught.value.code, caught.value.status) == ("provider_request_rejected", 400)
    assert caught.value.message == "aws_bedrock rejected the request: HTTP 400 (ValidationException)"


# ---- error mapping ----------------------------------------------------------------------------------------

NS = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


@pytest.mark.parametrize(("status", "kind", "code", "http"), [
    (429, "ThrottlingException", "provider_rate_limited", 429),
    (400, "ServiceQuotaExceededException", "provider_rate_limited", 429),
    (403, "AccessDeniedException", "provider_auth_failed", 424),
    (400, "IncompleteSignatureException", "provider_auth_failed", 424),
    (400, "ValidationException", "provider_request_rejected", 400),
    (404, "ResourceNotFoundException", "provider_request_rejected", 404),
    (408, "ModelTimeoutException", "provider_error", 502),
    (424, "ModelErrorException", "provider_error", 502),
    (503, "ServiceUnavailableException", "provider_error", 502),
    (500, "InternalServerException", "provider_error", 502),
])
def test_error_mapping_by_type(status: int, kind: str, code: str, http: int) -> None:
    error = ADAPTER.parse_error(status, {"x-amzn-ErrorType": kind + NS}, {"message": "AKIA... secret text"})
    assert (error.code, error.status, error.provider_status) == (code, http, status)
    assert kind in error.message
    assert "secret text" not in error.message


def test_error_type_from_body_and_retry_after(fake: FakeBedrock, session: requests.Session) -> None:
    body_typed = ADAPTER.parse_error(400, {}, {"__type": "com.amazon.coral.validate#ValidationException"})
    assert body_typed.message == "aws_bedrock rejected the request: HTTP 400 (ValidationException)"
    fake.scripted.append((429, {"x-amzn-ErrorType": "ThrottlingException" + NS, "retry-after": "3"},
                          {"message": "Too many requests, please wait before trying again."}))
    with pytest.raises(ApiError) as caught:
        call(session, signed(chat(), credential(TENANT), fake.origin))
    assert (caught.value.code, caught.value.status, caught.value.headers) == (
        "provider_rate_limited", 429, {"retry-after": "3"})


def test_malformed_success_body_is_provider_error() -> None:
    with pytest.raises(ApiError) as caught:
        ADAPTER.parse_response({"unexpected": True})
    assert caught.value.code == "provider_error"


# ---- through the gateway: credential API, /v1/chat and both wrappers ---------------------------------------

@pytest.fixture
def gateway(fake: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in PROXY_CANARIES.items():
        monkeypatch.setenv(name, value)
    gw = make_gateway({"KILLTOKEN_UPSTREAM_URL_AWS_BEDROCK": fake.origin})
    return gw


def store_bedrock(gw: Any, key: AwsKey = TENANT, **config: Any) -> tuple[str, str]:
    tenant_key = gw.tenant()
    body = gw.add_credential(tenant_key, "aws_bedrock", config={"region": "us-east-1", **config}, secrets={
        "accessKeyId": key.access_key_id, "secretAccessKey": key.secret_access_key,
        **({"sessionToken": key.session_token} if key.session_token else {})})
    assert key.secret_access_key not in json.dumps(body)
    assert body["secretFields"] == sorted(["accessKeyId", "secretAccessKey"] + (
        ["sessionToken"] if key.session_token else []))
    return tenant_key, body["id"]


def test_gateway_credential_test_and_chat(gateway: Any, fake: FakeBedrock) -> None:
    tenant_key, credential_id = store_bedrock(gateway, TEMPORARY)
    tested = gateway.client.post(f"/v1/provider-credentials/{credential_id}/test", headers=gateway.auth(tenant_key))
    assert tested.get_json()["ok"] is True
    assert fake.calls[-1].body == {"messages": [{"role": "user", "content": [{"text": "ping"}]}],
                                   "inferenceConfig": {"maxTokens": 1}}
    fake.usage = {"inputTokens": 100, "outputTokens": 50, "totalTokens": 1350, "cacheReadInputTokens": 1000,
                  "cacheWriteInputTokens": 200}
    response = gateway.chat(tenant_key, provider="aws_bedrock", model=HAIKU,
                            messages=[{"role": "user", "content": "Hello"}])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["response"] == {"output": {"message": {"role": "assistant", "content": [
        {"text": "Hello from Bedrock"}]}}, "stopReason": "end_turn", "usage": fake.usage, "metrics": {"latencyMs": 42}}
    assert body["metrics"]["usage"] == {"inputTokens": 1300, "cachedInputTokens": 1000, "cacheWriteInputTokens": 200,
                                        "outputTokens": 50, "reasoningTokens": 0, "totalTokens": 1350}
    assert fake.seen_access_key_ids() == {TEMPORARY.access_key_id}
    assert_no_canary(body, [(r.headers, r.body) for r in fake.server.requests])


def test_gateway_openai_wrapper_translates_converse(gateway: Any, fake: FakeBedrock) -> None:
    tenant_key, _ = store_bedrock(gateway)
    response = gateway.client.post("/v1/openai/chat/completions", headers=gateway.auth(
        tenant_key, **{"x-killtoken-provider": "aws_bedrock"}), json={
        "model": "amazon.nova-micro-v1:0", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 9})
    assert response.status_code == 200, response.get_json()
    completion = response.get_json()
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] == "Hello from Bedrock"
    assert completion["usage"]["prompt_tokens"] == 12
    assert fake.calls[-1].body["inferenceConfig"] == {"maxTokens": 9}


def test_gateway_anthropic_wrapper_keeps_cache_control_via_invoke_model(gateway: Any, fake: FakeBedrock) -> None:
    tenant_key, _ = store_bedrock(gateway)
    system = [{"type": "text", "text": "Long policy", "cache_control": {"type": "ephemeral"}}]
    response = gateway.client.post("/v1/anthropic/messages", headers=gateway.auth(
        tenant_key, **{"x-killtoken-provider": "aws_bedrock"}), json={
        "model": HAIKU, "max_tokens": 50, "system": system, "messages": [{"role": "user", "content": "Hello"}]})
    assert response.status_code == 200, response.get_json()
    assert (fake.calls[-1].operation, fake.calls[-1].body["system"]) == ("invoke", system)
    message = response.get_json()
    assert (message["id"], message["content"]) == (
        "msg_bdrk_01", [{"type": "text", "text": "Hello from Claude on Bedrock"}])
    assert message["usage"]["cache_read_input_tokens"] == 1000


def test_gateway_refuses_bad_secrets_without_echo(gateway: Any) -> None:
    tenant_key = gateway.tenant()
    response = gateway.client.post("/v1/provider-credentials", headers=gateway.auth(tenant_key), json={
        "provider": "aws_bedrock", "secrets": {"accessKeyId": "", "secretAccessKey": "SECRETVALUE-1234"},
        "config": {"region": "us-east-1"}})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_provider_secrets"
    assert "SECRETVALUE" not in response.get_data(as_text=True)


def test_gateway_wrong_secret_is_provider_auth_failed(gateway: Any, fake: FakeBedrock) -> None:
    tenant_key = gateway.tenant()
    gateway.add_credential(tenant_key, "aws_bedrock", config={"region": "us-east-1"}, secrets={
        "accessKeyId": TENANT.access_key_id, "secretAccessKey": "wrong-secret-value-0123456789"})
    response = gateway.chat(tenant_key, provider="aws_bedrock", model=HAIKU,
                            messages=[{"role": "user", "content": "Hello"}])
    assert response.status_code == 424
    assert response.get_json()["error"] == {
        "code": "provider_auth_failed",
        "message": "aws_bedrock refused the stored credential: HTTP 403 (InvalidSignatureException)"}


def test_first_call_of_a_fresh_process_does_not_hang(fake: FakeBedrock) -> None:
    gw = make_gateway({"KILLTOKEN_UPSTREAM_URL_AWS_BEDROCK": fake.origin})
    tenant_key, _ = store_bedrock(gw)
    statuses: list[int] = []

    def first_call() -> None:
        statuses.append(gw.chat(tenant_key, provider="aws_bedrock", model=HAIKU,
                                messages=[{"role": "user", "content": "Hello"}]).status_code)

    worker = threading.Thread(target=first_call, daemon=True)
    worker.start()
    worker.join(5)
    assert statuses == [200]
