"""A provider answer in another format, re-rendered as an OpenAI chat.completion for the OpenAI wrapper."""

from __future__ import annotations

import time
from typing import Any

from providers.base import ParsedResponse


def render_openai(parsed: ParsedResponse, model: str, request_id: str,
                  created: int | None = None) -> dict[str, Any]:
    """A chat.completion the OpenAI SDKs parse: one choice, tool calls, OpenAI usage (cached and reasoning
    details included, since OpenAI's prompt_tokens/completion_tokens include them as ours do)."""
    content = parsed.text if parsed.text or not parsed.tool_calls else None
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if parsed.tool_calls:
        message["tool_calls"] = [dict(call) for call in parsed.tool_calls]
    usage = parsed.usage
    return {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": parsed.model or model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": parsed.finish_reason}],
        "usage": {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
            "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        },
    }
