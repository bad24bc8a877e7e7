"""Anthropic Messages API (POST /v1/messages) adapter.

``to_anthropic_body`` and ``parse_anthropic_response`` are pure and stable: the Bedrock and Vertex adapters
reuse them for Claude models. ``max_tokens`` is required by Anthropic: it comes from the request's
``max_tokens`` / ``max_completion_tokens`` option, else from the ``default_max_tokens`` argument, which the
pipeline may fill from its configuration by putting ``max_tokens`` into ``ChatRequest.options``; the adapter's
own fallback is ``DEFAULT_MAX_TOKENS``.

When the request came through the Anthropic wrapper (``entry_format == "anthropic"`` with ``native_body``),
the native body is sent as received (minus ``stream``; ``model`` from the request, ``max_tokens`` defaulted),
so ``cache_control`` and system blocks stay exact; ``options`` are then ignored because they were parsed from
that same body, except ``anthropic_beta`` (the wrapper may pass the client's ``anthropic-beta`` header there).
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import ApiError
from providers import canonical
from providers.base import (
    FORMAT_ANTHROPIC,
    AuthContext,
    ChatRequest,
    Credential,
    ParsedResponse,
    UpstreamRequest,
    Usage,
    map_error,
    unsupported_option,
)
from providers.credentials import no_config, require_api_key

Json = dict[str, Any]

PROVIDER_ID = "anthropic"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
TEST_MODEL = "claude-3-5-haiku-latest"

# Options sent under the same name.
_NATIVE_OPTIONS = frozenset({
    "temperature", "top_p", "top_k", "thinking", "metadata", "service_tier", "stop_sequences",
    "container", "mcp_servers", "context_management",
})
# Options translated from OpenAI names, or consumed by the translation itself.
_TRANSLATED_OPTIONS = frozenset({
    "max_tokens", "max_completion_tokens", "stop", "tools", "tool_choice", "parallel_tool_calls", "user", "n",
})
SUPPORTED_OPTIONS = _NATIVE_OPTIONS | _TRANSLATED_OPTIONS | {"anthropic_beta"}

# Anthropic-only content blocks the Messages wrapper may hand over inside canonical messages.
_NATIVE_BLOCKS = frozenset({"document", "search_result"})
_AUTH_TYPES = frozenset({"authentication_error", "permission_error"})
_STOP_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
    "max_tokens": "length", "model_context_window_exceeded": "length",
    "tool_use": "tool_calls", "refusal": "content_filter",
}


def _image_block(value: Any) -> dict[str, Any]:
    image = canonical.parse_image_url(value)
    if image.url:
        return {"type": "image", "source": {"type": "url", "url": image.url}}
    return {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.data}}


def _blocks(content: Any) -> list[dict[str, Any]]:
    """OpenAI content → Anthropic content blocks (empty text dropped: Anthropic refuses empty text blocks)."""
    blocks: list[dict[str, Any]] = []
    for part in canonical.content_parts(content):
        kind = part.get("type")
        if kind == "text":
            text = canonical.part_text(part)
            if text:
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url":
            blocks.append(_image_block(part.get("image_url")))
        elif kind in _NATIVE_BLOCKS:
            blocks.append(dict(part))
        else:
            raise ApiError("invalid_messages", f"content part type {kind!r} is not supported by anthropic")
    return blocks


def _tool_use(call: Any) -> dict[str, Any]:
    arguments = canonical.tool_arguments(call)
    if not isinstance(call.get("id"), str) or not call["id"]:
        raise ApiError("invalid_messages", "tool_calls entries need an id")
    return {"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": arguments}


def _tool_result(message: dict[str, Any]) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise ApiError("invalid_messages", "tool messages need tool_call_id")
    content = message.get("content")
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id}
    if isinstance(content, str):
        result["content"] = content
    else:
        result["content"] = _blocks(content)
    return result


def to_anthropic_messages(messages: list[Json]) -> tuple[list[Json], list[Json]]:
    """Canonical messages → (system text blocks in order, alternating user/assistant messages)."""
    system: list[dict[str, Any]] = []
    turns: list[tuple[str, list[Any]]] = []
    for message in messages:
        role = canonical.role_of(message)
        if role in ("system", "developer"):
            system.extend({"type": "text", "text": text} for text in canonical.texts(message.get("content")))
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
        raise ApiError("invalid_messages", f"{PROVIDER_ID} needs at least one user or assistant message")
    return system, [{"role": role, "content": blocks} for role, blocks in merged]


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise ApiError("invalid_provider_options", "tools must be a list", param="tools")
    out = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and tool.get("type") == "function":
            if not isinstance(function.get("name"), str) or not function["name"]:
                raise ApiError("invalid_provider_options", "tools[].function.name is required", param="tools")
            entry: dict[str, Any] = {"name": function["name"]}
            if function.get("description"):
                entry["description"] = function["description"]
            entry["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
            out.append(entry)
        elif isinstance(tool, dict):
            out.append(tool)  # already an Anthropic tool (custom or server tool)
        else:
            raise ApiError("invalid_provider_options", "tools entries must be objects", param="tools")
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if choice is None:
        result: dict[str, Any] | None = None
    elif choice == "auto":
        result = {"type": "auto"}
    elif choice == "required":
        result = {"type": "any"}
    elif choice == "none":
        result = {"type": "none"}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if not isinstance(name, str):
            raise ApiError("invalid_provider_options", "tool_choice.function.name is required",
                           param="tool_choice")
        result = {"type": "tool", "name": name}
    elif isinstance(choice, dict) and choice.get("type") in ("auto", "any", "tool", "none"):
        result = dict(choice)
    else:
        raise ApiError("invalid_provider_options", "tool_choice is malformed", param="tool_choice")
    if parallel is False:
        result = result or {"type": "auto"}
        if result["type"] != "none":
            result["disable_parallel_tool_use"] = True
    return result


def _max_tokens(options: dict[str, Any], default_max_tokens: int) -> int:
    value = options.get("max_tokens", options.get("max_completion_tokens"))
    if value is None:
        return default_max_tokens
    return canonical.positive_int(value, "max_tokens")


def to_anthropic_body(request: ChatRequest, default_max_tokens: int = DEFAULT_MAX_TOKENS,
                      provider: str = PROVIDER_ID) -> dict[str, Any]:
    """The Messages API body for a canonical request (``model`` included; Bedrock/Vertex drop or move it).

    ``provider`` names the caller in errors (an unsupported option is reported against it).
    """
    if request.entry_format == FORMAT_ANTHROPIC and request.native_body is not None:
        body = {k: v for k, v in request.native_body.items() if k != "stream"}
        body["model"] = request.model
        body.setdefault("max_tokens", default_max_tokens)
        return body
    options = request.options
    for name in options:
        if name not in SUPPORTED_OPTIONS:
            raise unsupported_option(provider, name)
    if options.get("n") not in (None, 1):
        raise unsupported_option(provider, "n")
    system, messages = to_anthropic_messages(request.messages)
    body: dict[str, Any] = {"model": request.model, "max_tokens": _max_tokens(options, default_max_tokens)}
    if system:
        body["system"] = system
    body["messages"] = messages
    for name in sorted(_NATIVE_OPTIONS & options.keys()):
        body[name] = options[name]
    if "stop" in options:
        body["stop_sequences"] = canonical.stop_list(options["stop"])
    if "user" in options:
        body["metadata"] = {**(body.get("metadata") or {}), "user_id": options["user"]}
    if "tools" in options:
        body["tools"] = _tools(options["tools"])
    choice = _tool_choice(options.get("tool_choice"), options.get("parallel_tool_calls"))
    if choice is not None:
        body["tool_choice"] = choice
    return body


def anthropic_usage(usage: Any) -> Usage:
    """Anthropic's ``input_tokens`` excludes both cache buckets; normalized input adds them back."""
    return canonical.cache_exclusive_usage(usage, "input_tokens", "output_tokens", "cache_read_input_tokens",
                                           "cache_creation_input_tokens")


