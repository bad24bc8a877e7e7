"""A fake Bedrock Runtime that verifies SigV4 the way AWS does, then checks Converse / InvokeModel bodies.

The signature is recomputed with botocore from the known test secret: an ``AWSRequest`` is rebuilt from the
received method, raw path (percent-encoding exactly as sent), the headers listed in ``SignedHeaders`` and the
body, signed with the request's own ``x-amz-date``, and compared. Any mismatch (wrong secret, a signed header
changed in transit, a path encoded differently from what was signed) is a 403 ``InvalidSignatureException``;
an unknown access key id is a 403 ``UnrecognizedClientException``, as is a missing or wrong session token for
temporary keys. Only then are the route and the body checked, and scripted failures (throttling...) served.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fakes.server import Answer, FakeServer, Recorded

_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
                   r"\s*Signature=(?P<sig>[0-9a-f]{64})$")
_ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>converse|invoke)$")
_CONVERSE_FIELDS = {"messages", "system", "inferenceConfig", "toolConfig", "additionalModelRequestFields",
                    "additionalModelResponseFieldPaths", "guardrailConfig", "performanceConfig",
                    "promptVariables", "requestMetadata", "serviceTier"}
_BLOCK_KINDS = {"text", "image", "document", "video", "toolUse", "toolResult", "guardContent", "cachePoint",
                "reasoningContent", "citationsContent"}
_INFERENCE_FIELDS = {"maxTokens", "temperature", "topP", "stopSequences"}
_INVOKE_FIELDS = {"anthropic_version", "max_tokens", "system", "messages", "temperature", "top_p", "top_k",
                  "stop_sequences", "tools", "tool_choice", "thinking", "anthropic_beta"}

DEFAULT_MODELS = frozenset({
    "amazon.nova-micro-v1:0",
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
})


@dataclass(frozen=True)
class AwsKey:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expired: bool = False


@dataclass
class Call:
    """A request that passed signature verification."""

    access_key_id: str
    model: str
    operation: str
    body: dict[str, Any]
    signed_headers: list[str]


def _error(status: int, kind: str, message: str, **headers: str) -> Answer:
    namespace = "http://internal.amazon.com/coral/com.amazon.bedrock/"
    return status, {"x-amzn-ErrorType": f"{kind}:{namespace}", **headers}, {"message": message}


class _Invalid(Exception):
    """A body Bedrock would refuse with ValidationException."""


@dataclass
class FakeBedrock:
    keys: list[AwsKey]
    region: str = "us-east-1"
    models: frozenset[str] = DEFAULT_MODELS
    max_skew_seconds: int = 300
    usage: dict[str, int] = field(default_factory=lambda: {"inputTokens": 12, "outputTokens": 5,
                                                            "totalTokens": 17})
    output_content: list[dict[str, Any]] | None = None
    stop_reason: str = "end_turn"
    scripted: list[Answer] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    rejected: list[tuple[str, str | None]] = field(default_factory=list)  # (error type, access key id)

    def __post_init__(self) -> None:
        self.server = FakeServer(self.handle)

    @property
    def origin(self) -> str:
        return self.server.origin

    def start(self) -> FakeBedrock:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def seen_access_key_ids(self) -> set[str]:
        return {call.access_key_id for call in self.calls} | {k for _, k in self.rejected if k}

    # ---- the handler ----------------------------------------------------------------------------------------

    def handle(self, request: Recorded) -> Answer:
        denied, key = self._verify(request)
        if denied is not None or key is None:
            kind = denied[1]["x-amzn-ErrorType"].split(":", 1)[0] if denied else "Unknown"
            self.rejected.append((kind, self._claimed_key(request)))
            return denied or _error(500, "InternalServerException", "fake: no key")
        route = _ROUTE.match(request.raw_path)
        if request.method != "POST" or route is None:
            return _error(404, "UnknownOperationException", "Unknown operation")
        model = unquote(route.group("model"))
        if model not in self.models:
            return _error(400, "ValidationException", "The provided model identifier is invalid.")
        try:
            body = json.loads(request.body.decode("utf-8"))
            if not isinstance(body, dict):
                raise _Invalid("body must be an object")
            if route.group("op") == "converse":
                _check_converse(body)
            else:
                _check_invoke(body)
        except (ValueError, _Invalid) as exc:
            return _error(400, "ValidationException", f"Malformed input request: {exc}")
        self.calls.append(Call(key.access_key_id, model, route.group("op"), body,
                               _signed_headers(request.headers["authorization"])))
        if self.scripted:
            return self.scripted.pop(0)
        if route.group("op") == "invoke":
            return 200, {"x-amzn-RequestId": "req-1"}, self._anthropic_answer(model)
        return 200, {"x-amzn-RequestId": "req-1"}, self._converse_answer()

    def _claimed_key(self, request: Recorded) -> str | None:
        match = _AUTH.match(request.headers.get("authorization", ""))
        return match.group("cred").split("/", 1)[0] if match else None

    def _verify(self, request: Recorded) -> tuple[Answer | None, AwsKey | None]:
        match = _AUTH.match(request.headers.get("authorization", ""))
        if match is None:
            return _error(403, "MissingAuthenticationTokenException", "Missing Authentication Token"), None
        scope = match.group("cred").split("/")
        if len(scope) != 5:
            return _error(403, "IncompleteSignatureException", "Credential is malformed"), None
        access_key_id, day, region, service, terminal = scope
        key = next((k for k in self.keys if k.access_key_id == access_key_id), None)
        if key is None:
            return _error(403, "UnrecognizedClientException",
                          "The security token included in the request is invalid."), None
        signed = match.group("signed").split(";")
        amz_date = request.headers.get("x-amz-date", "")
        if "host" not in signed or "x-amz-date" not in signed or not amz_date.startswith(day):
            return _error(403, "InvalidSignatureException", "Signed headers are incomplete"), key
        if (region, service, terminal) != (self.region, "bedrock", "aws4_request"):
            return _error(403, "InvalidSignatureException", "Credential should be scoped correctly"), key
        token = request.headers.get("x-amz-security-token")
        if key.session_token is not None and (token != key.session_token or "x-amz-security-token" not in signed):
            return _error(403, "UnrecognizedClientException",
                          "The security token included in the request is invalid."), key
        if key.session_token is None and token is not None:
            return _error(403, "UnrecognizedClientException",
                          "The security token included in the request is invalid."), key
        try:
            signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            return _error(403, "IncompleteSignatureException", "X-Amz-Date is malformed"), key
        if abs(time.time() - signed_at) > self.max_skew_seconds:
            return _error(403, "InvalidSignatureException", "Signature expired"), key
        if any(name not in request.headers for name in signed):
            return _error(403, "InvalidSignatureException", "A signed header is missing"), key
        expected = _signature(request, signed, key, region, amz_date)
        if not hmac.compare_digest(expected, match.group("sig")):
            return _error(403, "InvalidSignatureException",
                          "The request signature we calculated does not match the signature you provided."), key
        if key.expired:
            return _error(403, "ExpiredTokenException",
                          "The security token included in the request is expired"), key
        return None, key

    # ---- answers --------------------------------------------------------------------------------------------

    def _converse_answer(self) -> dict[str, Any]:
        content = self.output_content or [{"text": "Hello from Bedrock"}]
        return {"output": {"message": {"role": "assistant", "content": content}},
                "stopReason": self.stop_reason, "usage": dict(self.usage), "metrics": {"latencyMs": 42}}

    def _anthropic_answer(self, model: str) -> dict[str, Any]:
        return {"id": "msg_bdrk_01", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": "Hello from Claude on Bedrock"}],
                "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 20, "output_tokens": 7, "cache_read_input_tokens": 1000,
                          "cache_creation_input_tokens": 300}}


def _signed_headers(authorization: str) -> list[str]:
    match = _AUTH.match(authorization)
    return match.group("signed").split(";") if match else []


def _signature(request: Recorded, signed: list[str], key: AwsKey, region: str, amz_date: str) -> str:
    """Rebuild the request from what arrived and sign it with the known secret, as AWS does."""
    target = request.raw_path + (f"?{request.query}" if request.query else "")
    url = f"http://{request.headers['host']}{target}"
    headers = {name: request.headers[name] for name in signed}
    rebuilt = AWSRequest(method=request.method, url=url, data=request.body, headers=headers)
    rebuilt.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(key.access_key_id, key.secret_access_key, key.session_token), "bedrock",
                       region)
    canonical_request = signer.canonical_request(rebuilt)
    return signer.signature(signer.string_to_sign(rebuilt, canonical_request), rebuilt)


def _check_converse(body: dict[str, Any]) -> None:
    unknown = set(body) - _CONVERSE_FIELDS
    if unknown:
        raise _Invalid(f"extraneous key [{sorted(unknown)[0]}] is not permitted")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Invalid("messages must be a non-empty list")
    uses_tools = False
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _Invalid("message role must be user or assistant")
        if index == 0 and message["role"] != "user":
            raise _Invalid("A conversation must start with a user message.")
        if index and messages[index - 1]["role"] == message["role"]:
            raise _Invalid("A conversation must alternate between user and assistant roles.")
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise _Invalid("message content must be a non-empty list")
        for block in content:
            uses_tools |= _check_block(block)
    for block in body.get("system") or []:
        if not isinstance(block, dict) or len(block) != 1 or next(iter(block)) not in ("text", "cachePoint"):
            raise _Invalid("system blocks must be text or cachePoint")
        _check_block(block)
    config = body.get("inferenceConfig")
    if config is not None:
        if not isinstance(config, dict) or set(config) - _INFERENCE_FIELDS:
            raise _Invalid("inferenceConfig has an unknown field")
        max_tokens = config.get("maxTokens")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise _Invalid("maxTokens must be at least 1")
    tool_config = body.get("toolConfig")
    if uses_tools and not tool_config:
        raise _Invalid("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    if tool_config is not None:
        tools = tool_config.get("tools") if isinstance(tool_config, dict) else None
        if not isinstance(tools, list) or not tools:
            raise _Invalid("toolConfig.tools must be a non-empty list")
        for tool in tools:
            spec = tool.get("toolSpec") if isinstance(tool, dict) else None
            if not (isinstance(spec, dict) and isinstance(spec.get("name"), str)
                    and isinstance((spec.get("inputSchema") or {}).get("json"), dict)):
                if not (isinstance(tool, dict) and "cachePoint" in tool):
                    raise _Invalid("tools entries need toolSpec.name and inputSchema.json")


def _check_block(block: Any) -> bool:
    if not isinstance(block, dict) or len(block) != 1 or next(iter(block)) not in _BLOCK_KINDS:
        raise _Invalid("a content block must set exactly one known member")
    kind, value = next(iter(block.items()))
    if kind == "text" and (not isinstance(value, str) or not value.strip()):
        raise _Invalid("The text field in the ContentBlock object is blank.")
    if kind == "cachePoint" and value != {"type": "default"}:
        raise _Invalid("cachePoint.type must be default")
    if kind == "image":
        if value.get("format") not in ("png", "jpeg", "gif", "webp"):
            raise _Invalid("image.format is invalid")
        try:
            base64.b64decode(value["source"]["bytes"], validate=True)
        except (KeyError, TypeError, binascii.Error) as exc:
            raise _Invalid("image.source.bytes must be base64") from exc
    if kind == "toolUse" and not (isinstance(value.get("toolUseId"), str) and isinstance(value.get("name"), str)
                                  and isinstance(value.get("input"), dict)):
        raise _Invalid("toolUse needs toolUseId, name and an object input")
    if kind == "toolResult" and not (isinstance(value.get("toolUseId"), str)
                                     and isinstance(value.get("content"), list)):
        raise _Invalid("toolResult needs toolUseId and content")
    return kind in ("toolUse", "toolResult")


def _check_invoke(body: dict[str, Any]) -> None:
    unknown = set(body) - _INVOKE_FIELDS
    if unknown:
        raise _Invalid(f"extraneous key [{sorted(unknown)[0]}] is not permitted")
    if body.get("anthropic_version") != "bedrock-2023-05-31":
        raise _Invalid("anthropic_version must be bedrock-2023-05-31")
    if not isinstance(body.get("max_tokens"), int) or not isinstance(body.get("messages"), list):
        raise _Invalid("subject must not be valid against schema {\"required\":[\"messages\",\"max_tokens\"]}")
