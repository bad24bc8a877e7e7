"""Template fingerprints: requests built from the same prompt template share an id, and no text is kept.

The template text is the system prompt (every leading system/developer message) or, without one, the first
message. Values that vary between uses of a template are masked before hashing: emails, UUIDs, dates and
times, hex strings, long ids and numbers. The id is a tenant-salted SHA-256, so equal prompts of two
tenants never share an id.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "<email>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"),
     "<date>"),
    (re.compile(r"\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"), "<date>"),
    (re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b"), "<time>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"\b[A-Za-z]+[_-](?=[A-Za-z0-9]*\d)[A-Za-z0-9]{6,}\b"), "<id>"),
    (re.compile(r"\d+(?:[.,]\d+)*"), "<n>"),
)


def mask(text: str) -> str:
    """The template skeleton of a text: variable values replaced by placeholders, whitespace runs folded."""
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    return re.sub(r"\s+", " ", text).strip()


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part["text"] for part in content
                         if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"),
                                                                                                 str))
    return ""


def leading_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The system prompt (leading system/developer messages) or, when there is none, the first message."""
    lead: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") in ("system", "developer"):
            lead.append(message)
        else:
            break
    if not lead and messages and isinstance(messages[0], dict):
        lead = [messages[0]]
    return lead


def template_source(messages: list[dict[str, Any]]) -> str:
    return "\n\n".join(message_text(message) for message in leading_messages(messages))


def template_id(tenant_id: str, messages: list[dict[str, Any]]) -> str | None:
    """``tpl_`` + 24 hex of the tenant-salted hash of the masked template text; None when there is no text."""
    skeleton = mask(template_source(messages))
    if not skeleton:
        return None
    digest = hashlib.sha256(f"{tenant_id}\0{skeleton}".encode()).hexdigest()
    return "tpl_" + digest[:24]
