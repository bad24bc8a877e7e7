"""Validation of canonical chat messages (OpenAI chat format), shared by /v1/chat and the OpenAI wrapper.

Malformed messages are refused with 400 ``invalid_messages`` and a message that says which one and why,
before any credential, cache or provider work. Nothing is rewritten: adapters get what the client sent.
"""

from __future__ import annotations

from typing import Any

from app.errors import ApiError

ROLES = ("system", "developer", "user", "assistant", "tool")
_PART_TYPES = {"text": "text", "image_url": "image_url"}
_MESSAGE_FIELDS = {"role", "content", "name", "tool_calls", "tool_call_id", "refusal"}


def _fail(index: int, why: str) -> ApiError:
    return ApiError("invalid_messages", f"messages[{index}]: {why}", param=f"messages[{index}]")


def _check_parts(index: int, role: str, parts: list[Any]) -> None:
    if not parts:
        raise _fail(index, "content list is empty")
    for number, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("type") not in _PART_TYPES:
            raise _fail(index, f"content[{number}] must be a text or image_url part")
        if part["type"] == "text":
            if not isinstance(part.get("text"), str):
                raise _fail(index, f"content[{number}].text must be a string")
        else:
            if role not in ("user", "system", "developer"):
                raise _fail(index, f"content[{number}]: images are allowed in user messages only")
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            if not isinstance(url, str) or not url.startswith(("data:image/", "https://", "http://")):
                raise _fail(index, f"content[{number}].image_url.url must be a data:image/ or http(s) URL")


def _check_tool_calls(index: int, calls: Any) -> None:
    if not isinstance(calls, list) or not calls:
        raise _fail(index, "tool_calls must be a non-empty list")
    for number, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if (not isinstance(call.get("id"), str) or call.get("type", "function") != "function"
                or not isinstance(function, dict) or not isinstance(function.get("name"), str)
                or not isinstance(function.get("arguments", ""), str)):
            raise _fail(index, f"tool_calls[{number}] must be {{id, type: function, function: {{name, "
                               "arguments: string}}")


def validate_messages(raw: Any) -> list[dict[str, Any]]:
    """Check shape and roles; return the list unchanged."""
    if not isinstance(raw, list) or not raw:
        raise ApiError("invalid_messages", "messages must be a non-empty list", param="messages")
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise _fail(index, "must be an object")
        unknown = sorted(set(message) - _MESSAGE_FIELDS)
        if unknown:
            raise _fail(index, f"unknown field {unknown[0]!r}")
        role = message.get("role")
        if role not in ROLES:
            raise _fail(index, "role must be one of " + ", ".join(ROLES))
        content = message.get("content")
        if "name" in message and not isinstance(message["name"], str):
            raise _fail(index, "name must be a string")
        if role == "assistant" and message.get("tool_calls") is not None:
            _check_tool_calls(index, message["tool_calls"])
            if content is not None and not isinstance(content, (str, list)):
                raise _fail(index, "content must be a string, a list of parts, or null")
        elif role == "tool":
            if not isinstance(message.get("tool_call_id"), str) or not message["tool_call_id"]:
                raise _fail(index, "a tool message needs tool_call_id")
            if not isinstance(content, (str, list)):
                raise _fail(index, "a tool message needs content")
        elif "tool_calls" in message and message["tool_calls"] is not None:
            raise _fail(index, "only assistant messages carry tool_calls")
        elif not isinstance(content, (str, list)):
            raise _fail(index, "content must be a string or a list of parts")
        if isinstance(content, list):
            _check_parts(index, role, content)
    return raw
