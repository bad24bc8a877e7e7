"""safe mode: apply only transformations that cannot change what the model is asked.

Only prose text is touched: string contents and ``text`` parts of system/developer/user/assistant messages
(canonical OpenAI format) and the ``system`` and ``text`` blocks of an Anthropic Messages body. Tool
calls, tool results (role ``tool``, ``tool_result`` blocks), tool definitions, images and every other field
are copied as they are. See ``text_transforms`` for what may be removed. Inputs are never mutated.

Token figures come from the canonical messages, counted with the model's tokenizer (exact for OpenAI
models; o200k × ``ratio`` elsewhere, marked estimated). ``tokensRemoved`` per transformation is the token
delta of that step summed over every text, so the parts add up to ``tokens_before - tokens_after``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from app.optimize.text_transforms import TRANSFORMS, optimize_text
from app.optimize.tokenizers import APPROXIMATION_ENCODING, count_messages, openai_encoding_name, text_tokens

PROSE_ROLES = {"system", "developer", "user", "assistant"}


@dataclass
class SafeOutcome:
    messages: list[dict[str, Any]]
    native_body: dict[str, Any] | None
    applied: list[dict[str, Any]]
    tokens_before: int
    tokens_after: int
    estimated: bool


@dataclass
class _Tally:
    """Per-transformation counts and token deltas, accumulated over every text of the request."""

    encoding: str
    ratio: float | None
    counts: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    count_tokens: bool = True
    memo: dict[str, int] = field(default_factory=dict)

    def text_tokens(self, text: str) -> int:
        """Each distinct text of this request is encoded once (before, between steps, after)."""
        if text not in self.memo:
            self.memo[text] = text_tokens(text, self.encoding)
        return self.memo[text]

    def run(self, text: str) -> str:
        new, steps = optimize_text(text)
        for name, count, before, after in steps:
            self.counts[name] = self.counts.get(name, 0) + count
            if self.count_tokens:
                removed = self.text_tokens(before) - self.text_tokens(after)
                self.tokens[name] = self.tokens.get(name, 0) + removed
        return new

    def applied(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "count": self.counts[name], "tokensRemoved": self._scaled(self.tokens.get(name, 0))}
            for name, _ in TRANSFORMS if self.counts.get(name)
        ]

    def _scaled(self, tokens: int) -> int:
        return tokens if self.ratio is None else int(round(tokens * self.ratio))


def apply_safe_mode(provider: str, model: str, messages: list[dict[str, Any]],
                    native_body: dict[str, Any] | None, ratio: float | None = None) -> SafeOutcome:
    """Optimize a request; ``ratio`` is the learned calibration for non-OpenAI models (None: 1.0)."""
    encoding = openai_encoding_name(provider, model)
    tally = _Tally(encoding or APPROXIMATION_ENCODING, None if encoding else ratio)
    new_messages = [optimize_message(message, tally.run) for message in messages]
    new_native = None
    if native_body is not None:
        native_tally = _Tally(tally.encoding, tally.ratio, count_tokens=False)
        new_native = optimize_anthropic_body(native_body, native_tally.run)
    before = count_messages(provider, model, messages, ratio, tally.text_tokens)
    after = count_messages(provider, model, new_messages, ratio, tally.text_tokens)
    applied = tally.applied()
    if encoding is None and ratio is not None:  # rounding of scaled parts: make them add up to the total
        _reconcile(applied, before.tokens - after.tokens)
    return SafeOutcome(new_messages, new_native, applied, before.tokens, after.tokens, before.estimated)


def optimize_message(message: dict[str, Any], run: Any) -> dict[str, Any]:
    """A copy of one canonical message with its prose text optimized (tool payloads untouched)."""
    if not isinstance(message, dict) or message.get("role") not in PROSE_ROLES:
        return copy.deepcopy(message)
    result = copy.deepcopy(message)
    content = message.get("content")
    if isinstance(content, str):
        result["content"] = run(content)
    elif isinstance(content, list):
        result["content"] = [_text_part(part, run, "text") for part in content]
    return result


def optimize_anthropic_body(body: dict[str, Any], run: Any) -> dict[str, Any]:
    """A copy of an Anthropic Messages body with ``system`` and ``text`` blocks optimized."""
    result = copy.deepcopy(body)
    system = body.get("system")
    if isinstance(system, str):
        result["system"] = run(system)
    elif isinstance(system, list):
        result["system"] = [_text_part(block, run, "text") for block in system]
    messages = body.get("messages")
    if isinstance(messages, list):
        result["messages"] = [_anthropic_message(message, run) for message in messages]
    return result


def _anthropic_message(message: Any, run: Any) -> Any:
    if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
        return copy.deepcopy(message)
    result = copy.deepcopy(message)
    content = message.get("content")
    if isinstance(content, str):
        result["content"] = run(content)
    elif isinstance(content, list):
        result["content"] = [_text_part(block, run, "text") for block in content]
    return result


def _text_part(part: Any, run: Any, kind: str) -> Any:
    if isinstance(part, dict) and part.get("type") == kind and isinstance(part.get("text"), str):
        return {**copy.deepcopy(part), "text": run(part["text"])}
    return copy.deepcopy(part)


def _reconcile(applied: list[dict[str, Any]], total: int) -> None:
    if applied:
        largest = max(applied, key=lambda item: item["tokensRemoved"])
        largest["tokensRemoved"] += total - sum(item["tokensRemoved"] for item in applied)
