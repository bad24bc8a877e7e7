"""The common machinery of the fake providers: checks, canned answers and scripted failures.

A fake is a callable handler for ``tests.fakes.server.FakeServer``. Each provider module subclasses
``ScriptedFake`` with the provider's own request checks, success body and error shape. Tests drive it with:

- ``fake.requests``: every request this handler received (``Recorded``: method, path, query, headers, body);
- ``fake.text`` / ``fake.usage`` / ``fake.reply_body``: what a success answers (``reply_body`` replaces it all);
- ``fake.fail_next(status, error_type)``: the next answer is an error in the provider's own shape;
- ``fake.rate_limit_next(retry_after="7")``: the next answer is a 429 with ``retry-after``;
- ``fake.server_error_next(status=500)``, ``fake.malformed_next(body=b"...")``: a 5xx, or a 200 that is not JSON;
- ``fake.slow_next(seconds)``: the next answer waits first (for read timeouts);
- ``fake.answer_next(status, body, headers)``: any raw answer.

Scripted answers are consumed in order, one per accepted request; the request checks run first, so a request
the real service would refuse is still refused (and does not use up a scripted answer).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from tests.fakes.server import Answer, FakeServer, Recorded


class ScriptedFake:
    """Base class: subclasses implement ``check``, ``success`` and ``error``."""

    provider = "fake"

    def __init__(self, expected_key: str, *, text: str = "Hello from the fake.",
                 usage: dict[str, Any] | None = None, reply_body: Any = None) -> None:
        self.expected_key = expected_key
        self.text = text
        self.usage = usage
        self.reply_body = reply_body
        self.requests: list[Recorded] = []
        self._script: deque[Callable[[Recorded], Answer | None]] = deque()
        self._lock = threading.Lock()

    # -- what subclasses provide -------------------------------------------------------------------------
    def check(self, request: Recorded) -> Answer | None:
        """The real service's refusals (auth, required fields) as an answer, or None when the request is fine."""
        raise NotImplementedError

    def success(self, request: Recorded) -> dict[str, Any]:
        """A realistic 200 body for an accepted request."""
        raise NotImplementedError

    def error(self, status: int, error_type: str, message: str) -> dict[str, Any]:
        """An error body in the provider's own shape."""
        raise NotImplementedError

    def default_error_type(self, status: int) -> str:
        return {401: "authentication_error", 429: "rate_limit_error"}.get(status, "api_error")

    # -- scripting ---------------------------------------------------------------------------------------
    def answer_next(self, status: int, body: Any, headers: dict[str, str] | None = None) -> ScriptedFake:
        self._push(lambda _request: (status, dict(headers or {}), body))
        return self

    def fail_next(self, status: int, error_type: str | None = None,
                  headers: dict[str, str] | None = None, message: str = "scripted failure") -> ScriptedFake:
        kind = error_type or self.default_error_type(status)
        return self.answer_next(status, self.error(status, kind, message), headers)

    def rate_limit_next(self, retry_after: str = "7", error_type: str | None = None) -> ScriptedFake:
        return self.fail_next(429, error_type, {"retry-after": retry_after}, "rate limited")

    def server_error_next(self, status: int = 500, error_type: str | None = None) -> ScriptedFake:
        return self.fail_next(status, error_type, message="internal error")

    def malformed_next(self, body: bytes = b"<html>oops</html>", status: int = 200) -> ScriptedFake:
        return self.answer_next(status, body, {"content-type": "text/html"})

    def slow_next(self, seconds: float) -> ScriptedFake:
        def wait(_request: Recorded) -> None:
            time.sleep(seconds)
            return None  # then answer normally
        self._push(wait)
        return self

    def _push(self, step: Callable[[Recorded], Answer | None]) -> None:
        with self._lock:
            self._script.append(step)

    # -- the handler -------------------------------------------------------------------------------------
    def __call__(self, request: Recorded) -> Answer:
        with self._lock:
            self.requests.append(request)
        refusal = self.check(request)
        if refusal is not None:
            return refusal
        with self._lock:
            step = self._script.popleft() if self._script else None
        if step is not None:
            scripted = step(request)
            if scripted is not None:
                return scripted
        if self.reply_body is not None:
            return 200, {}, self.reply_body
        return 200, {}, self.success(request)

    @property
    def last(self) -> Recorded:
        """The most recent request (fails loudly when there was none)."""
        assert self.requests, f"the {self.provider} fake received no request"
        return self.requests[-1]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()

    def serve(self) -> FakeServer:
        """Start a FakeServer around this handler (call ``.stop()`` when done)."""
        return FakeServer(self).start()


def json_body(request: Recorded) -> Any:
    """The request's JSON body, or None when it is not JSON."""
    try:
        return request.json()
    except ValueError:
        return None
