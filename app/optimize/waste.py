"""Waste measurement of one request: named categories, each with tokens (and USD, priced by the caller).

- ``whitespace``: what safe mode's whitespace transformations would remove (never inside code, indented
  blocks or tool payloads; see ``text_transforms``), so a prompt full of code shows zero.
- ``pretty_json``: what compacting pretty-printed JSON would remove.
- ``duplicated_content``: every extra copy of a paragraph (64+ characters) that appears more than once in
  the request's prose, tool results included; the first copy is not waste.
- ``repeated_prefix``: the static prefix (system prompt or, without one, the first message) when the tenant
  sent the same prefix to the same provider and model within ``PREFIX_WINDOW``, minus what the provider's
  prompt cache served (``cachedInputTokens``). Prefixes under ``MIN_CACHEABLE_PREFIX_TOKENS`` are never
  waste: providers do not cache them. This module only computes the prefix's hash and size; whether it was
  seen again is a store question answered by the measurement service.

Tokens use the model's tokenizer (exact for OpenAI models, o200k × calibration ratio elsewhere).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.optimize.safe_mode import optimize_message
from app.optimize.templates import leading_messages, message_text
from app.optimize.text_transforms import BLANK_LINES, JSON_COMPACT, TRAILING_WHITESPACE, optimize_text
from app.optimize.tokenizers import (
    APPROXIMATION_ENCODING,
    REPLY_PRIMING,
    framed_tokens,
    openai_encoding_name,
    text_tokens,
)

WHITESPACE = "whitespace"
PRETTY_JSON = "pretty_json"
DUPLICATED_CONTENT = "duplicated_content"
REPEATED_PREFIX = "repeated_prefix"
CATEGORIES = (WHITESPACE, PRETTY_JSON, DUPLICATED_CONTENT, REPEATED_PREFIX)

MIN_DUPLICATE_CHARS = 64
MIN_CACHEABLE_PREFIX_TOKENS = 1024
PREFIX_WINDOW = timedelta(hours=1)
_PARAGRAPH_SPLIT = re.compile(r"\n[ \t\r]*\n")


@dataclass(frozen=True)
class Analysis:
    """What the prompt alone says; tokens already calibrated for non-OpenAI models."""

    prompt_tokens: int
    estimated: bool
    encoding: str
    tokens: dict[str, int]          # whitespace, pretty_json, duplicated_content
    prefix_hash: str | None
    prefix_tokens: int
    text_only: bool                 # plain text messages only: fit to learn the calibration ratio from

    @property
    def safe_removable_tokens(self) -> int:
        return self.tokens[WHITESPACE] + self.tokens[PRETTY_JSON]


def analyze(tenant_id: str, provider: str, model: str, messages: list[dict[str, Any]],
            ratio: float | None = None) -> Analysis:
    openai_encoding = openai_encoding_name(provider, model)
    encoding = openai_encoding or APPROXIMATION_ENCODING
    scale = 1.0 if openai_encoding or ratio is None else ratio
    raw_prompt, exact = framed_tokens(messages, encoding)
    transform_tokens = _transform_tokens(messages, encoding)
    tokens = {
        WHITESPACE: transform_tokens[TRAILING_WHITESPACE] + transform_tokens[BLANK_LINES],
        PRETTY_JSON: transform_tokens[JSON_COMPACT],
        DUPLICATED_CONTENT: duplicated_tokens(messages, encoding),
    }
    prefix = leading_messages(messages)
    prefix_tokens = framed_tokens(prefix, encoding)[0] - REPLY_PRIMING if prefix else 0
    return Analysis(
        prompt_tokens=_scale(raw_prompt, scale),
        estimated=openai_encoding is None or not exact,
        encoding=encoding,
        tokens={name: _scale(value, scale) for name, value in tokens.items()},
        prefix_hash=prefix_hash(tenant_id, provider, model, prefix) if prefix else None,
        prefix_tokens=_scale(prefix_tokens, scale),
        text_only=exact,
    )


def raw_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """The uncalibrated o200k count the calibration ratio is learned against."""
    return framed_tokens(messages, APPROXIMATION_ENCODING)[0]


def _transform_tokens(messages: list[dict[str, Any]], encoding: str) -> dict[str, int]:
    removed = {JSON_COMPACT: 0, TRAILING_WHITESPACE: 0, BLANK_LINES: 0}

    def run(text: str) -> str:
        new, steps = optimize_text(text)
        for name, _, before, after in steps:
            removed[name] += text_tokens(before, encoding) - text_tokens(after, encoding)
        return new

    for message in messages:
        optimize_message(message, run)
    return removed


def duplicated_tokens(messages: list[dict[str, Any]], encoding: str) -> int:
    """Tokens of every repeated copy of a long paragraph across the request's texts."""
    seen: set[str] = set()
    total = 0
    for message in messages:
        if not isinstance(message, dict):
            continue
        for paragraph in _PARAGRAPH_SPLIT.split(message_text(message)):
            key = paragraph.strip()
            if len(key) < MIN_DUPLICATE_CHARS:
                continue
            if key in seen:
                total += text_tokens(key, encoding)
            else:
                seen.add(key)
    return total


def prefix_hash(tenant_id: str, provider: str, model: str, prefix: list[dict[str, Any]]) -> str:
    """Tenant-salted hash of the exact prefix (roles and text) for one provider and model; no text kept."""
    digest = hashlib.sha256()
    digest.update(f"{tenant_id}\0{provider}\0{model}".encode())
    for message in prefix:
        digest.update(f"\0{message.get('role')}\0{message_text(message)}".encode())
    return digest.hexdigest()[:32]


def repeated_prefix_tokens(analysis: Analysis, seen_recently: bool, cached_input_tokens: int) -> int:
    """The prefix tokens billed again at full rate: seen before, large enough to cache, not served by it."""
    if not seen_recently or analysis.prefix_tokens < MIN_CACHEABLE_PREFIX_TOKENS:
        return 0
    return max(0, analysis.prefix_tokens - cached_input_tokens)


def _scale(tokens: int, ratio: float) -> int:
    return tokens if ratio == 1.0 else int(round(tokens * ratio))
