"""Token counting: exact for OpenAI models (public encodings, offline), a stated approximation elsewhere.

OpenAI chat framing (OpenAI cookbook "How to count tokens with tiktoken", checked there against the API's
``prompt_tokens``): every message costs 3 tokens plus the tokens of each of its string values (role and
content included), a ``name`` costs 1 more, and every reply is primed with 3 tokens.

Other providers publish no tokenizer: we count with o200k_base and multiply by a per-(provider, model)
calibration ratio learned from the provider-reported input tokens of real traffic (``token_calibration``,
see ``app/store/calibration.py``); such counts are marked ``estimated``. Image, audio and file parts are never
counted as text; a request carrying them, or tool calls, is marked estimated because the provider bills
them by rules we do not reproduce.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import bpe_openai

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
APPROXIMATION_ENCODING = "o200k_base"

# Prefix → encoding, longest prefix first; OpenAI model families only.
_OPENAI_ENCODINGS: tuple[tuple[str, str], ...] = (
    ("gpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-oss", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5", "cl100k_base"),
    ("gpt-35", "cl100k_base"),
)
# Providers that serve OpenAI's own models under OpenAI's names (so OpenAI's tokenizer is the model's).
_OPENAI_SERVING = {"openai", "azure_openai"}


@dataclass(frozen=True)
class TokenCount:
    tokens: int
    estimated: bool
    encoding: str | None


@lru_cache(maxsize=4)
def encoding(name: str) -> bpe_openai.Encoding:
    return bpe_openai.get_encoding(name)


def openai_encoding_name(provider: str, model: str) -> str | None:
    """The public encoding of an OpenAI model, or None when the model has no public tokenizer."""
    if provider not in _OPENAI_SERVING:
        return None
    name = model.strip().lower()
    if name.startswith("openai/"):
        name = name[len("openai/"):]
    for prefix, enc in _OPENAI_ENCODINGS:
        if name == prefix or name.startswith(prefix + "-") or name.startswith(prefix + "."):
            return enc
        if prefix in ("o1", "o3", "o4") and name.startswith(prefix):
            return enc
    return None


def text_tokens(text: str, encoding_name: str = APPROXIMATION_ENCODING) -> int:
    """Tokens of plain text, special-token look-alikes counted as ordinary text."""
    if not text:
        return 0
    return len(encoding(encoding_name).encode_ordinary(text))


def count_text(provider: str, model: str, text: str, ratio: float | None = None) -> TokenCount:
    enc = openai_encoding_name(provider, model)
    if enc is not None:
        return TokenCount(text_tokens(text, enc), False, enc)
    return TokenCount(_scaled(text_tokens(text), ratio), True, APPROXIMATION_ENCODING)


def count_messages(provider: str, model: str, messages: list[dict[str, Any]],
                   ratio: float | None = None, counter: Callable[[str], int] | None = None) -> TokenCount:
    """Prompt tokens of canonical (OpenAI chat format) messages, framing included.

    ``ratio`` is the learned calibration for non-OpenAI models (None: 1.0, the raw o200k count).
    """
    enc = openai_encoding_name(provider, model)
    name = enc or APPROXIMATION_ENCODING
    total, exact_shape = framed_tokens(messages, name, counter)
    if enc is not None:
        return TokenCount(total, not exact_shape, enc)
    return TokenCount(_scaled(total, ratio), True, APPROXIMATION_ENCODING)


def framed_tokens(messages: list[dict[str, Any]], encoding_name: str,
                  counter: Callable[[str], int] | None = None) -> tuple[int, bool]:
    """(tokens with chat framing, whether every message had the plain shape the framing rule is exact for).

    ``counter`` replaces plain text counting (safe mode passes a per-request memo of the texts it already
    counted).
    """
    count = counter or (lambda text: text_tokens(text, encoding_name))
    total = 0
    exact = True
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key == "content":
                tokens, plain = content_tokens(value, encoding_name, count)
                total += tokens
                exact = exact and plain
            elif key == "tool_calls":
                total += tool_calls_tokens(value, encoding_name)
                exact = False
            elif isinstance(value, str):
                total += count(value)
                if key == "name":
                    total += TOKENS_PER_NAME
                elif key != "role":
                    exact = False  # e.g. tool_call_id: framed by rules the cookbook does not state
    return total + REPLY_PRIMING, exact


def content_tokens(content: Any, encoding_name: str,
                   counter: Callable[[str], int] | None = None) -> tuple[int, bool]:
    """Text tokens of a content value; non-text parts (images, audio, files) are not text and count 0."""
    count = counter or (lambda text: text_tokens(text, encoding_name))
    if content is None:
        return 0, True
    if isinstance(content, str):
        return count(content), True
    if isinstance(content, list):
        total = 0
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                total += count(part["text"])
        return total, False
    return 0, False


def tool_calls_tokens(tool_calls: Any, encoding_name: str) -> int:
    """Function names and argument strings of assistant tool calls (an approximation of OpenAI's framing)."""
    total = 0
    for call in tool_calls if isinstance(tool_calls, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        name = function.get("name")
        arguments = function.get("arguments")
        if isinstance(name, str):
            total += text_tokens(name, encoding_name)
        if isinstance(arguments, str):
            total += text_tokens(arguments, encoding_name)
        elif arguments is not None:
            total += text_tokens(json.dumps(arguments, separators=(",", ":")), encoding_name)
    return total


def _scaled(tokens: int, ratio: float | None) -> int:
    if ratio is None or ratio <= 0:
        return tokens
    return int(round(tokens * ratio))
