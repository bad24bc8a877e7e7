"""A fake chat.completions server (OpenAI and the OpenAI-compatible family).

``openai_handler(expected_key, path=..., ...)`` checks ``Authorization: Bearer <key>`` (401 ``invalid_api_key``
in OpenAI's error shape otherwise), the path, a string ``model``, non-empty ``messages`` with known roles
(``tool`` messages need ``tool_call_id``), and, when ``allowed_fields`` is given, refuses any other body field
the way OpenAI refuses an unrecognized argument. It answers a chat.completion whose usage carries cached and
reasoning details (``DEFAULT_USAGE``), or the ``usage`` block you give (e.g. DeepSeek's or xAI's shape).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.scripted import ScriptedFake, json_body
from tests.fakes.server import Answer, Recorded

DEFAULT_USAGE: dict[str, Any] = {
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 10, "audio_tokens": 0},
}
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


class OpenAIFake(ScriptedFake):
    """chat.completions as OpenAI validates it."""

    provider = "openai"

    def __init__(self, expected_key: str, *, path: str = "/v1/chat/completions",
                 allowed_fields: set[str] | None = None, roles: frozenset[str] = ROLES,
                 tool_calls: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(expected_key, **kwargs)
        self.path = path
        self.allowed_fields = allowed_fields
        self.roles = roles
        self.tool_calls = tool_calls

    def default_error_type(self, status: int) -> str:
        return {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status, "server_error")

    def error(self, status: int, error_type: str, message: str) -> dict[str, Any]:
        kind = "invalid_request_error" if status < 500 else "server_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": error_type}}

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.expected_key}"

    def model_of(self, body: dict[str, Any]) -> Any:
        return body.get("model")

    def check(self, request: Recorded) -> Answer | None:
        if not self.authorized(request):
            return 401, {}, self.error(401, "invalid_api_key", "Incorrect API key provided.")
        if request.method != "POST" or request.path != self.path:
            return 404, {}, self.error(404, "unknown_url", "Unknown request URL.")
        body = json_body(request)
        if not isinstance(body, dict):
            return 400, {}, self.error(400, "invalid_json", "We could not parse the JSON body of your request.")
        if not isinstance(self.model_of(body), str) or not self.model_of(body):
            return 400, {}, self.error(400, "missing_required_parameter", "you must provide a model parameter")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return 400, {}, self.error(400, "invalid_value", "'messages' must be a non-empty array")
        for message in messages:
            role = message.get("role") if isinstance(message, dict) else None
            if role not in self.roles:
                return 400, {}, self.error(400, "invalid_value", "Invalid value for 'messages[].role'.")
            if role == "tool" and not message.get("tool_call_id"):
                return 400, {}, self.error(400, "missing_required_parameter", "tool_call_id is required")
        if self.allowed_fields is not None:
            for name in body:
                if name not in self.allowed_fields | {"model", "messages"}:
                    return 400, {}, self.error(400, "unknown_parameter", "Unrecognized request argument.")
        return None

    def success(self, request: Recorded) -> dict[str, Any]:
        body = request.json()
        message: dict[str, Any] = {"role": "assistant", "content": self.text, "refusal": None}
        finish = "stop"
        if self.tool_calls:
            message = {"role": "assistant", "content": None, "tool_calls": self.tool_calls}
            finish = "tool_calls"
        return {
            "id": "chatcmpl-fake123",
            "object": "chat.completion",
            "created": 1764720000,
            "model": self.model_of(body),
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": dict(self.usage if self.usage is not None else DEFAULT_USAGE),
            "system_fingerprint": "fp_fake",
        }


def openai_handler(expected_key: str, path: str = "/v1/chat/completions", **kwargs: Any) -> OpenAIFake:
    """A fake chat.completions provider at ``path`` (see ``OpenAIFake`` and ``ScriptedFake`` for options)."""
    return OpenAIFake(expected_key, path=path, **kwargs)
