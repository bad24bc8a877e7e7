"""Reading canonical (OpenAI chat format) messages: the pieces every non-OpenAI translation needs.

Anthropic, Gemini (and the Bedrock/Vertex adapters) all split content into text and images, decode data URLs
and parse tool-call arguments the same way; one implementation keeps their error behaviour identical. The
option checks and usage counters every adapter shares live here too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from app.errors import ApiError
from providers.base import Usage

_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?:;[\w.+-]+=[\w.+-]+)*;base64,(?P<data>.*)$", re.S)
# Enum-like words only: snake_case / dotted, SCREAMING_CASE, CamelCase, or a 3-digit status. No digits inside
# words, so a random key (which mixes letters and digits) can never pass as an error type.
_TYPED_VALUE = re.compile(r"^(?:[a-z]+(?:[_.][a-z]+)*|[A-Z]+(?:_[A-Z]+)*|[A-Z]?[a-z]+(?:[A-Z][a-z]+)*|\d{3})$")


@dataclass(frozen=True)
class Image:
    """An image part: either inline base64 ``data`` with its ``media_type``, or a remote ``url``."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None


def parse_image_url(value: Any) -> Image:
    """``image_url`` part value (a string or ``{"url": ...}``) → inline data or a remote http(s) URL."""
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise ApiError("invalid_messages", "image_url.url must be a non-empty string")
    match = _DATA_URL.match(url)
    if match:
        return Image(media_type=match.group("mime").lower(), data=match.group("data"))
    if url.startswith(("https://", "http://")):
        return Image(url=url)
    raise ApiError("invalid_messages", "image_url.url must be a base64 data: URL or an http(s) URL")


def content_parts(content: Any) -> list[dict[str, Any]]:
    """Message content as a list of OpenAI parts; a string becomes one text part, None no part."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        return content
    raise ApiError("invalid_messages", "message content must be a string or a list of content parts")


def texts(content: Any) -> list[str]:
    """The non-empty texts of a content value that may only hold text (system/developer/tool messages)."""
    out = []
    for part in content_parts(content):
        if part.get("type") != "text":
            raise ApiError("invalid_messages", f"content part type {part.get('type')!r} is not allowed here")
        text = part_text(part)
        if text:
            out.append(text)
    return out


def content_text(content: Any) -> str:
    """All text of a text-only content value, joined by blank lines."""
    return "\n\n".join(texts(content))


def part_text(part: dict[str, Any]) -> str:
    """The text of a ``{"type": "text"}`` part, validated."""
    text = part.get("text")
    if not isinstance(text, str):
        raise ApiError("invalid_messages", "a text content part needs a string text")
    return text


def tool_arguments(call: dict[str, Any]) -> dict[str, Any]:
    """An assistant tool call's JSON ``arguments`` string as an object ("" counts as {})."""
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise ApiError("invalid_messages", "tool_calls entries need function.name")
    raw = function.get("arguments")
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ApiError("invalid_messages", "tool_calls function.arguments must be a JSON object string")
    return parsed


def role_of(message: Any) -> str:
    """A message's role, validated against the canonical set."""
    role = message.get("role") if isinstance(message, dict) else None
    if role not in ("system", "developer", "user", "assistant", "tool"):
        raise ApiError("invalid_messages", "message role must be system, developer, user, assistant or tool")
    return role


def safe_error_type(value: Any) -> str | None:
    """A typed error field, kept only when it looks like an enum word (so it can never echo a key)."""
    if isinstance(value, str) and len(value) <= 48 and _TYPED_VALUE.match(value):
        return value
    return None


def stop_list(value: Any) -> list[str]:
    """OpenAI ``stop`` (a string or a list of strings) as a list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ApiError("invalid_provider_options", "stop must be a string or a list of strings", param="stop")


def merge_same_role(turns: list[tuple[str, list[Any]]]) -> list[tuple[str, list[Any]]]:
    """Join consecutive turns of the same role (Anthropic and Gemini want strict alternation)."""
    merged: list[tuple[str, list[Any]]] = []
    for role, items in turns:
        if not items:
            continue
        if merged and merged[-1][0] == role:
            merged[-1][1].extend(items)
        else:
            merged.append((role, list(items)))
    return merged


def token_count(value: Any) -> int:
    """A usage counter from a provider answer: a positive int as is, anything else (bool, None, junk) 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def cache_exclusive_usage(usage: Any, input_field: str, output_field: str, cache_read_field: str,
                          cache_write_field: str) -> Usage:
    """Usage from an API whose input count excludes both cache buckets (Anthropic, Bedrock Converse).

    Normalized ``input_tokens`` adds the cache reads and writes back; the field names are the provider's.
    """
    usage = usage if isinstance(usage, dict) else {}
    cache_read = token_count(usage.get(cache_read_field))
    cache_write = token_count(usage.get(cache_write_field))
    return Usage(
        input_tokens=token_count(usage.get(input_field)) + cache_read + cache_write,
        cached_input_tokens=cache_read,
        cache_write_input_tokens=cache_write,
        output_tokens=token_count(usage.get(output_field)),
    )


def positive_int(value: Any, name: str) -> int:
    """An option that must be a positive integer (``max_tokens``); refused with ``param=name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApiError("invalid_provider_options", f"{name} must be a positive integer", param=name)
    return value


def object_option(options: dict[str, Any], name: str) -> dict[str, Any]:
    """A provider-native option that must be an object (e.g. ``generationConfig``); {} when absent."""
    value = options.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError("invalid_provider_options", f"{name} must be an object", param=name)
    return value
