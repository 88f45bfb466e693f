"""A fake OpenAI-compatible chat server on 127.0.0.1 for testing real model clients offline.

It answers ``POST /v1/chat/completions`` from a script of behaviours per model name (so CJ, the
merchant and a judge can share one server): a normal reply (text, tool calls, usage), an HTTP
error status (429, 500, ...), an empty reply, or a hang (a bounded sleep that ends early when the
server stops). Every request body is recorded. The server runs on daemon threads and is stopped by
the test (``with FakeOpenAIServer() as server: ...``). ``answered`` counts the responses sent, so
a test can tell that a hanging request was still unanswered when the client gave up.

Example:
    >>> with FakeOpenAIServer() as server:  # doctest: +SKIP
    ...     server.script("cj", [Status(429), Reply("Hello", usage=(12, 3))])
    ...     ChatOpenAI(model="cj", base_url=server.base_url, api_key="test").invoke("hi")
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAIServer", "Reply", "Status", "Hang", "EMPTY", "tool_call"]

MAX_HANG_S = 10.0  # a hang never outlives this, even if the client has no timeout


@dataclass(frozen=True)
class Reply:
    """A chat completion: text, tool calls (``tool_call(...)`` dicts) and token usage ``(prompt, completion)``."""

    content: str | None = ""
    tool_calls: Sequence[dict[str, Any]] = ()
    usage: tuple[int, int] | None = (10, 5)


EMPTY = Reply(content="", usage=(10, 0))
"""A reply with no text and no tool calls (what some providers return on a content filter or glitch)."""


@dataclass(frozen=True)
class Status:
    """An HTTP error response with an OpenAI-style error body."""

    code: int
    message: str = "fake server error"


@dataclass(frozen=True)
class Hang:
    """Sleep ``seconds`` (capped at ``MAX_HANG_S``) before answering ``then``, unless the server stops first."""

    seconds: float
    then: Reply | Status = field(default_factory=lambda: Reply("too late"))


Behaviour = Reply | Status | Hang | Callable[[dict[str, Any]], "Reply | Status | Hang"]


def tool_call(name: str, arguments: dict[str, Any] | str, call_id: str = "call_1") -> dict[str, Any]:
    """An OpenAI tool call; a string ``arguments`` is sent as is (so it can be malformed JSON)."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


class FakeOpenAIServer:
    """A scripted ``/v1/chat/completions`` server on an ephemeral 127.0.0.1 port.

    Each model name has a list of behaviours consumed one per request; the last one repeats.
    A model without a script gets ``default``. ``requests`` holds every request body in order.
    """

    def __init__(self, default: Behaviour | None = None) -> None:
        self.default: Behaviour = default or Reply("ok")
        self.requests: list[dict[str, Any]] = []
        self.answered = 0
        self._scripts: dict[str, list[Behaviour]] = {}
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        """The OpenAI base URL of this server (``http://127.0.0.1:PORT/v1``)."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def script(self, model: str, behaviours: Sequence[Behaviour]) -> None:
        """What requests for ``model`` get, in order (the last behaviour repeats)."""
        with self._lock:
            self._scripts[model] = list(behaviours)
            self._served[model] = 0

    def requests_for(self, model: str) -> list[dict[str, Any]]:
        """The request bodies sent for ``model``."""
        with self._lock:
            return [r for r in self.requests if r.get("model") == model]

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving; hanging requests end at once."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ serving

    def _next(self, body: dict[str, Any]) -> Reply | Status | Hang:
        model = str(body.get("model"))
        with self._lock:
            self.requests.append(body)
            script = self._scripts.get(model)
            if not script:
                behaviour = self.default
            else:
                served = self._served[model]
                self._served[model] = served + 1
                behaviour = script[min(served, len(script) - 1)]
        return behaviour(body) if callable(behaviour) else behaviour

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                behaviour = server._next(body)
                if isinstance(behaviour, Hang):
                    if server._stopping.wait(min(behaviour.seconds, MAX_HANG_S)):
                        return
                    behaviour = behaviour.then
                if isinstance(behaviour, Status):
                    kind = "rate_limit_exceeded" if behaviour.code == 429 else "server_error"
                    self._send(behaviour.code, {"error": {"message": behaviour.message, "type": kind, "code": kind}})
                else:
                    self._send(200, _completion(body, behaviour))

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    with server._lock:
                        server.answered += 1
                except OSError:  # the client gave up (timeout) and closed the connection
                    pass

        return Handler


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = list(reply.tool_calls)
    out: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "fake"),
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}
        ],
    }
    if reply.usage is not None:
        prompt, completion = reply.usage
        out["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    return out
