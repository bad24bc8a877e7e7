"""Gemini API (generativelanguage.googleapis.com, generateContent) adapter.

``to_gemini_body`` and ``parse_gemini_response`` are pure and stable: the Vertex adapter reuses them (same
``contents``/``parts`` format). The key travels only in the ``x-goog-api-key`` header, never in the URL.
Tools and JSON-schema answers use Gemini's JSON Schema fields (``parametersJsonSchema``,
``responseJsonSchema``) because OpenAI clients send JSON Schema, which the OpenAPI-subset fields refuse.
Function calls keep Gemini's ``thoughtSignature`` across the OpenAI shape the way Google's own OpenAI layer
does: in ``tool_calls[].extra_content.google.thought_signature``.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any
from urllib.parse import quote

from app.errors import ApiError
from providers import canonical
from providers.base import (
    FORMAT_GEMINI,
    AuthContext,
    ChatRequest,
    Credential,
    ParsedResponse,
    UpstreamRequest,
    Usage,
    map_error,
    unsupported_option,
)
from providers.credentials import no_config, require_api_key

Json = dict[str, Any]

PROVIDER_ID = "gemini"
# Google's documented placeholder for function calls whose thought signature was not produced by Gemini
# (Gemini 3 refuses a history whose first function call in a model turn carries no signature).
SKIP_SIGNATURE = "skip_thought_signature_validator"
TEST_MODEL = "gemini-2.5-flash"

# OpenAI name → generationConfig name.
_GENERATION_RENAMES = {
    "temperature": "temperature", "top_p": "topP", "max_tokens": "maxOutputTokens",
    "max_completion_tokens": "maxOutputTokens", "n": "candidateCount", "seed": "seed",
    "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty",
    "logprobs": "responseLogprobs", "top_logprobs": "logprobs", "top_k": "topK",
}
# Native generationConfig fields accepted at the top level of options (``logprobs`` keeps OpenAI's meaning).
_GENERATION_NATIVE = frozenset({
    "topK", "topP", "maxOutputTokens", "candidateCount", "stopSequences", "responseMimeType",
    "responseSchema", "responseJsonSchema", "responseModalities", "thinkingConfig", "speechConfig",
    "mediaResolution", "presencePenalty", "frequencyPenalty", "responseLogprobs",
    "enableEnhancedCivicAnswers",
    "imageConfig",
})
# Native top-level request fields.
_TOP_LEVEL_NATIVE = frozenset({"safetySettings", "cachedContent", "toolConfig", "labels"})
_VERTEX_ONLY = frozenset({"labels"})  # Vertex AI takes request labels; the Gemini Developer API refuses them
_TRANSLATED = frozenset({"stop", "response_format", "tools", "tool_choice", "generationConfig"})
SUPPORTED_OPTIONS = frozenset(_GENERATION_RENAMES) | _GENERATION_NATIVE | _TOP_LEVEL_NATIVE | _TRANSLATED

_AUTH_STATUSES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
_AUTH_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"})
_FINISH = {
    "STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def _image_part(value: Any) -> Json:
    image = canonical.parse_image_url(value)
    if image.url:
        part: Json = {"fileUri": image.url}
        guessed = mimetypes.guess_type(image.url.split("?", 1)[0])[0]
        if guessed:
            part = {"mimeType": guessed, **part}
        return {"fileData": part}
    return {"inlineData": {"mimeType": image.media_type, "data": image.data}}


def _parts(content: Any) -> list[Json]:
    parts: list[Json] = []
    for part in canonical.content_parts(content):
        kind = part.get("type")
        if kind == "text":
            text = canonical.part_text(part)
            if text:
                parts.append({"text": text})
        elif kind == "image_url":
            parts.append(_image_part(part.get("image_url")))
        else:
            raise ApiError("invalid_messages", f"content part type {kind!r} is not supported by gemini")
    return parts


def _function_response(message: Json, names: dict[str, str]) -> Json:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or call_id not in names:
        raise ApiError("invalid_messages", "tool_call_id must match an earlier assistant tool call")
    text = canonical.content_text(message.get("content"))
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    response = parsed if isinstance(parsed, dict) else {"content": text}
    return {"functionResponse": {"name": names[call_id], "response": response}}


def _signature(call: Json) -> str | None:
    """The thought signature a Gemini answer attached to this call (kept in OpenAI's ``extra_content``)."""
    google = (call.get("extra_content") or {}).get("google") if isinstance(call.get("extra_content"), dict) else None
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    return signature if isinstance(signature, str) and signature else None


def to_gemini_contents(messages: list[Json]) -> tuple[Json | None, list[Json]]:
    """Canonical messages → (systemInstruction or None, contents with roles user/model, same roles merged)."""
    system: list[Json] = []
    turns: list[tuple[str, list[Any]]] = []
    names: dict[str, str] = {}
    for message in messages:
        role = canonical.role_of(message)
        if role in ("system", "developer"):
            system.extend({"text": text} for text in canonical.texts(message.get("content")))
        elif role == "user":
            turns.append(("user", _parts(message.get("content"))))
        elif role == "assistant":
            parts = _parts(message.get("content"))
            for number, call in enumerate(message.get("tool_calls") or []):
                arguments = canonical.tool_arguments(call)
                name = call["function"]["name"]
                if isinstance(call.get("id"), str):
                    names[call["id"]] = name
                part: Json = {"functionCall": {"name": name, "args": arguments}}
                signature = _signature(call) or (SKIP_SIGNATURE if number == 0 else None)
                if signature:
                    part["thoughtSignature"] = signature
                parts.append(part)
            turns.append(("model", parts))
        else:
            turns.append(("user", [_function_response(message, names)]))
    contents = [{"role": role, "parts": parts} for role, parts in canonical.merge_same_role(turns)]
    if not contents:
        raise ApiError("invalid_messages", "gemini needs at least one user or assistant message")
    return ({"parts": system} if system else None), contents


def _tools(tools: Any) -> list[Json]:
    if not isinstance(tools, list):
        raise ApiError("invalid_provider_options", "tools must be a list", param="tools")
    declarations: list[Json] = []
    native: list[Json] = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and tool.get("type") == "function":
            if not isinstance(function.get("name"), str) or not function["name"]:
                raise ApiError("invalid_provider_options", "tools[].function.name is required", param="tools")
            declaration: Json = {"name": function["name"]}
            if function.get("description"):
                declaration["description"] = function["description"]
            if function.get("parameters"):
                declaration["parametersJsonSchema"] = function["parameters"]
            declarations.append(declaration)
        elif isinstance(tool, dict):
            native.append(tool)  # already a Gemini tool (functionDeclarations, googleSearch, ...)
        else:
            raise ApiError("invalid_provider_options", "tools entries must be objects", param="tools")
    return ([{"functionDeclarations": declarations}] if declarations else []) + native


def _tool_config(choice: Any) -> Json:
    if choice in ("auto", "none", "required"):
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]
        return {"functionCallingConfig": {"mode": mode}}
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if isinstance(name, str) and choice.get("type") == "function":
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    raise ApiError("invalid_provider_options", "tool_choice is malformed", param="tool_choice")


