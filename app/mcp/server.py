"""The MCP server: every registered view and action as an MCP tool, over stdio or streamable HTTP.

Tools are derived from the registry (:mod:`app.views.registry`), so a capability registered in
:mod:`app.views` is served with no change here: the tool name, the description and its usage
guidance, and the input schema of its argument model. A call runs the way a tool call in a
conversation runs (:func:`app.tools.call_tool`): views read the provider; actions go through
:func:`~app.views.actions.execute_action` (audit row, idempotency) on the provider's operations store.

Over MCP nobody stands between the client and an action, so an action that needs approval takes
one more argument, ``approve``; without ``approve: true`` the call is refused, and the refusal is
audited as a declined action. Over HTTP every request needs an API key (:mod:`app.mcp.keys`), which
also limits the tools a caller may use (:mod:`app.mcp.http_auth`). Every mistake (unknown tool, bad argument, refused or failed action)
comes back as an MCP tool error whose text is the product's one-line message.

Example:
    >>> from app.providers.data_agent import DataAgent
    >>> result = call(DataAgent.create("growth_stall", "marcus_thompson"), "get_ticket_metrics", {"time_range": "7d"})
    >>> result.is_error, result.structured_content["time_range"]
    (False, '7d')
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from starlette.types import ASGIApp

from app.errors import ActionDeclinedError, CJSimError, InvalidArgumentError
from app.mcp.http_auth import ApiKeyMiddleware, caller_key, refuse_outside_scope
from app.mcp.keys import RateLimiter, allows
from app.storage.ops import OpsStore
from app.storage.ops_keys import ApiKeyRow
from app.views import ACTIONS, VIEWS, ActionSpec, DataProvider, by_tool
from app.views.actions import Approval
from app.views.registry import CapabilitySpec

__all__ = ["APPROVE_ARGUMENT", "SERVER_NAME", "mcp_tools", "call", "build_server", "serve_stdio", "http_app", "serve_http"]

SERVER_NAME = "cjsim"
APPROVE_ARGUMENT = "approve"
"""The extra argument of approval-needing actions over MCP: ``true`` once the merchant agreed."""

_APPROVE_SCHEMA = {
    "type": "boolean",
    "default": False,
    "description": "Set to true only after the merchant approved this action; without it nothing is done.",
}


def _needs_approval(spec: CapabilitySpec[Any, Any]) -> bool:
    return isinstance(spec, ActionSpec) and spec.requires_approval


def _tool(spec: CapabilitySpec[Any, Any]) -> types.Tool:
    schema = copy.deepcopy(spec.input_schema())
    description = spec.tool_description
    if _needs_approval(spec):
        schema.setdefault("properties", {})[APPROVE_ARGUMENT] = _APPROVE_SCHEMA
        description += f" Needs the merchant's approval: pass {APPROVE_ARGUMENT}: true once they agreed."
    return types.Tool(name=spec.tool, description=description, input_schema=schema)


def mcp_tools() -> list[types.Tool]:
    """The MCP tool of every registered view, then every action (registry order)."""
    return [_tool(spec) for spec in (*VIEWS.values(), *ACTIONS.values())]


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def call(provider: DataProvider, name: str, arguments: dict[str, Any] | None, actor: str = "mcp") -> types.CallToolResult:
    """Run one MCP tool call on ``provider``: the result's text and JSON, or a tool error with the message.

    ``actor`` is recorded in the audit rows of actions (``mcp:<key prefix>`` for a call with an API key).
    """
    from app.tools import call_tool

    try:
        spec = by_tool(name)
        args = dict(arguments or {})
        approval: Approval | None = None
        if _needs_approval(spec):
            approve = args.pop(APPROVE_ARGUMENT, False)
            if not isinstance(approve, bool):
                raise InvalidArgumentError(f"{APPROVE_ARGUMENT} must be true or false, got {approve!r}")
            approval = "approved" if approve else None
        text, data = call_tool(provider, name, args, approval=approval, actor=actor)
    except ActionDeclinedError as exc:
        return _error(f"{exc}. Ask the merchant; call again with {APPROVE_ARGUMENT}: true only if they approve.")
    except CJSimError as exc:
        return _error(str(exc))
    except Exception as exc:  # a bug must not end the session: the client sees what broke
        return _error(f"the tool failed ({type(exc).__name__}: {exc})")
    body = json.dumps(data, indent=2, sort_keys=True, default=str)
    return types.CallToolResult(
        content=[types.TextContent(text=text), types.TextContent(text=body)], structured_content=data
    )


def build_server(provider: DataProvider, keys: OpsStore | None = None) -> Server[Any]:
    """An MCP server exposing the registry's tools over ``provider`` (one call at a time).

    With ``keys`` (the operations store of the API keys, see :mod:`app.mcp.http_auth`), a request
    that came with a key lists only the tools the key allows, and a call outside them is refused
    and audited in ``keys``.
    """
    tools = mcp_tools()
    lock = threading.Lock()  # the provider's connections are not shared between concurrent calls

    async def list_tools(ctx: Any, _params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        key = caller_key(ctx)
        return types.ListToolsResult(tools=[t for t in tools if key is None or allows(key, t.name)])

    def locked_call(name: str, arguments: dict[str, Any] | None, key: ApiKeyRow | None) -> types.CallToolResult:
        with lock:
            if key is not None and keys is not None:
                refused = refuse_outside_scope(keys, provider, key, name, arguments)
                if refused:
                    return _error(refused)
            return call(provider, name, arguments, actor=f"mcp:{key.prefix}" if key else "mcp")

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await anyio.to_thread.run_sync(locked_call, params.name, params.arguments, caller_key(ctx))

    return Server(
        SERVER_NAME,
        instructions="CJ's data views and actions over one merchant's business. Views read; actions write an "
        "audit row and run once per day and arguments; actions marked as needing approval run only with approve: true.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def serve_stdio(provider: DataProvider) -> None:
    """Serve over the process's stdin and stdout until the client closes them (no keys: a local process)."""
    server = build_server(provider)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


def http_app(provider: DataProvider, keys: OpsStore | None, host: str = "127.0.0.1", limiter: RateLimiter | None = None) -> ASGIApp:
    """The ASGI app of the HTTP transport: the SDK's streamable HTTP app at ``/mcp``, behind
    :class:`~app.mcp.http_auth.ApiKeyMiddleware` when ``keys`` is given (``None``: no authentication)."""
    app: ASGIApp = build_server(provider, keys).streamable_http_app(host=host)
    return ApiKeyMiddleware(app, keys, limiter) if keys is not None else app


def serve_http(provider: DataProvider, port: int, host: str = "127.0.0.1", keys: OpsStore | None = None) -> None:
    """Serve streamable HTTP at ``http://host:port/mcp`` (local only: DNS-rebinding protection on),
    requiring an API key of ``keys`` on every request unless ``keys`` is ``None``."""
    import uvicorn

    app = http_app(provider, keys, host)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if isinstance(app, ApiKeyMiddleware):
            app.flush()
