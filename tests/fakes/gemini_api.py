"""A fake Gemini API (``POST /v1beta/models/{model}:generateContent``).

``gemini_handler(expected_key, model=None, ...)`` behaves like generativelanguage.googleapis.com: no
``x-goog-api-key`` → 403 ``PERMISSION_DENIED``; a wrong key → 400 ``INVALID_ARGUMENT`` with ErrorInfo reason
``API_KEY_INVALID`` (Google answers a bad key with 400); a key in the URL (``?key=``) is refused too, since
KillToken must never send one there. It checks the path (and the model, when given), non-empty ``contents``
with roles ``user``/``model`` only and non-empty ``parts`` holding exactly one data field each, as many
``functionResponse`` parts as the preceding turn had ``functionCall`` parts, and ``systemInstruction`` parts.
It answers a candidate with usage metadata including cached and thought tokens (``DEFAULT_USAGE``);
``function_call`` makes it answer a functionCall part instead of text.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.scripted import ScriptedFake, json_body
from tests.fakes.server import Answer, Recorded

DEFAULT_USAGE: dict[str, Any] = {
    "promptTokenCount": 300,
    "cachedContentTokenCount": 256,
    "candidatesTokenCount": 40,
    "thoughtsTokenCount": 25,
    "totalTokenCount": 365,
}
_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):generateContent$")
_PART_FIELDS = frozenset({"text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
                          "codeExecutionResult"})
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


class GeminiFake(ScriptedFake):
    provider = "gemini"

    def __init__(self, expected_key: str, *, model: str | None = None,
                 function_call: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(expected_key, **kwargs)
        self.model = model
        self.function_call = function_call

    def default_error_type(self, status: int) -> str:
        return _STATUS.get(status, "INTERNAL")

    def error(self, status: int, error_type: str, message: str,
              reason: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"code": status, "message": message, "status": error_type}
        if reason:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                                 "domain": "googleapis.com",
                                 "metadata": {"service": "generativelanguage.googleapis.com"}}]
        return {"error": error}

    def _invalid(self, message: str) -> Answer:
        return 400, {}, self.error(400, "INVALID_ARGUMENT", message)

    def check(self, request: Recorded) -> Answer | None:
        if "key" in parse_qs(request.query):
            return self._invalid("this fake refuses API keys in the URL")
        key = request.headers.get("x-goog-api-key")
        if not key:
            return 403, {}, self.error(403, "PERMISSION_DENIED",
                                       "Method doesn't allow unregistered callers.")
        if key != self.expected_key:
            return 400, {}, self.error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                                       reason="API_KEY_INVALID")
        match = _PATH.match(request.path)
        if request.method != "POST" or not match or (self.model and match.group("model") != self.model):
            return 404, {}, self.error(404, "NOT_FOUND", "models/x is not found for API version v1beta")
        body = json_body(request)
        if not isinstance(body, dict):
            return self._invalid("Invalid JSON payload received.")
        problem = _contents_problem(body.get("contents")) or _system_problem(body.get("systemInstruction"))
        return self._invalid(problem) if problem else None

    def success(self, request: Recorded) -> dict[str, Any]:
        match = _PATH.match(request.path)
        part = {"functionCall": self.function_call} if self.function_call else {"text": self.text}
        return {
            "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": dict(self.usage if self.usage is not None else DEFAULT_USAGE),
            "modelVersion": match.group("model") if match else "unknown",
            "responseId": "fake-response-1",
        }


def _parts_problem(parts: Any) -> str | None:
    if not isinstance(parts, list) or not parts:
        return "parts must be a non-empty list"
    for part in parts:
        fields = [name for name in (part if isinstance(part, dict) else {}) if name in _PART_FIELDS]
        if len(fields) != 1:
            return "each part must hold exactly one data field"
        if fields[0] == "inlineData" and not (part["inlineData"].get("mimeType") and part["inlineData"].get("data")):
            return "inlineData needs mimeType and data"
        if fields[0] == "fileData" and not part["fileData"].get("fileUri"):
            return "fileData needs fileUri"
    return None


def _count(content: Any, field: str) -> int:
    parts = content.get("parts") if isinstance(content, dict) else None
    return sum(1 for p in parts or [] if isinstance(p, dict) and field in p)


def _contents_problem(contents: Any) -> str | None:
    if not isinstance(contents, list) or not contents:
        return "contents is not specified"
    for index, content in enumerate(contents):
        if not isinstance(content, dict) or content.get("role") not in ("user", "model"):
            return "Please use a valid role: user, model."
        problem = _parts_problem(content.get("parts"))
        if problem:
            return problem
        responses = _count(content, "functionResponse")
        if responses and (index == 0 or responses != _count(contents[index - 1], "functionCall")):
            return ("Please ensure that the number of function response parts is equal to the number of "
                    "function call parts of the function call turn.")
    return None


def _system_problem(system: Any) -> str | None:
    if system is None:
        return None
    if not isinstance(system, dict):
        return "systemInstruction must be a Content object"
    return _parts_problem(system.get("parts"))


def gemini_handler(expected_key: str, model: str | None = None, **kwargs: Any) -> GeminiFake:
    """A fake generateContent endpoint (see ``GeminiFake`` and ``ScriptedFake`` for options)."""
    return GeminiFake(expected_key, model=model, **kwargs)
