"""The OpenAI wrapper's request parser: a chat.completions body → canonical messages and options.

chat.completions messages already are the canonical format, so they are validated and passed on unchanged.
Every body field other than ``model``, ``messages``, ``stream`` (refused earlier when true) and ``metadata``
(KillToken's own trace context) is a provider option, forwarded or refused by the adapter.
"""

from __future__ import annotations

from typing import Any

from app.services.messages import validate_messages

_NOT_OPTIONS = frozenset({"model", "messages", "stream", "metadata"})


def parse_openai_request(body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``(messages, options)`` from a chat.completions body; malformed messages → 400 invalid_messages."""
    messages = validate_messages(body.get("messages"))
    # A null field is an absent one in the chat.completions API (SDKs send e.g. "stop": null).
    options = {name: value for name, value in body.items() if name not in _NOT_OPTIONS and value is not None}
    return messages, options
