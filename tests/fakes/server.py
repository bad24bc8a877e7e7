"""A tiny threaded HTTP server that plays a provider in tests.

Each fake provider module gives a ``handler(request: Recorded) -> (status, headers, body)`` that checks the
request the way the real service would (auth header, required fields) and answers. The server records every
request it received so tests can assert exact headers and bodies sent upstream.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Recorded:
    method: str
    path: str            # path without query
    query: str           # raw query string
    raw_path: str        # path exactly as sent on the request line (percent-encoding kept)
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


Answer = tuple[int, dict[str, str], Any]  # body: dict/list → JSON, bytes/str → as is
Handler = Callable[[Recorded], Answer]


@dataclass
class FakeServer:
    handler: Handler
    requests: list[Recorded] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # one write per answer (flushed by the server), never headers and body apart
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                from urllib.parse import unquote

                recorded = Recorded(
                    method=self.command,
                    path=unquote(parts.path),
                    query=parts.query,
                    raw_path=parts.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                fake.requests.append(recorded)
                try:
                    status, headers, payload = fake.handler(recorded)
                except Exception as exc:  # a fake's bug should show up as a 500 with its reason
                    status, headers, payload = 500, {}, {"fake_error": repr(exc)}
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                    headers = {"content-type": "application/json", **headers}
                elif isinstance(payload, str):
                    data = payload.encode()
                else:
                    data = payload or b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self) -> None:
        self.requests.clear()