def parse_anthropic_response(body: Any, provider: str = PROVIDER_ID) -> ParsedResponse:
    """A Messages API response → text, OpenAI-format tool calls, finish reason and normalized usage."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        raise ApiError("provider_error", f"{provider} answered a body that is not a Messages response")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in body["content"]:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            arguments = json.dumps(block.get("input") or {}, separators=(",", ":"), ensure_ascii=False)
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": arguments}})
    return ParsedResponse(
        usage=anthropic_usage(body.get("usage")),
        text="".join(texts),
        tool_calls=calls,
        finish_reason=_STOP_REASONS.get(body.get("stop_reason"), "stop"),
        response_id=body.get("id") if isinstance(body.get("id"), str) else None,
        model=body.get("model") if isinstance(body.get("model"), str) else None,
    )


def beta_header(options: dict[str, Any]) -> str | None:
    """The ``anthropic_beta`` option (a string or a list of strings) as an ``anthropic-beta`` header value."""
    beta = options.get("anthropic_beta")
    if beta is None:
        return None
    if isinstance(beta, list) and all(isinstance(b, str) for b in beta):
        beta = ",".join(beta)
    if not isinstance(beta, str):
        raise ApiError("invalid_provider_options",
                       "anthropic_beta must be a string or a list of strings", param="anthropic_beta")
    return beta


def anthropic_error_type(body: Any) -> str | None:
    """``{"type": "error", "error": {"type": ...}}`` → the typed field, when it is a plain enum word."""
    error = body.get("error") if isinstance(body, dict) else None
    return canonical.safe_error_type(error.get("type")) if isinstance(error, dict) else None


def parse_anthropic_error(provider: str, status: int, headers: dict[str, str], body: Any) -> ApiError:
    """Status plus Anthropic's error.type (529 overloaded_error is a 5xx → provider_error)."""
    error_type = anthropic_error_type(body)
    return map_error(provider, status, headers, error_type, auth_error=error_type in _AUTH_TYPES)


