"""An instant OpenAI-style upstream for benchmarks: gevent WSGI, canned chat.completion, no checks."""

from __future__ import annotations

import json
import sys

from gevent import monkey

monkey.patch_all()

import socket  # noqa: E402

from gevent.pywsgi import WSGIHandler, WSGIServer  # noqa: E402

BODY = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1764720000, "model": "gpt-4.1-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13},
}).encode()


def app(environ, start_response):  # noqa: ANN001, ANN201 - WSGI signature
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", [("content-type", "application/json"), ("content-length", str(len(BODY)))])
    return [BODY]


class NoDelayHandler(WSGIHandler):
    """Disable Nagle so a small response is never held back waiting for the client's delayed ACK."""

    def handle(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()


if __name__ == "__main__":
    WSGIServer(("127.0.0.1", int(sys.argv[1])), app, log=None, handler_class=NoDelayHandler).serve_forever()
