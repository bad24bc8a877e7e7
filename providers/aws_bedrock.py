"""AWS Bedrock adapter: the Converse API, signed with SigV4 from the tenant's own keys only.

Wire: ``POST /model/{modelId}/converse`` on ``https://bedrock-runtime.{region}.amazonaws.com`` (an operator
override of the origin replaces scheme, host and port). The model id (a plain id with ``:``, or a full ARN
with ``:`` and ``/``) is percent-encoded as one path segment; SigV4 then encodes the path once more in the
canonical request, exactly as AWS verifies it for every service but S3.

Signing uses ``botocore.auth.SigV4Auth`` over an explicit ``botocore.credentials.Credentials`` built from the
stored secrets: no boto3 session, no environment, profile, config file, container or instance metadata. Only
the headers built here are signed (``content-type``, ``host``, ``x-amz-date``, ``x-amz-security-token`` when
the credential carries a session token); the body signed is the exact byte string sent.

Anthropic wrapper + Claude: when the request came through the Anthropic wrapper (``entry_format ==
"anthropic"`` with ``native_body``) and the model id names a Claude model (``anthropic.claude...`` with an
optional inference-profile prefix, or an ARN ending in one; an application inference profile ARN names no
model, so it stays on Converse), the call goes to **InvokeModel**
(``POST /model/{modelId}/invoke``) with the Anthropic body as received plus ``anthropic_version:
bedrock-2023-05-31`` (``model`` and ``stream`` removed, ``metadata`` removed because InvokeModel refuses it),
so system blocks, ``cache_control``, ``thinking`` and Anthropic tools reach Claude untouched and the answer
is an Anthropic Messages body (``UpstreamRequest.response_format`` says so, so the wrapper returns it as is).
Every other request uses Converse. ``parse_response`` reads both shapes.

Options (``ChatRequest.options``): ``max_tokens``/``max_completion_tokens`` → ``inferenceConfig.maxTokens``,
``temperature``, ``top_p`` → ``topP``, ``stop`` → ``stopSequences``, ``tools``/``tool_choice`` → ``toolConfig``
(``tool_choice: "none"`` has no Converse equivalent and is refused); ``top_k``, ``thinking``,
``anthropic_beta``, ``reasoning_config`` → ``additionalModelRequestFields``; native Converse fields
(``inferenceConfig``, ``additionalModelRequestFields``, ``guardrailConfig``, ``performanceConfig``,
``requestMetadata``, ``additionalModelResponseFieldPaths``, ``promptVariables``, ``serviceTier``) as given.
Anything else is a 400 ``unsupported_provider_option``.

Usage: Converse's ``inputTokens`` counts only the tokens neither read from nor written to the prompt cache;
normalized ``input_tokens`` adds ``cacheReadInputTokens`` and ``cacheWriteInputTokens`` back.

Credential: ``secrets`` = ``{accessKeyId, secretAccessKey, sessionToken?}``; ``config`` = ``{region,
defaultModel?}``. ``defaultModel`` is only the model ``POST /v1/provider-credentials/{id}/test`` calls
(default ``amazon.nova-micro-v1:0``; set it to a model or inference profile enabled in the account).
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from app.errors import ApiError
from providers import canonical
from providers.anthropic import DEFAULT_MAX_TOKENS, parse_anthropic_response
from providers.base import (
    FORMAT_ANTHROPIC,
    FORMAT_BEDROCK_CONVERSE,
    AuthContext,
    ChatRequest,
    Credential,
    ParsedResponse,
    UpstreamRequest,
    Usage,
    map_error,
    unsupported_option,
)
from providers.credentials import config_string, only_fields, secret_string, secrets_bundle

Json = dict[str, Any]

PROVIDER_ID = "aws_bedrock"
SIGNING_SERVICE = "bedrock"
INVOKE_ANTHROPIC_VERSION = "bedrock-2023-05-31"
TEST_MODEL = "amazon.nova-micro-v1:0"
_ORIGIN_TEMPLATE = "https://bedrock-runtime.{region}.amazonaws.com"

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ACCESS_KEY_ID = re.compile(r"^[A-Z0-9]{16,128}$")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,2047}$")
_CLAUDE_MODEL = re.compile(r"(^|[./])anthropic\.claude")
_SECRET_FIELDS = ("accessKeyId", "secretAccessKey")
_OPTIONAL_SECRET_FIELDS = ("sessionToken",)
_CONFIG_FIELDS = ("region", "defaultModel")

_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                  "image/webp": "webp"}
_INFERENCE_RENAMES = {"max_tokens": "maxTokens", "max_completion_tokens": "maxTokens",
                      "temperature": "temperature", "top_p": "topP"}
# Native Converse top-level fields accepted under their own name in providerOptions.
_NATIVE_TOP_LEVEL = frozenset({"guardrailConfig", "performanceConfig", "requestMetadata",
                               "additionalModelResponseFieldPaths", "promptVariables", "serviceTier"})
# Model-native parameters forwarded inside additionalModelRequestFields.
_MODEL_FIELDS = frozenset({"top_k", "thinking", "anthropic_beta", "reasoning_config"})
_TRANSLATED = frozenset({"stop", "tools", "tool_choice", "additionalModelRequestFields", "inferenceConfig", "n"})
SUPPORTED_OPTIONS = frozenset(_INFERENCE_RENAMES) | _NATIVE_TOP_LEVEL | _MODEL_FIELDS | _TRANSLATED

# Bedrock Claude InvokeModel body fields (anything else in a native Anthropic body is refused with a 400).
_INVOKE_FIELDS = frozenset({"max_tokens", "system", "messages", "temperature", "top_p", "top_k",
                            "stop_sequences", "tools", "tool_choice", "thinking", "anthropic_beta"})
_INVOKE_DROPPED = frozenset({"model", "stream", "metadata"})

_AUTH_TYPES = frozenset({
    "UnrecognizedClientException", "AccessDeniedException", "InvalidSignatureException",
    "ExpiredTokenException", "IncompleteSignatureException", "MissingAuthenticationTokenException",
    "InvalidClientTokenId", "SignatureDoesNotMatch",
})
_RATE_TYPES = frozenset({"ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"})
_SERVER_TYPES = frozenset({"ModelTimeoutException", "ModelErrorException", "ServiceUnavailableException",
                           "InternalServerException", "ModelStreamErrorException"})
_STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                 "model_context_window_exceeded": "length", "tool_use": "tool_calls",
                 "guardrail_intervened": "content_filter", "content_filtered": "content_filter"}


# ---- credential -------------------------------------------------------------------------------------------

def _secret_string(secrets: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = secret_string(secrets, name, required=required)
    if value is not None and any(ch.isspace() for ch in value):
        raise ApiError("invalid_provider_secrets", f"secrets.{name} must not contain whitespace",
                       param=f"secrets.{name}")
    return value


def validate_secrets(api_key: str | None, secrets: dict[str, Any] | None) -> dict[str, str]:
    """The normalized secrets bundle; the same checks the signer relies on at call time."""
    secrets = secrets_bundle(PROVIDER_ID, api_key, secrets, _SECRET_FIELDS, _OPTIONAL_SECRET_FIELDS)
    access_key_id = _secret_string(secrets, "accessKeyId")
    if not _ACCESS_KEY_ID.match(access_key_id or ""):
        raise ApiError("invalid_provider_secrets",
                       "secrets.accessKeyId must be 16-128 upper-case letters and digits",
                       param="secrets.accessKeyId")
    out = {"accessKeyId": access_key_id or "", "secretAccessKey": _secret_string(secrets, "secretAccessKey") or ""}
    token = _secret_string(secrets, "sessionToken", required=False)
    if token:
        out["sessionToken"] = token
    return out


def validate_config(config: dict[str, Any] | None) -> Json:
    """``region`` (an AWS region name) and the optional ``defaultModel`` for the credential test."""
    config = {} if config is None else config
    only_fields(config, _CONFIG_FIELDS)
    region = config_string(config, "region") or ""
    if not _REGION.match(region):
        raise ApiError("invalid_provider_config", "config.region must be an AWS region such as us-east-1",
                       param="config.region")
    out: Json = {"region": region}
    model = config_string(config, "defaultModel", required=False)
    if model is not None:
        if not _MODEL_ID.match(model):
            raise ApiError("invalid_provider_config", "config.defaultModel must be a Bedrock model id, "
                           "inference profile id or ARN", param="config.defaultModel")
        out["defaultModel"] = model
    return out


def _check_model_id(model: Any) -> str:
    if not isinstance(model, str) or not _MODEL_ID.match(model):
        raise ApiError("invalid_request", "model must be a Bedrock model id, inference profile id or ARN",
                       param="model")
    return model


def _region(credential: Credential) -> str:
    region = (credential.config or {}).get("region")
    if not isinstance(region, str) or not _REGION.match(region):
        raise ApiError("invalid_provider_config", "config.region must be an AWS region such as us-east-1",
                       param="config.region")
    return region


# ---- canonical → Converse ---------------------------------------------------------------------------------

def _image_block(value: Any) -> Json:
    image = canonical.parse_image_url(value)
    if image.url or image.data is None:
        raise ApiError("invalid_messages", "aws_bedrock accepts images only as base64 data: URLs")
    image_format = _IMAGE_FORMATS.get(image.media_type or "")
    if image_format is None:
        raise ApiError("invalid_messages", "aws_bedrock accepts png, jpeg, gif or webp images")
    try:
        base64.b64decode(image.data, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("invalid_messages", "image data is not valid base64") from None
    # Converse's blob type travels base64-encoded in the REST JSON body.
    return {"image": {"format": image_format, "source": {"bytes": image.data}}}


def _blocks(content: Any) -> list[Json]:
    """OpenAI content parts → Converse content blocks (empty text dropped: Converse refuses blank text)."""
    blocks: list[Json] = []
    for part in canonical.content_parts(content):
        kind = part.get("type")
        if kind == "text":
            text = canonical.part_text(part)
            if text:
                blocks.append({"text": text})
        elif kind == "image_url":
            blocks.append(_image_block(part.get("image_url")))
        else:
            raise ApiError("invalid_messages", f"content part type {kind!r} is not supported by aws_bedrock")
    return blocks


def _tool_use(call: Any) -> Json:
    arguments = canonical.tool_arguments(call)
    if not isinstance(call.get("id"), str) or not call["id"]:
        raise ApiError("invalid_messages", "tool_calls entries need an id")
    return {"toolUse": {"toolUseId": call["id"], "name": call["function"]["name"], "input": arguments}}


def _tool_result(message: Json) -> Json:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise ApiError("invalid_messages", "tool messages need tool_call_id")
    content = message.get("content")
    if isinstance(content, str):
        result_content: list[Json] = [{"text": content}] if content else []
    else:
        result_content = _blocks(content)
    return {"toolResult": {"toolUseId": call_id, "content": result_content or [{"text": ""}]}}


def to_converse_messages(messages: list[Json]) -> tuple[list[Json], list[Json]]:
    """Canonical messages → (system blocks in order, alternating user/assistant Converse messages)."""
    system: list[Json] = []
    turns: list[tuple[str, list[Any]]] = []
    for message in messages:
        role = canonical.role_of(message)
        if role in ("system", "developer"):
            system.extend({"text": text} for text in canonical.texts(message.get("content")))
        elif role == "user":
            turns.append(("user", _blocks(message.get("content"))))
        elif role == "assistant":
            calls = message.get("tool_calls") or []
            if not isinstance(calls, list):
                raise ApiError("invalid_messages", "tool_calls must be a list")
            turns.append(("assistant", _blocks(message.get("content")) + [_tool_use(c) for c in calls]))
        else:
            turns.append(("user", [_tool_result(message)]))
    merged = canonical.merge_same_role(turns)
    if not merged:
        raise ApiError("invalid_messages", "aws_bedrock needs at least one user or assistant message")
    return system, [{"role": role, "content": blocks} for role, blocks in merged]


def _tool_config(tools: Any, choice: Any) -> Json:
    if not isinstance(tools, list) or not tools:
        raise ApiError("invalid_provider_options", "tools must be a non-empty list", param="tools")
    specs: list[Json] = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not (isinstance(function, dict) and tool.get("type") == "function"
                and isinstance(function.get("name"), str)):
            raise ApiError("invalid_provider_options", "tools entries must be OpenAI function tools",
                           param="tools")
        spec: Json = {"name": function["name"]}
        if function.get("description"):
            spec["description"] = function["description"]
        spec["inputSchema"] = {"json": function.get("parameters") or {"type": "object", "properties": {}}}
        specs.append({"toolSpec": spec})
    config: Json = {"tools": specs}
    if choice is None or choice == "auto":
        if choice == "auto":
            config["toolChoice"] = {"auto": {}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if not isinstance(name, str):
            raise ApiError("invalid_provider_options", "tool_choice.function.name is required",
                           param="tool_choice")
        config["toolChoice"] = {"tool": {"name": name}}
    elif choice == "none":
        raise unsupported_option(PROVIDER_ID, "tool_choice")
    else:
        raise ApiError("invalid_provider_options", "tool_choice is malformed", param="tool_choice")
    return config


def _inference_config(options: Json) -> Json:
    config: Json = dict(canonical.object_option(options, "inferenceConfig"))
    for name, target in _INFERENCE_RENAMES.items():
        if name in options:
            config[target] = options[name]
    if "maxTokens" in config:
        config["maxTokens"] = canonical.positive_int(config["maxTokens"], "max_tokens")
    if "stop" in options:
        config["stopSequences"] = canonical.stop_list(options["stop"])
    return config


def to_converse_body(request: ChatRequest) -> Json:
    """The Converse request body for a canonical request (the model id goes in the URL)."""
    options = request.options
    for name in options:
        if name not in SUPPORTED_OPTIONS:
            raise unsupported_option(PROVIDER_ID, name)
    if options.get("n") not in (None, 1):
        raise unsupported_option(PROVIDER_ID, "n")
    system, messages = to_converse_messages(request.messages)
    body: Json = {"messages": messages}
    if system:
        body["system"] = system
    inference = _inference_config(options)
    if inference:
        body["inferenceConfig"] = inference
    if "tools" in options:
        body["toolConfig"] = _tool_config(options["tools"], options.get("tool_choice"))
    elif options.get("tool_choice") is not None:
        raise ApiError("invalid_provider_options", "tool_choice needs tools", param="tool_choice")
    extra: Json = dict(canonical.object_option(options, "additionalModelRequestFields"))
    for name in sorted(_MODEL_FIELDS & options.keys()):
        extra[name] = beta_list(options[name]) if name == "anthropic_beta" else options[name]
    if extra:
        body["additionalModelRequestFields"] = extra
    for name in sorted(_NATIVE_TOP_LEVEL & options.keys()):
        body[name] = options[name]
    return body


# ---- Anthropic wrapper → InvokeModel ----------------------------------------------------------------------

def is_claude_model(model: str) -> bool:
    """True for Bedrock Claude ids, inference profiles and ARNs whose last segment names one."""
    return bool(_CLAUDE_MODEL.search(model.rsplit("/", 1)[-1]))


def uses_invoke_model(request: ChatRequest) -> bool:
    """The Anthropic wrapper talking to Claude goes through InvokeModel to keep Anthropic features exact."""
    return (request.entry_format == FORMAT_ANTHROPIC and request.native_body is not None
            and is_claude_model(request.model))


def beta_list(value: Any) -> list[str]:
    """``anthropic-beta`` as Bedrock takes it in a body: a list (a comma-separated header value is split)."""
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ApiError("invalid_provider_options", "anthropic_beta must be a string or a list of strings",
                       param="anthropic_beta")
    return value


def to_invoke_body(request: ChatRequest) -> Json:
    """The Anthropic body as received, in Bedrock's InvokeModel dialect (the ``anthropic-beta`` header the
    wrapper passes as an option travels in the body, where Bedrock reads it)."""
    native = request.native_body or {}
    body: Json = {"anthropic_version": INVOKE_ANTHROPIC_VERSION}
    for name in sorted(native):
        if name in _INVOKE_DROPPED:
            continue
        if name not in _INVOKE_FIELDS:
            raise unsupported_option(PROVIDER_ID, name)
        body[name] = native[name]
    body.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    if request.options.get("anthropic_beta") is not None:
        body["anthropic_beta"] = beta_list(request.options["anthropic_beta"])
    return body


# ---- responses and errors ---------------------------------------------------------------------------------

def converse_usage(usage: Any) -> Usage:
    """``inputTokens`` excludes both cache buckets; normalized input adds them back."""
    return canonical.cache_exclusive_usage(usage, "inputTokens", "outputTokens", "cacheReadInputTokens",
                                           "cacheWriteInputTokens")


def parse_converse_response(body: Any) -> ParsedResponse:
    """A Converse response → text, OpenAI-format tool calls, finish reason and normalized usage."""
    message = (body.get("output") or {}).get("message") if isinstance(body, dict) else None
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        raise ApiError("provider_error", "aws_bedrock answered a body that is not a Converse response")
    texts: list[str] = []
    calls: list[Json] = []
    for block in message["content"]:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            arguments = UpstreamRequest.json_body(use.get("input") or {}).decode("utf-8")
            calls.append({"id": use.get("toolUseId"), "type": "function",
                          "function": {"name": use.get("name"), "arguments": arguments}})
    return ParsedResponse(
        usage=converse_usage(body.get("usage")),
        text="".join(texts),
        tool_calls=calls,
        finish_reason=_STOP_REASONS.get(body.get("stopReason"), "stop"),
    )


def error_type(headers: dict[str, str], body: Any) -> str | None:
    """``x-amzn-ErrorType`` (``Name:namespace-uri``) or the body's ``__type`` (``ns#Name``) → ``Name``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw = lowered.get("x-amzn-errortype")
    if not raw and isinstance(body, dict):
        raw = body.get("__type") if isinstance(body.get("__type"), str) else None
    if not raw:
        return None
    name = raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return name if re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,63}", name) else None


