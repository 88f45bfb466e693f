"""``cjsim mcp serve``: CJ's views and actions for any Model Context Protocol client (docs/mcp.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import (
    AllowWritableOpt,
    DbUrlOpt,
    MerchantOpt,
    OpsUrlOpt,
    ScenarioOpt,
    SeedOpt,
    build_provider,
    err_console,
    load_catalog,
)

mcp_app = typer.Typer(no_args_is_help=True, help="Serve CJ's data views and actions over the Model Context Protocol.")


@mcp_app.command("serve")
def serve_cmd(
    scenario: ScenarioOpt = "growth_stall",
    merchant: MerchantOpt = "marcus_thompson",
    seed: SeedOpt = 0,
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider",
            envvar="CJSIM_PROVIDER",
            help="data_agent (a generated world) or production (the database at --db-url; the default when one is given).",
        ),
    ] = None,
    db_url: DbUrlOpt = None,
    ops_url: OpsUrlOpt = None,
    allow_writable_user: AllowWritableOpt = False,
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP on 127.0.0.1 instead of stdio.")] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of --http.")] = 8765,
) -> None:
    """Serve every view and action as an MCP tool, over stdio (default) or streamable HTTP at http://127.0.0.1:PORT/mcp.

    A generated world (--scenario/--merchant/--seed) or a database (--db-url, with --ops-url for
    the operations store actions write to). Actions that need approval take approve: true.
    """
    from app.mcp import serve_http, serve_stdio

    data = build_provider(
        provider or ("production" if db_url else "data_agent"), db_url, scenario, merchant, seed, None, None, ops_url,
        allow_writable_user=allow_writable_user, catalog=load_catalog(),
    )  # fmt: skip
    if http:
        err_console.print(f"cjsim MCP server: http://127.0.0.1:{port}/mcp (Ctrl-C stops it)", highlight=False)
        serve_http(data, port)
    else:
        serve_stdio(data)  # stdout is the protocol's: nothing else may be printed there
