"""``cjsim mcp serve`` and ``cjsim mcp keys``: CJ's views and actions for any Model Context Protocol
client, and the API keys its HTTP transport requires (docs/mcp.md)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from app.cli.common import OpsUrlOpt, console, err_console
from app.cli.source import Source, with_source
from app.errors import InvalidArgumentError

if TYPE_CHECKING:
    from app.storage.ops import OpsStore

mcp_app = typer.Typer(no_args_is_help=True, help="Serve CJ's data views and actions over the Model Context Protocol.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys of the HTTP transport (stored hashed in the operations store).")
mcp_app.add_typer(keys_app, name="keys")

_CREATE_HINT = "cjsim mcp keys create --name NAME --ops-url URL"


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
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="With --http: accept requests without an API key (local development only)."),
    ] = False,
) -> None:
    """Serve every view and action as an MCP tool, over stdio (default) or streamable HTTP at http://127.0.0.1:PORT/mcp.

    A generated world (--scenario/--merchant/--seed) or a database (--db-url, with --ops-url for
    the operations store actions write to). Actions that need approval take approve: true. Over
    --http every request needs an API key of the --ops-url store (cjsim mcp keys create).
    """
    from app.mcp import serve_http, serve_stdio

    if no_auth and not http:
        raise InvalidArgumentError("--no-auth only applies to --http (stdio never takes keys)")
    keys = _key_store(source.ops_url) if http and not no_auth else None
    data = source.open(provider)
    if not http:
        serve_stdio(data)  # stdout is the protocol's: nothing else may be printed there
        return
    if no_auth:
        err_console.print("[bold yellow]warning:[/] --no-auth: anyone who can reach the port can call every tool, "
                          "actions included; use it for local development only", highlight=False)  # fmt: skip
    err_console.print(f"cjsim MCP server: http://127.0.0.1:{port}/mcp (Ctrl-C stops it)", highlight=False)
    serve_http(data, port, keys=keys)


def _key_store(ops_url: str | None) -> OpsStore:
    """The store of the HTTP server's keys; refuses to serve without one holding an active key."""
    from app.mcp.keys import utc_now
    from app.storage.ops import OpsStore
    from app.storage.ops_keys import key_rows

    if not ops_url:
        raise InvalidArgumentError(
            "--http needs API keys: create one with `" + _CREATE_HINT + "` and pass the same --ops-url "
            "(or set CJSIM_OPS_URL); for local development only, --no-auth serves without keys"
        )
    store = OpsStore.from_url(ops_url)
    now = utc_now()
    if not any(row.state(now) == "active" for row in key_rows(store)):
        raise InvalidArgumentError(
            f"the operations store {store.display} holds no active API key; create one with `{_CREATE_HINT}`"
        )
    return store


def _open(ops_url: str | None, command: str) -> OpsStore:
    from app.storage.ops import OpsStore

    if not ops_url:
        raise InvalidArgumentError(f"cjsim mcp keys {command} needs the operations store: pass --ops-url URL or set CJSIM_OPS_URL")
    return OpsStore.from_url(ops_url)


def _when(value: object) -> str:
    return "-" if value is None else str(value)[:16]


@keys_app.command("create")
def create_cmd(
    name: Annotated[str, typer.Option("--name", help="Who or what the key is for.")],
    ops_url: OpsUrlOpt = None,
    allow: Annotated[
        str, typer.Option("--allow", help="Comma-separated operations: views, actions and/or tool names.")
    ] = "views",
    rate_limit: Annotated[int, typer.Option("--rate-limit", help="Requests per minute.")] = 60,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime like 30d, 12h or 45m (default: never expires).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the key and its details as JSON.")] = False,
) -> None:
    """Create an API key and print it once: only its hash is stored, so copy it now."""
    from app.mcp.keys import create_key

    store = _open(ops_url, "create")
    created = create_key(store, name=name, allow=allow, rate_limit=rate_limit, expires_in=expires_in)
    row = created.row
    if as_json:
        typer.echo(json.dumps({"key": created.key, "prefix": row.prefix, "name": row.name,
                               "allowed_operations": list(row.allowed_operations), "rate_limit": row.rate_limit,
                               "expires_at": row.expires_at.isoformat() if row.expires_at else None}, indent=2))  # fmt: skip
        return
    typer.echo(created.key)
    err_console.print(
        f"API key {row.prefix} ({row.name}): allows {', '.join(row.allowed_operations)}, {row.rate_limit} requests "
        f"per minute, expires {_when(row.expires_at) if row.expires_at else 'never'}. This is the only time the key "
        "is shown; send it as 'Authorization: Bearer <key>'.", highlight=False,
    )  # fmt: skip


@keys_app.command("list")
def list_cmd(
    ops_url: OpsUrlOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the keys as JSON.")] = False,
) -> None:
    """The keys of the operations store (never the keys themselves: prefix, name, scope, limit, state)."""
    from app.mcp.keys import list_keys, utc_now

    rows = list_keys(_open(ops_url, "list"))
    now = utc_now()
    if as_json:
        typer.echo(json.dumps([{"prefix": r.prefix, "name": r.name, "allowed_operations": list(r.allowed_operations),
                                "rate_limit": r.rate_limit, "state": r.state(now), "created_at": _when(r.created_at),
                                "expires_at": _when(r.expires_at), "last_used_at": _when(r.last_used_at),
                                "requests": r.request_count} for r in rows], indent=2))  # fmt: skip
        return
    if not rows:
        err_console.print(f"no API keys yet; create one with `{_CREATE_HINT}`", highlight=False)
        return
    table = Table()
    for col in ("prefix", "name", "allows", "per min", "state", "expires", "last used", "requests"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r.prefix, r.name, ", ".join(r.allowed_operations), str(r.rate_limit), r.state(now),
                      _when(r.expires_at), _when(r.last_used_at), str(r.request_count))  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
def revoke_cmd(
    prefix: Annotated[str, typer.Argument(help="The key's prefix, as cjsim mcp keys list shows it (cjk_...).")],
    ops_url: OpsUrlOpt = None,
) -> None:
    """Revoke a key: requests with it get HTTP 401 from then on (the row stays, for the audit trail)."""
    from app.mcp.keys import revoke

    row = revoke(_open(ops_url, "revoke"), prefix)
    err_console.print(f"API key {row.prefix} ({row.name}) is revoked", highlight=False)