def _typed_error(code: str, status: int, kind: str, headers: dict[str, str]) -> ApiError:
    """An AWS error whose type, not its status, decides the class (e.g. a 408 model timeout is a 5xx)."""
    if code == "provider_rate_limited":
        lowered = {k.lower(): v for k, v in headers.items()}
        extra = {"retry-after": lowered["retry-after"]} if "retry-after" in lowered else {}
        return ApiError(code, f"{PROVIDER_ID} rate limited the request: HTTP {status} ({kind})",
                        headers=extra, provider_status=status)
    return ApiError(code, f"{PROVIDER_ID} failed: HTTP {status} ({kind})", provider_status=status)


def parse_bedrock_error(status: int, headers: dict[str, str], body: Any) -> ApiError:
    """Status plus the AWS error type; auth-typed errors are auth failures whatever their status."""
    kind = error_type(headers, body)
    if kind in _RATE_TYPES and status != 429:
        return _typed_error("provider_rate_limited", status, kind, headers)
    if kind in _SERVER_TYPES and status < 500:
        return _typed_error("provider_error", status, kind, headers)
    return map_error(PROVIDER_ID, status, headers, kind, auth_error=kind in _AUTH_TYPES)


# ---- signing ----------------------------------------------------------------------------------------------

def _amz_date(now: float | None) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))


