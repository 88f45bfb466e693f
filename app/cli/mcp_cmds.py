"""``cjsim mcp serve``: CJ's views and actions for any Model Context Protocol client (docs/mcp.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import err_console
from app.cli.source import Source, with_source

mcp_app = typer.Typer(no_args_is_help=True, help="Serve CJ's data views and actions over the Model Context Protocol.")


@mcp_app.command("serve")
@with_source(scenario="growth_stall", merchant="marcus_thompson")
def serve_cmd(
    source: Source,
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider",
            envvar="CJSIM_PROVIDER",
            help="data_agent (a generated world) or production (the database at --db-url; the default when one is given).",
        ),
    ] = None,
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP on 127.0.0.1 instead of stdio.")] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of --http.")] = 8765,
) -> None:
    """Serve every view and action as an MCP tool, over stdio (default) or streamable HTTP at http://127.0.0.1:PORT/mcp.

    A generated world (--scenario/--merchant/--seed) or a database (--db-url, with --ops-url for
    the operations store actions write to). Actions that need approval take approve: true.
    """
    from app.mcp import serve_http, serve_stdio

    data = source.open(provider)
    if http:
        err_console.print(f"cjsim MCP server: http://127.0.0.1:{port}/mcp (Ctrl-C stops it)", highlight=False)
        serve_http(data, port)
    else:
        serve_stdio(data)  # stdout is the protocol's: nothing else may be printed there
