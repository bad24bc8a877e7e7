"""The Anthropic Messages wrapper's request parser: a Messages body → canonical messages and options.

Anthropic upstreams receive the wrapper's native body as is (see ``providers/anthropic.py``); this canonical
form is what every other provider is translated from. OpenAI-style tool payloads (``{"type": "function",
"function": ...}`` tools, ``tool`` roles, ``tool_calls``) are not Anthropic's format and are refused with 400
``invalid_request`` before any provider call, as the guide says.

Translation: ``system`` (a string or text blocks) → one system message per block; text → text parts; images
(base64 or url source) → ``image_url`` parts; assistant ``tool_use`` → ``tool_calls``; user ``tool_result`` →
``tool`` messages (images inside a result follow as a user message); ``thinking`` blocks are the model's own and
are not carried over. Other Anthropic-only blocks (``document``, ``search_result``...) are kept as parts of
their own type: the Anthropic adapter forwards them and every other adapter refuses them with a clear 400.
Options: ``max_tokens``, ``temperature``, ``top_p`` keep their names, ``stop_sequences`` → ``stop``, tools and
``tool_choice`` → OpenAI form; the rest (``top_k``, ``thinking``, ``service_tier``...) keep Anthropic's names.
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import ApiError

Json = dict[str, Any]

_NOT_OPTIONS = frozenset({"model", "messages", "system", "stream", "metadata"})
_DROPPED_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def _invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError("invalid_request", message, param=param)


def _image_part(block: Json, where: str) -> Json:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64" and isinstance(source.get("media_type"), str) and isinstance(source.get("data"), str):
        url = f"data:{source['media_type']};base64,{source['data']}"
    elif kind == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise _invalid(f"{where}: image source must be base64 (media_type, data) or url", param=where)
    return {"type": "image_url", "image_url": {"url": url}}


def _text(block: Json, where: str) -> str:
    if not isinstance(block.get("text"), str):
        raise _invalid(f"{where}: a text block needs a string text", param=where)
    return block["text"]


def _blocks(content: Any, where: str) -> list[Json]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(block, dict) for block in content):
        raise _invalid(f"{where}: content must be a string or a list of content blocks", param=where)
    return content


def _tool_result(block: Json, where: str) -> tuple[Json, list[Json]]:
    """A tool_result block → a canonical tool message, plus image parts that must follow it."""
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise _invalid(f"{where}: tool_result needs tool_use_id", param=where)
    texts: list[str] = []
    images: list[Json] = []
    raw = block.get("content")
    for number, part in enumerate(_blocks(raw, where) if raw is not None else []):
        if part.get("type") == "text":
            texts.append(_text(part, f"{where}.content[{number}]"))
        elif part.get("type") == "image":
            images.append(_image_part(part, f"{where}.content[{number}]"))
        else:
            raise _invalid(f"{where}: tool_result content must be text or image blocks", param=where)
    text = "\n\n".join(texts)
    if block.get("is_error") is True:
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": call_id, "content": text}, images


def _tool_call(block: Json, where: str) -> Json:
    if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
        raise _invalid(f"{where}: tool_use needs id and name", param=where)
    arguments = json.dumps(block.get("input") or {}, separators=(",", ":"), ensure_ascii=False)
    return {"id": block["id"], "type": "function", "function": {"name": block["name"], "arguments": arguments}}


def _user(content: Any, where: str) -> list[Json]:
    out: list[Json] = []
    parts: list[Json] = []
    for number, block in enumerate(_blocks(content, where)):
        here = f"{where}.content[{number}]"
        kind = block.get("type")
        if kind == "tool_result":
            if parts:
                out.append({"role": "user", "content": parts})
                parts = []
            message, images = _tool_result(block, here)
            out.append(message)
            parts.extend(images)
        elif kind == "text":
            parts.append({"type": "text", "text": _text(block, here)})
        elif kind == "image":
            parts.append(_image_part(block, here))
        elif kind in ("tool_use",):
            raise _invalid(f"{here}: tool_use blocks belong to assistant messages", param=here)
        elif kind not in _DROPPED_BLOCKS:
            parts.append(dict(block))
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _assistant(content: Any, where: str) -> Json:
    parts: list[Json] = []
    calls: list[Json] = []
    for number, block in enumerate(_blocks(content, where)):
        here = f"{where}.content[{number}]"
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": _text(block, here)})
        elif kind == "tool_use":
            calls.append(_tool_call(block, here))
        elif kind == "tool_result":
            raise _invalid(f"{here}: tool_result blocks belong to user messages", param=here)
        elif kind not in _DROPPED_BLOCKS:
            parts.append(dict(block))
    message: Json = {"role": "assistant"}
    if len(parts) == 1 and parts[0]["type"] == "text":
        message["content"] = parts[0]["text"]
    else:
        message["content"] = parts or None
    if calls:
        message["tool_calls"] = calls
    return message


def _system(system: Any) -> list[Json]:
    if system is None:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}] if system else []
    if not isinstance(system, list):
        raise _invalid("system must be a string or a list of text blocks", param="system")
    out = []
    for number, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _invalid(f"system[{number}] must be a text block", param="system")
        out.append({"role": "system", "content": _text(block, f"system[{number}]")})
    return out


def _messages(raw: Any) -> list[Json]:
    if not isinstance(raw, list) or not raw:
        raise _invalid("messages must be a non-empty list", param="messages")
    out: list[Json] = []
    for index, message in enumerate(raw):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _invalid(f"{where} must be an object", param=where)
        if "tool_calls" in message or message.get("role") == "tool":
            raise _invalid(f"{where}: OpenAI-style tool messages (role tool, tool_calls) are not accepted by the "
                           "Messages API; use tool_use and tool_result content blocks", param=where)
        role = message.get("role")
        if role == "user":
            out.extend(_user(message.get("content"), where))
        elif role == "assistant":
            out.append(_assistant(message.get("content"), where))
        else:
            raise _invalid(f"{where}: role must be user or assistant (system goes in the top-level system field)",
                           param=where)
    return out


def _tools(tools: Any) -> list[Json]:
    if not isinstance(tools, list):
        raise _invalid("tools must be a list", param="tools")
    out = []
    for number, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _invalid(f"tools[{number}] must be an object", param="tools")
        if tool.get("type") == "function" or "function" in tool:
            raise _invalid(f"tools[{number}]: OpenAI-style function tools are not accepted by the Messages API; "
                           "use {name, description, input_schema}", param="tools")
        if "input_schema" not in tool:
            out.append(dict(tool))  # an Anthropic server tool (web_search, ...): only Anthropic can run it
            continue
        function: Json = {"name": tool.get("name"), "parameters": tool["input_schema"]}
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any) -> tuple[Any, bool | None]:
    """Anthropic tool_choice → (OpenAI tool_choice, parallel_tool_calls or None)."""
    if not isinstance(choice, dict):
        raise _invalid("tool_choice must be an object", param="tool_choice")
    kind = choice.get("type")
    mapped: Any
    if kind == "auto":
        mapped = "auto"
    elif kind == "any":
        mapped = "required"
    elif kind == "none":
        mapped = "none"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        mapped = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise _invalid("tool_choice.type must be auto, any, tool (with name) or none", param="tool_choice")
    parallel = False if choice.get("disable_parallel_tool_use") is True else None
    return mapped, parallel


def parse_anthropic_request(body: Json) -> tuple[list[Json], Json]:
    """``(canonical messages, options)`` from a Messages body; raises 400 ``invalid_request``."""
    messages = _system(body.get("system")) + _messages(body.get("messages"))
    options: Json = {}
    for name, value in body.items():
        if name in _NOT_OPTIONS:
            continue
        if name == "stop_sequences":
            options["stop"] = value
        elif name == "tools":
            options["tools"] = _tools(value)
        elif name == "tool_choice":
            options["tool_choice"], parallel = _tool_choice(value)
            if parallel is not None:
                options["parallel_tool_calls"] = parallel
        else:
            options[name] = value
    return messages, options