class AnthropicAdapter:
    """api.anthropic.com with ``x-api-key`` and a pinned ``anthropic-version``."""

    id = PROVIDER_ID
    wire_format = FORMAT_ANTHROPIC
    default_origin = "https://api.anthropic.com"
    uses_api_key = True
    path = "/v1/messages"

    def validate_credential(self, api_key: str | None, secrets: dict[str, Any] | None,
                            config: Json) -> tuple[str | None, dict[str, str] | None, Json]:
        return require_api_key(api_key, secrets), None, no_config(config)

    def tenant_endpoints(self, config: dict[str, Any]) -> list[str]:
        return []

    def build_request(self, request: ChatRequest, credential: Credential, origin: str) -> UpstreamRequest:
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        beta = beta_header(request.options)
        if beta is not None:
            headers["anthropic-beta"] = beta
        body = to_anthropic_body(request, DEFAULT_MAX_TOKENS)
        url = origin.rstrip("/") + self.path
        return UpstreamRequest("POST", url, headers, UpstreamRequest.json_body(body))

    def authorize(self, upstream: UpstreamRequest, credential: Credential,
                  auth: AuthContext) -> UpstreamRequest:
        return UpstreamRequest(upstream.method, upstream.url,
                               {**upstream.headers, "x-api-key": credential.api_key or ""}, upstream.body)

    def parse_response(self, body: dict[str, Any]) -> ParsedResponse:
        return parse_anthropic_response(body, PROVIDER_ID)

    def parse_error(self, status: int, headers: dict[str, str], body: Any) -> ApiError:
        return parse_anthropic_error(PROVIDER_ID, status, headers, body)

    def test_request(self, credential: Credential) -> ChatRequest:
        return ChatRequest(provider=PROVIDER_ID, model=TEST_MODEL,
                           messages=[{"role": "user", "content": "ping"}], options={"max_tokens": 1})


ADAPTER = AnthropicAdapter()
