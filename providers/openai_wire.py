"""The chat.completions wire format, shared by the OpenAI family, Azure OpenAI and openai_compatible.

Providers differ only in data: which options they accept, which OpenAI names they spell differently, whether
``developer`` is a role they know, and how their usage block counts cache and reasoning tokens. A ``Dialect``
holds that data; the functions here are the one translation every chat.completions adapter uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.errors import ApiError
from providers import canonical
from providers.base import ChatRequest, ParsedResponse, Usage, map_error, unsupported_option

Json = dict[str, Any]

# chat.completions request fields OpenAI documents, besides model/messages/stream (streaming is not proxied).
OPENAI_OPTIONS = frozenset("""
    audio frequency_penalty function_call functions logit_bias logprobs max_completion_tokens max_tokens
    metadata modalities n parallel_tool_calls prediction presence_penalty prompt_cache_key
    prompt_cache_retention reasoning_effort response_format safety_identifier seed service_tier stop store
    temperature tool_choice tools top_logprobs top_p user verbosity web_search_options
""".split())

_FINISH = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls", "content_filter": "content_filter",
    "function_call": "tool_calls", "model_length": "length", "eos": "stop", "end_turn": "stop",
}
_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "refusal"})
_AUTH_CODES = frozenset({"invalid_api_key", "authentication_error", "unauthorized", "permission_denied"})


@dataclass(frozen=True)
class Dialect:
    """What one chat.completions provider accepts and how it reports usage.

    ``options``: accepted option names (OpenAI spelling, or the provider's own for native ones).
    ``renames``: OpenAI name → the provider's name (e.g. Mistral ``seed`` → ``random_seed``).
    ``developer_role``: False when the provider only knows ``system`` (developer messages are sent as system).
    ``reasoning_in_completion``: False when ``completion_tokens`` excludes reasoning tokens (xAI, Perplexity).
    ``extra_input_fields``: usage fields counted as input besides ``prompt_tokens`` (Perplexity citations).
    ``extra_body``: whether the ``extra_body`` option (an object merged into the body) is allowed.
    ``alternate``: True when user/assistant turns must alternate (consecutive plain same-role messages merged).
    """

    provider: str
    options: frozenset[str]
    renames: Mapping[str, str] = field(default_factory=dict)
    developer_role: bool = True
    reasoning_in_completion: bool = True
    extra_input_fields: tuple[str, ...] = ()
    extra_body: bool = False
    alternate: bool = False

    def accepts(self, name: str) -> bool:
        return name in self.options or name in self.renames or (self.extra_body and name == "extra_body")


def _mergeable(previous: Json, message: Json) -> bool:
    plain = {"role", "content"}
    return (previous["role"] == message["role"] and message["role"] in ("user", "assistant")
            and set(previous) <= plain and set(message) <= plain)


def _merge(previous: Json, message: Json) -> Json:
    """Two same-role plain messages as one (providers that require strict alternation)."""
    first, second = previous.get("content"), message.get("content")
    if isinstance(first, str) and isinstance(second, str):
        return {"role": previous["role"], "content": f"{first}\n\n{second}"}
    parts = canonical.content_parts(first) + canonical.content_parts(second)
    return {"role": previous["role"], "content": parts}


def _messages(messages: list[Json], dialect: Dialect) -> list[Json]:
    out = []
    for message in messages:
        role = canonical.role_of(message)
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in _PART_TYPES:
                raise ApiError("invalid_messages",
                               f"content part type {kind!r} is not supported by {dialect.provider}")
        if role == "developer" and not dialect.developer_role:
            message = {**message, "role": "system"}
        if dialect.alternate and out and _mergeable(out[-1], message):
            out[-1] = _merge(out[-1], message)
            continue
        out.append(message)
    if not out:
        raise ApiError("invalid_messages", "messages must not be empty")
    return out


def to_openai_body(request: ChatRequest, dialect: Dialect, model: str | None = None) -> Json:
    """The chat.completions body: canonical messages as they are, options checked and renamed.

    ``model`` overrides ``request.model`` (Azure v1 sends the deployment); pass "" to leave it out.
    """
    for name in request.options:
        if not dialect.accepts(name):
            raise unsupported_option(dialect.provider, name)
    body: Json = {}
    chosen = request.model if model is None else model
    if chosen:
        body["model"] = chosen
    body["messages"] = _messages(request.messages, dialect)
    extra = None
    for name, value in request.options.items():
        if name == "extra_body":
            extra = value
            continue
        body[dialect.renames.get(name, name)] = value
    if extra is not None:
        if not isinstance(extra, dict) or {"model", "messages", "stream"} & extra.keys():
            raise ApiError("invalid_provider_options", "extra_body must be an object without model, "
                           "messages or stream", param="extra_body")
        body.update(extra)
    return body


def _detail(usage: Json, block: str, name: str) -> int:
    details = usage.get(block)
    return canonical.token_count(details.get(name)) if isinstance(details, dict) else 0


def openai_usage(usage: Any, dialect: Dialect) -> Usage:
    """Normalize a chat.completions usage block (DESIGN.md §5).

    ``prompt_tokens`` includes cached tokens everywhere in this family; cached reads are
    ``prompt_tokens_details.cached_tokens`` (DeepSeek: ``prompt_cache_hit_tokens``; Mistral also
    ``num_cached_tokens``), cache writes ``prompt_tokens_details.cache_write_tokens`` (OpenRouter).
    Reasoning is ``completion_tokens_details.reasoning_tokens`` (Perplexity: top-level ``reasoning_tokens``)
    and is added to the output where the provider leaves it out of ``completion_tokens``.
    """
    usage = usage if isinstance(usage, dict) else {}
    cached = (_detail(usage, "prompt_tokens_details", "cached_tokens")
              or canonical.token_count(usage.get("prompt_cache_hit_tokens"))
              or _detail(usage, "prompt_token_details", "cached_tokens")
              or canonical.token_count(usage.get("num_cached_tokens"))
              or canonical.token_count(usage.get("cached_tokens")))
    reasoning = (_detail(usage, "completion_tokens_details", "reasoning_tokens")
                 or canonical.token_count(usage.get("reasoning_tokens")))
    output = canonical.token_count(usage.get("completion_tokens"))
    if not dialect.reasoning_in_completion:
        output += reasoning
    extra_input = sum(canonical.token_count(usage.get(name)) for name in dialect.extra_input_fields)
    prompt = canonical.token_count(usage.get("prompt_tokens")) + extra_input
    return Usage(
        input_tokens=prompt,
        cached_input_tokens=cached,
        cache_write_input_tokens=_detail(usage, "prompt_tokens_details", "cache_write_tokens"),
        output_tokens=output,
        reasoning_tokens=reasoning,
    )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Mistral reasoning models answer a list of chunks
        return "".join(p["text"] for p in content
                       if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str))
    return ""


def parse_openai_response(body: Any, dialect: Dialect) -> ParsedResponse:
    """A chat.completion → first choice's text and tool calls, finish reason, normalized usage."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list):
        raise ApiError("provider_error", f"{dialect.provider} answered a body that is not a chat.completion")
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    calls = [c for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    finish = _FINISH.get(choice.get("finish_reason"), "stop")
    if calls and finish == "stop":
        finish = "tool_calls"
    return ParsedResponse(
        usage=openai_usage(body.get("usage"), dialect),
        text=_text(message.get("content")),
        tool_calls=calls,
        finish_reason=finish,
        response_id=body.get("id") if isinstance(body.get("id"), str) else None,
        model=body.get("model") if isinstance(body.get("model"), str) else None,
    )


def openai_error_type(body: Any) -> str | None:
    """``error.code`` (or ``error.type``) of an OpenAI-style error body, when it is a plain enum word."""
    if not isinstance(body, dict):
        return None
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    return canonical.safe_error_type(error.get("code")) or canonical.safe_error_type(error.get("type"))


def parse_openai_error(provider: str, status: int, headers: dict[str, str], body: Any) -> ApiError:
    """Status plus the typed ``error.code``/``error.type``; never the upstream message."""
    error_type = openai_error_type(body)
    return map_error(provider, status, headers, error_type, auth_error=error_type in _AUTH_CODES)
