"""A webhook receiver on 127.0.0.1 for delivery tests: fails, hangs or refuses as told.

It records every request and executes a payload at most once per ``Idempotency-Key`` (what a
well-behaved receiver does), so a test can tell retried POSTs from double execution.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookServer:
    """``fail_first`` requests answer ``fail_status`` (or hang ``hang_s`` seconds), the rest 200.

    Use as a context manager; ``url`` is where it listens; ``requests`` and ``executed`` are what it saw.
    """

    def __init__(self, *, fail_first: int = 0, fail_status: int = 503, hang_s: float = 0.0) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.hang_s = hang_s
        self.requests: list[dict[str, Any]] = []
        self.executed: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                key = self.headers.get("Idempotency-Key", "")
                with owner._lock:
                    owner.requests.append({"key": key, "body": body})
                    n = len(owner.requests)
                if n <= owner.fail_first:
                    if owner.hang_s:
                        time.sleep(owner.hang_s)
                        return  # the client gave up long ago
                    self.send_response(owner.fail_status)
                    self.end_headers()
                    return
                with owner._lock:
                    owner.executed.setdefault(key, body)  # a known key is acknowledged, never run again
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"accepted": true}')

        return Handler