def _response_format(value: Any) -> Json:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return {"responseMimeType": "text/plain"}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    schema = (value.get("json_schema") or {}).get("schema") if kind == "json_schema" else None
    if isinstance(schema, dict):
        return {"responseMimeType": "application/json", "responseJsonSchema": schema}
    raise ApiError("invalid_provider_options", "response_format is malformed", param="response_format")


def to_gemini_body(request: ChatRequest, provider: str = PROVIDER_ID) -> Json:
    """The generateContent body for a canonical request (the model goes in the URL, not the body)."""
    options = request.options
    for name in options:
        if name not in SUPPORTED_OPTIONS or (name in _VERTEX_ONLY and provider == PROVIDER_ID):
            raise unsupported_option(provider, name)
    system, contents = to_gemini_contents(request.messages)
    body: Json = {"contents": contents}
    if system:
        body["systemInstruction"] = system
    generation: Json = {}
    for name, target in _GENERATION_RENAMES.items():
        if name in options:
            generation[target] = options[name]
    for name in sorted(_GENERATION_NATIVE & options.keys()):
        generation[name] = options[name]
    if "stop" in options:
        generation["stopSequences"] = canonical.stop_list(options["stop"])
    if "response_format" in options:
        generation.update(_response_format(options["response_format"]))
    generation.update(canonical.object_option(options, "generationConfig"))
    if generation:
        body["generationConfig"] = generation
    if "tools" in options:
        body["tools"] = _tools(options["tools"])
    if "tool_choice" in options:
        body["toolConfig"] = _tool_config(options["tool_choice"])
    for name in sorted(_TOP_LEVEL_NATIVE & options.keys()):
        body[name] = options[name]
    return body


def gemini_usage(metadata: Any) -> Usage:
    """promptTokenCount includes cached tokens; candidatesTokenCount excludes thoughts (added back here)."""
    metadata = metadata if isinstance(metadata, dict) else {}
    thoughts = canonical.token_count(metadata.get("thoughtsTokenCount"))
    return Usage(
        input_tokens=(canonical.token_count(metadata.get("promptTokenCount"))
                      + canonical.token_count(metadata.get("toolUsePromptTokenCount"))),
        cached_input_tokens=canonical.token_count(metadata.get("cachedContentTokenCount")),
        output_tokens=canonical.token_count(metadata.get("candidatesTokenCount")) + thoughts,
        reasoning_tokens=thoughts,
    )


