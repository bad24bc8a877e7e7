"""A provider answer in another format, re-rendered as an Anthropic Messages response for the wrapper."""

from __future__ import annotations

import json
from typing import Any

from providers.base import ParsedResponse

_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except ValueError:
        arguments = None
    return {"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
            "input": arguments if isinstance(arguments, dict) else {}}


def render_anthropic(parsed: ParsedResponse, model: str, request_id: str) -> dict[str, Any]:
    """A Messages response the Anthropic SDK parses. Anthropic's ``input_tokens`` excludes both cache buckets,
    so they are taken back out of our normalized input count."""
    content: list[dict[str, Any]] = [{"type": "text", "text": parsed.text}] if parsed.text else []
    content.extend(_tool_use(call) for call in parsed.tool_calls)
    usage = parsed.usage
    uncached = usage.input_tokens - usage.cached_input_tokens - usage.cache_write_input_tokens
    return {
        "id": f"msg_{request_id}",
        "type": "message",
        "role": "assistant",
        "model": parsed.model or model,
        "content": content,
        "stop_reason": _STOP_REASONS.get(parsed.finish_reason, "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": max(uncached, 0),
            "cache_creation_input_tokens": usage.cache_write_input_tokens,
            "cache_read_input_tokens": usage.cached_input_tokens,
            "output_tokens": usage.output_tokens,
        },
    }
