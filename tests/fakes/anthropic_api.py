"""A fake Anthropic Messages API (POST /v1/messages).

``anthropic_handler(expected_key, ...)`` refuses, in Anthropic's error shape
(``{"type": "error", "error": {"type", "message"}}``): a wrong or missing ``x-api-key`` (401
``authentication_error``), a missing ``anthropic-version`` header, a missing ``model`` or ``max_tokens``,
roles other than user/assistant, two consecutive messages of the same role, empty text blocks, images without
a valid source, a ``tool_use`` not answered first thing in the next user message (or a ``tool_result`` that
answers none), and ``system`` that is neither a string nor text blocks. It answers a message whose usage has
all four buckets (``DEFAULT_USAGE``); ``tool_use`` makes it answer a tool_use block instead of text.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.scripted import ScriptedFake, json_body
from tests.fakes.server import Answer, Recorded

DEFAULT_USAGE: dict[str, Any] = {
    "input_tokens": 20,
    "cache_creation_input_tokens": 50,
    "cache_read_input_tokens": 400,
    "output_tokens": 12,
}
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


class AnthropicFake(ScriptedFake):
    provider = "anthropic"

    def __init__(self, expected_key: str, *, path: str = "/v1/messages",
                 tool_use: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(expected_key, **kwargs)
        self.path = path
        self.tool_use = tool_use

    def default_error_type(self, status: int) -> str:
        return {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")

    def error(self, status: int, error_type: str, message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": error_type, "message": message}}

    def _invalid(self, message: str) -> Answer:
        return 400, {}, self.error(400, "invalid_request_error", message)

    def check(self, request: Recorded) -> Answer | None:
        if request.headers.get("x-api-key") != self.expected_key:
            return 401, {}, self.error(401, "authentication_error", "invalid x-api-key")
        if request.method != "POST" or request.path != self.path:
            return 404, {}, self.error(404, "not_found_error", "Not found")
        if not request.headers.get("anthropic-version"):
            return self._invalid("anthropic-version: header is required")
        body = json_body(request)
        if not isinstance(body, dict):
            return self._invalid("invalid JSON body")
        if not isinstance(body.get("model"), str) or not body["model"]:
            return self._invalid("model: Field required")
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            return self._invalid("max_tokens: Field required")
        problem = _system_problem(body.get("system")) or _messages_problem(body.get("messages"))
        return self._invalid(problem) if problem else None

    def success(self, request: Recorded) -> dict[str, Any]:
        body = request.json()
        if self.tool_use:
            content = [{"type": "tool_use", **self.tool_use}]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": self.text}]
            stop = "end_turn"
        return {
            "id": "msg_fake01",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": dict(self.usage if self.usage is not None else DEFAULT_USAGE),
        }


def _system_problem(system: Any) -> str | None:
    if system is None or isinstance(system, str):
        return None
    if isinstance(system, list) and all(isinstance(b, dict) and b.get("type") == "text"
                                        and isinstance(b.get("text"), str) and b["text"] for b in system):
        return None
    return "system: must be a string or a list of non-empty text blocks"


def _block_problem(block: Any, role: str, tool_ids: set[str]) -> str | None:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text":
        return None if isinstance(block.get("text"), str) and block["text"] else "text content blocks must be non-empty"
    if kind == "image" and role == "user":
        source = block.get("source") or {}
        if source.get("type") == "base64" and source.get("media_type") in IMAGE_TYPES and source.get("data"):
            return None
        if source.get("type") == "url" and str(source.get("url", "")).startswith(("https://", "http://")):
            return None
        return "image: invalid source"
    if kind == "tool_use" and role == "assistant":
        if isinstance(block.get("id"), str) and isinstance(block.get("name"), str) and isinstance(
                block.get("input"), dict):
            tool_ids.add(block["id"])
            return None
        return "tool_use: id, name and input are required"
    if kind == "tool_result" and role == "user":
        return None if block.get("tool_use_id") in tool_ids else "tool_result: unknown tool_use_id"
    if kind in ("thinking", "redacted_thinking", "document", "server_tool_use", "web_search_tool_result"):
        return None
    return f"messages: content block type {kind!r} is not valid for role {role}"


def _tool_pairing_problem(message: dict[str, Any], pending: set[str]) -> str | None:
    """Every tool_use must be answered first thing in the very next user message, as Anthropic requires."""
    content = message.get("content") if isinstance(message.get("content"), list) else []
    results = [b.get("tool_use_id") for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    leading = 0
    while leading < len(content) and isinstance(content[leading], dict) and \
            content[leading].get("type") == "tool_result":
        leading += 1
    if results and leading != len(results):
        return "messages: tool_result blocks must come first in the user message"
    if pending - set(results):
        return "messages: tool_use ids were found without tool_result blocks immediately after"
    if set(results) - pending:
        return "messages: tool_result answers a tool_use that is not in the previous message"
    return None


def _messages_problem(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    previous = None
    tool_ids: set[str] = set()
    pending: set[str] = set()
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            return "messages: roles must be user or assistant"
        if role == previous:
            return "messages: roles must alternate between user and assistant"
        previous = role
        content = message.get("content")
        if role == "user":
            problem = _tool_pairing_problem(message, pending)
            if problem:
                return problem
            pending = set()
        if isinstance(content, str):
            if not content:
                return "messages: text content must be non-empty"
            continue
        if not isinstance(content, list) or not content:
            return "messages: content must be a non-empty string or list"
        before = set(tool_ids)
        for block in content:
            problem = _block_problem(block, role, tool_ids)
            if problem:
                return problem
        if role == "assistant":
            pending = tool_ids - before
    return None


def anthropic_handler(expected_key: str, path: str = "/v1/messages", **kwargs: Any) -> AnthropicFake:
    """A fake Messages API at ``path`` (see ``AnthropicFake`` and ``ScriptedFake`` for options)."""
    return AnthropicFake(expected_key, path=path, **kwargs)