def parse_gemini_response(body: Any, provider: str = PROVIDER_ID) -> ParsedResponse:
    """A generateContent response → first candidate's text (thoughts skipped), tool calls, usage."""
    if not isinstance(body, dict) or not isinstance(body.get("candidates", []), list):
        raise ApiError("provider_error", f"{provider} answered a body that is not a generateContent response")
    if "candidates" not in body and "usageMetadata" not in body and "promptFeedback" not in body:
        raise ApiError("provider_error", f"{provider} answered a body that is not a generateContent response")
    candidates = body.get("candidates") or []
    candidate = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
    parts = (candidate.get("content") or {}).get("parts") or []
    texts: list[str] = []
    calls: list[Json] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict) or part.get("thought"):
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part.get("functionCall"), dict):
            call = part["functionCall"]
            arguments = json.dumps(call.get("args") or {}, separators=(",", ":"), ensure_ascii=False)
            entry: Json = {"id": call.get("id") or f"call_{len(calls)}", "type": "function",
                           "function": {"name": call.get("name"), "arguments": arguments}}
            if isinstance(part.get("thoughtSignature"), str):
                entry["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
            calls.append(entry)
    if not candidates:
        finish = "content_filter"
    elif calls:
        finish = "tool_calls"
    else:
        finish = _FINISH.get(candidate.get("finishReason"), "stop")
    return ParsedResponse(
        usage=gemini_usage(body.get("usageMetadata")),
        text="".join(texts),
        tool_calls=calls,
        finish_reason=finish,
        response_id=body.get("responseId") if isinstance(body.get("responseId"), str) else None,
        model=body.get("modelVersion") if isinstance(body.get("modelVersion"), str) else None,
    )


def gemini_error_type(body: Any) -> tuple[str | None, bool]:
    """Google's ``error.status`` (plus ``ErrorInfo.reason``) and whether it says the credential is bad."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        error = body[0].get("error")  # some Google front ends wrap the error in a list
    if not isinstance(error, dict):
        return None, False
    status = canonical.safe_error_type(error.get("status"))
    reasons = [canonical.safe_error_type(d.get("reason")) for d in error.get("details") or []
               if isinstance(d, dict)]
    reason = next((r for r in reasons if r), None)
    auth = status in _AUTH_STATUSES or reason in _AUTH_REASONS
    label = "/".join(x for x in (status, reason) if x) or None
    return label, auth


def parse_gemini_error(provider: str, status: int, headers: dict[str, str], body: Any) -> ApiError:
    """Status plus Google's typed status; a bad key (400 API_KEY_INVALID) is an auth failure."""
    label, auth = gemini_error_type(body)
    return map_error(provider, status, headers, label, auth_error=auth)


def model_path(model: str) -> str:
    """``models/{model}:generateContent``, the id percent-encoded (a ``models/`` prefix is accepted)."""
    name = model[len("models/"):] if model.startswith("models/") else model
    if not name:
        raise ApiError("invalid_request", "model is required")
    return f"models/{quote(name, safe='-._')}:generateContent"


class GeminiAdapter:
    """The Gemini Developer API with an API key."""

    id = PROVIDER_ID
    wire_format = FORMAT_GEMINI
    default_origin = "https://generativelanguage.googleapis.com"
    uses_api_key = True

    def validate_credential(self, api_key: str | None, secrets: dict[str, Any] | None,
                            config: Json) -> tuple[str | None, dict[str, str] | None, Json]:
        return require_api_key(api_key, secrets), None, no_config(config)

    def tenant_endpoints(self, config: Json) -> list[str]:
        return []

    def build_request(self, request: ChatRequest, credential: Credential, origin: str) -> UpstreamRequest:
        url = f"{origin.rstrip('/')}/v1beta/{model_path(request.model)}"
        body = UpstreamRequest.json_body(to_gemini_body(request))
        return UpstreamRequest("POST", url, {"content-type": "application/json"}, body)

    def authorize(self, upstream: UpstreamRequest, credential: Credential,
                  auth: AuthContext) -> UpstreamRequest:
        headers = {**upstream.headers, "x-goog-api-key": credential.api_key or ""}
        return UpstreamRequest(upstream.method, upstream.url, headers, upstream.body)

    def parse_response(self, body: Json) -> ParsedResponse:
        return parse_gemini_response(body, PROVIDER_ID)

    def parse_error(self, status: int, headers: dict[str, str], body: Any) -> ApiError:
        return parse_gemini_error(PROVIDER_ID, status, headers, body)

    def test_request(self, credential: Credential) -> ChatRequest:
        return ChatRequest(provider=PROVIDER_ID, model=TEST_MODEL,
                           messages=[{"role": "user", "content": "ping"}], options={"max_tokens": 1})


ADAPTER = GeminiAdapter()