def _host(url: str) -> str:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = (parts.hostname or "").lower()
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def sign(upstream: UpstreamRequest, secrets: dict[str, str], region: str, now: float | None = None
         ) -> UpstreamRequest:
    """SigV4 (service ``bedrock``) over exactly ``upstream``'s method, path, headers and body bytes."""
    access_key = secrets.get("accessKeyId")
    secret_key = secrets.get("secretAccessKey")
    if not access_key or not secret_key:
        raise ApiError("invalid_provider_secrets", "secrets {accessKeyId, secretAccessKey} are required",
                       param="secrets")
    token = secrets.get("sessionToken") or None
    headers = {k: v for k, v in upstream.headers.items()
               if k.lower() not in ("authorization", "x-amz-date", "x-amz-security-token", "host")}
    headers["host"] = _host(upstream.url)
    headers["x-amz-date"] = _amz_date(now)
    if token:
        headers["x-amz-security-token"] = token
    aws_request = AWSRequest(method=upstream.method, url=upstream.url, data=upstream.body, headers=headers)
    aws_request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials(access_key, secret_key, token), SIGNING_SERVICE, region)
    canonical_request = signer.canonical_request(aws_request)
    signature = signer.signature(signer.string_to_sign(aws_request, canonical_request), aws_request)
    signed = signer.signed_headers(signer.headers_to_sign(aws_request))
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={signer.scope(aws_request)}, "
                                f"SignedHeaders={signed}, Signature={signature}")
    return UpstreamRequest(upstream.method, upstream.url, headers, upstream.body,
                           response_format=upstream.response_format)


