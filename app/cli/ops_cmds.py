"""``cjsim ops``: retention operations at a date over a generated world or a database.

``alert``, ``context`` and ``brief`` answer views; ``queue`` and ``export`` run the audited actions
(writing to ``--ops-url``, else a generated world's embedded store, which is gone when the command
ends). Without ``--db-url`` the data is the generated world of ``--scenario/--merchant/--seed``; with
it, the database. Each command is one registered capability, so more commands join the same group.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel

from app.cli.common import console, describe_provider
from app.cli.options import parse_date
from app.cli.source import Source, with_source
from app.errors import InvalidArgumentError
from app.views import DataProvider

__all__ = ["ops_app", "run_date", "show"]

ops_app = typer.Typer(
    no_args_is_help=True,
    help="Retention operations at a date: alert decision, context, priority queue, brief, audience export.",
)

DateOpt = Annotated[str | None, typer.Option("--date", help="The day, YYYY-MM-DD (default: the data's current day).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def run_date(provider: DataProvider, text: str | None) -> dt.date | None:
    """The ``--date`` asked for, refused before anything runs when the data does not cover it."""
    day = parse_date(text, "--date")
    if day is None:
        return None
    latest = provider.default_as_of()
    if day > latest:
        raise InvalidArgumentError(
            f"--date {day} is after the data's current day {latest}; choose a date on or before it"
        )
    provider.check_as_of(day, label="--date")
    return day


def _args(day: dt.date | None, **more: Any) -> dict[str, Any]:
    return {**({"date": day.isoformat()} if day else {}), **{k: v for k, v in more.items() if v is not None}}


def show(provider: DataProvider, title: str, text: str, payload: dict[str, Any], as_json: bool) -> None:
    """Print a result: its JSON, or its text in a panel titled with the data's description."""
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
    else:
        console.print(
            Panel(
                escape(text), title=escape(f"{title} - {describe_provider(provider)}"), title_align="left", expand=False
            )
        )


def _view(name: str, provider: DataProvider, args: dict[str, Any], as_json: bool) -> None:
    result = provider.get_view(name, **args)
    show(provider, name, result.to_text(), result.to_json(), as_json)


def _act(provider: DataProvider, tool: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    from app.tools import call_tool

    return call_tool(provider, tool, args, actor="cli")


@ops_app.command("alert")
@with_source()
def alert_cmd(
    source: Source,
    date: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The alert decision: AT_RISK share of customers against its 7-day baseline (INFO, WARNING, CRITICAL)."""
    provider = source.open()
    _view("get_alert_decision", provider, _args(run_date(provider, date)), as_json)


@ops_app.command("context")
@with_source()
def context_cmd(
    source: Source,
    date: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Customers by retention status and the AT_RISK ones by churn risk level."""
    provider = source.open()
    _view("get_operational_context", provider, _args(run_date(provider, date)), as_json)


@ops_app.command("queue")
@with_source()
def queue_cmd(
    source: Source,
    date: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the P1/P2/P3 priority queue of the date into customer_priority (audited; a rebuild replaces it)."""
    provider = source.open()
    text, artifact = _act(provider, "build_priority_queue", _args(run_date(provider, date)))
    show(provider, f"build_priority_queue - audit #{artifact['audit_id']}", text, artifact, as_json)


@ops_app.command("brief")
@with_source()
def brief_cmd(
    source: Source,
    date: DateOpt = None,
    format: Annotated[str, typer.Option("--format", help="slack, email or markdown.")] = "slack",
    as_json: JsonOpt = False,
) -> None:
    """The brief of the date (printed as is, ready to paste). Without a queue built for the date in the
    operations store, its counts are computed in memory and the brief says so."""
    provider = source.open()
    result = provider.get_view("generate_brief", **_args(run_date(provider, date), format=format))
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        typer.echo(result.to_text())


@ops_app.command("export")
@with_source()
def export_cmd(
    source: Source,
    tier: Annotated[str, typer.Option("--tier", help="P1, P2 or P3.")],
    date: DateOpt = None,
    destination: Annotated[str, typer.Option("--destination", help="Only csv is supported.")] = "csv",
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many customers (default 2000).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export one tier of the date's queue as a CSV file; builds the queue first when the operations
    store holds none for the date (both audited)."""
    from app.retention.queue import queue_counts
    from app.views import action_spec

    provider = source.open()
    day = run_date(provider, date)
    args = _args(day, tier=tier, destination=destination, limit=limit)
    action_spec("export_audience").parse_args(args)  # a bad tier or destination is refused before any work
    if (
        provider.ops is not None
        and provider.ops.read(lambda conn: queue_counts(conn, day or provider.default_as_of())) is None
    ):
        built, _ = _act(provider, "build_priority_queue", _args(day))
        if not as_json:
            console.print(escape(built))
    text, artifact = _act(provider, "export_audience", args)
    show(provider, f"export_audience - audit #{artifact['audit_id']}", text, artifact, as_json)
