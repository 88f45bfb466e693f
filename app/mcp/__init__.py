"""CJ's capabilities served to any Model Context Protocol client (``cjsim mcp serve``, docs/mcp.md)."""

from app.mcp.server import APPROVE_ARGUMENT, build_server, call, http_app, mcp_tools, serve_http, serve_stdio

__all__ = ["APPROVE_ARGUMENT", "build_server", "call", "mcp_tools", "serve_stdio", "http_app", "serve_http"]