# ---- adapter ----------------------------------------------------------------------------------------------

def model_path(model: str, operation: str) -> str:
    """``/model/{id}/{operation}`` with the whole id (``:`` and ``/`` included) as one encoded segment."""
    return f"/model/{quote(_check_model_id(model), safe='')}/{operation}"


class BedrockAdapter:
    """Bedrock Runtime: Converse for canonical requests, InvokeModel for Claude behind the Anthropic wrapper."""

    id = PROVIDER_ID
    wire_format = FORMAT_BEDROCK_CONVERSE
    default_origin = _ORIGIN_TEMPLATE
    uses_api_key = False

    def validate_credential(self, api_key: str | None, secrets: dict[str, Any] | None,
                            config: Json) -> tuple[str | None, dict[str, str] | None, Json]:
        return None, validate_secrets(api_key, secrets), validate_config(config)

    def tenant_endpoints(self, config: Json) -> list[str]:
        return []

    def build_request(self, request: ChatRequest, credential: Credential, origin: str) -> UpstreamRequest:
        region = _region(credential)
        if not origin or origin == self.default_origin:
            origin = _ORIGIN_TEMPLATE.format(region=region)
        if uses_invoke_model(request):
            path, body = model_path(request.model, "invoke"), to_invoke_body(request)
            answer_format: str | None = FORMAT_ANTHROPIC
        else:
            path, body = model_path(request.model, "converse"), to_converse_body(request)
            answer_format = None
        headers = {"content-type": "application/json", "accept": "application/json"}
        return UpstreamRequest("POST", origin.rstrip("/") + path, headers, UpstreamRequest.json_body(body),
                               response_format=answer_format)

    def authorize(self, upstream: UpstreamRequest, credential: Credential,
                  auth: AuthContext) -> UpstreamRequest:
        return sign(upstream, credential.secrets or {}, _region(credential), auth.now)

    def parse_response(self, body: Json) -> ParsedResponse:
        if isinstance(body, dict) and body.get("type") == "message" and "output" not in body:
            return parse_anthropic_response(body, PROVIDER_ID)
        return parse_converse_response(body)

    def parse_error(self, status: int, headers: dict[str, str], body: Any) -> ApiError:
        return parse_bedrock_error(status, headers, body)

    def test_request(self, credential: Credential) -> ChatRequest:
        model = (credential.config or {}).get("defaultModel") or TEST_MODEL
        return ChatRequest(provider=PROVIDER_ID, model=model,
                           messages=[{"role": "user", "content": "ping"}], options={"max_tokens": 1})


ADAPTER = BedrockAdapter()
