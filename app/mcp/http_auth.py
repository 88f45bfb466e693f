"""API-key checks of the MCP HTTP transport: an ASGI middleware and the per-tool gate.

:class:`ApiKeyMiddleware` wraps the SDK's streamable HTTP app. Every HTTP request must carry
``Authorization: Bearer <key>`` naming an active key of the operations store; otherwise the
answer is 401 with a JSON body ``{"error": "invalid_token", "error_description": ...}``. A key
over its rate limit gets 429 with ``Retry-After``. The key's row travels to the MCP handlers in
the ASGI scope (:func:`caller_key`), where :func:`refuse_outside_scope` refuses, as an MCP tool
error, a tool the key may not call, and audits the refusal.

Why not the SDK's own auth (``token_verifier`` + ``AuthSettings``): it is built for OAuth (an
issuer URL is required), answers every bad token with the same "Authentication required", and
has no rate limit; a static key needs a clear 401 saying missing, unknown, expired or revoked,
and a 429.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import CJSimError
from app.mcp.keys import KeyRefused, RateLimiter, allows, authenticate, utc_now
from app.storage.ops import OpsStore
from app.storage.ops_keys import ApiKeyRow, record_use
from app.views import DataProvider, tool_names

__all__ = ["SCOPE_KEY", "ApiKeyMiddleware", "caller_key", "refuse_outside_scope"]

SCOPE_KEY = "cjsim.api_key"
"""Where the middleware leaves the caller's :class:`~app.storage.ops_keys.ApiKeyRow` in the ASGI scope."""


async def _send_json(send: Send, status: int, body: dict[str, str], headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": data})


def _bearer(scope: Scope) -> str | None:
    header = Headers(scope=scope).get("authorization", "")
    scheme, _, token = header.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


class ApiKeyMiddleware:
    """ASGI middleware: 401 without an active key, 429 over the key's rate limit, else the wrapped app.

    Args:
        app: the wrapped ASGI app (the SDK's streamable HTTP app).
        store: the operations store holding ``ops_api_keys``.
        limiter: the per-key rate limiter (its clock is injectable).
        now: the wall clock for expiry and ``last_used_at``, naive UTC (injectable for tests).
        usage_every: seconds between two writes of a key's usage; the requests in between are
            counted in memory and written with the next one, or by :meth:`flush`.
    """

    def __init__(
        self,
        app: ASGIApp,
        store: OpsStore,
        limiter: RateLimiter | None = None,
        now: Callable[[], dt.datetime] = utc_now,
        usage_every: float = 1.0,
    ) -> None:
        self.app = app
        self.store = store
        self.limiter = limiter or RateLimiter()
        self.now = now
        self.usage_every = dt.timedelta(seconds=usage_every)
        # A commit per request would cost more than the rest of the check (SQLite syncs each one):
        # usage is written at most every ``usage_every`` per key. key_id -> (requests not written, last)
        self._pending: dict[int, tuple[int, dt.datetime]] = {}
        self._written: dict[int, dt.datetime] = {}

    def _note_use(self, key_id: int, at: dt.datetime) -> tuple[int, dt.datetime] | None:
        """Count one request; the usage to write now, if it is time to."""
        count, _ = self._pending.get(key_id, (0, at))
        self._pending[key_id] = (count + 1, at)
        last = self._written.get(key_id)
        if last is not None and at - last < self.usage_every:
            return None
        self._written[key_id] = at
        return self._pending.pop(key_id)

    def flush(self) -> None:
        """Write the usage counted in memory (the server calls it when it stops)."""
        pending, self._pending = self._pending, {}
        for key_id, (count, at) in pending.items():
            record_use(self.store, key_id, at, count)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: the SDK's session manager starts and stops here
            await self.app(scope, receive, send)
            return
        at = self.now()
        try:
            row = await anyio.to_thread.run_sync(authenticate, self.store, _bearer(scope), at)
        except KeyRefused as exc:
            challenge = f'Bearer error="invalid_token", error_description="{exc}"'.encode()
            await _send_json(send, 401, {"error": "invalid_token", "error_description": str(exc)},
                             [(b"www-authenticate", challenge)])  # fmt: skip
            return
        except CJSimError as exc:  # the store went away: not the caller's fault
            await _send_json(send, 503, {"error": "unavailable", "error_description": str(exc)}, [])
            return
        wait = self.limiter.acquire(row.prefix, row.rate_limit)
        if wait:
            message = (f"API key {row.prefix} is over its limit of {row.rate_limit} requests per minute; "
                       f"retry after {wait} s")  # fmt: skip
            await _send_json(send, 429, {"error": "rate_limited", "error_description": message},
                             [(b"retry-after", str(wait).encode())])  # fmt: skip
            return
        use = self._note_use(row.key_id, at)
        if use is not None:
            await anyio.to_thread.run_sync(record_use, self.store, row.key_id, use[1], use[0])
        await self.app({**scope, SCOPE_KEY: row}, receive, send)


def caller_key(ctx: Any) -> ApiKeyRow | None:
    """The key of the HTTP request behind an MCP handler's context; ``None`` over stdio or without keys."""
    request = getattr(ctx, "request", None)
    scope = getattr(request, "scope", None)
    key = scope.get(SCOPE_KEY) if isinstance(scope, dict) else None
    return key if isinstance(key, ApiKeyRow) else None


def refuse_outside_scope(
    store: OpsStore, provider: DataProvider, key: ApiKeyRow, tool: str, arguments: dict[str, Any] | None
) -> str | None:
    """The refusal message when ``key`` may not call ``tool`` (audited as ``declined``), else ``None``.

    An unknown tool is left to the server, which answers with the list of valid tools.
    """
    if tool not in tool_names() or allows(key, tool):
        return None
    message = (f"API key {key.prefix} ({key.name}) may not call {tool!r}; it allows "
               f"{', '.join(key.allowed_operations)}. Nothing was done; create a key that allows it")  # fmt: skip
    with store.transaction() as conn:
        store.write_audit(
            conn, action=tool, day=provider.default_as_of(), idempotency_key="", arguments=arguments or {},
            status="declined", approval="declined", actor=f"mcp:{key.prefix}", conversation=None,
            requested_at=provider.action_clock() or utc_now(), error=message, duration_ms=0,
        )  # fmt: skip
    return message
