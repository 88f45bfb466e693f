"""``cjsim ops trigger`` and ``cjsim ops runs``: the retention playbook and its run log (docs/retention_playbook.md)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from app.cli.common import OpsUrlOpt, console
from app.cli.ops_cmds import DateOpt, JsonOpt, ops_app, run_date, show
from app.cli.options import parse_date
from app.cli.source import Source, with_source
from app.errors import InvalidArgumentError

__all__ = ["trigger_cmd", "runs_cmd"]


@ops_app.command("trigger")
@with_source()
def trigger_cmd(
    source: Source,
    date: DateOpt = None,
    live: Annotated[
        bool | None,
        typer.Option(
            "--live/--shadow",
            help="Post to the webhook, or only write the payload to the run folder (default: the data file's "
            "playbook.shadow, which is shadow mode until changed).",
        ),
    ] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option(
            "--webhook-url", help="Where --live posts (wins over CJSIM_PLAYBOOK_WEBHOOK_URL and the data file)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the retention playbook of the date (running this command is the approval): queue, exports,
    brief and webhook (or shadow folder) on a WARNING or CRITICAL alert; one ops_runs_log row per run."""
    from app.tools import call_tool
    from app.views.retention_playbook import playbook_settings, using_playbook_settings

    settings = playbook_settings().with_overrides(webhook_url=webhook_url, shadow=None if live is None else not live)
    if not settings.shadow:
        settings.live_url()  # live without a URL is refused before any work
    provider = source.open()
    day = run_date(provider, date)
    with using_playbook_settings(settings):
        text, artifact = call_tool(
            provider, "trigger_playbook", {"date": day.isoformat()} if day else {}, approval="approved", actor="cli"
        )
    show(provider, f"trigger_playbook - audit #{artifact['audit_id']}", text, artifact, as_json)


@ops_app.command("runs")
def runs_cmd(
    ops_url: OpsUrlOpt = None,
    date: Annotated[str | None, typer.Option("--date", help="Only runs of this alert date (YYYY-MM-DD).")] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="At most this many runs, newest first.")
    ] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The playbook runs recorded in the operations store's ops_runs_log, newest first."""
    from app.retention.runs import RunLog
    from app.storage.ops import OpsStore

    if not ops_url:
        raise InvalidArgumentError("cjsim ops runs reads an operations store: pass --ops-url URL or set CJSIM_OPS_URL")
    day = parse_date(date, "--date")  # a bad date is refused before the store is opened (or created)
    runs = RunLog(OpsStore.from_url(ops_url)).list(day, limit=limit)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
        return
    if not runs:
        console.print("No playbook runs recorded" + (f" for {date}." if date else "."))
        return
    table = Table()
    for col in ("run", "date", "status", "severity", "P1", "P2", "P3", "exported", "webhook", "ms", "error"):
        table.add_column(col, overflow="fold")
    for r in runs:
        counts = [str(n) if n is not None else "-" for n in (r.p1_count, r.p2_count, r.p3_count, r.total_exported)]
        webhook = f"{r.webhook_status} ({r.response_status})" if r.response_status else (r.webhook_status or "-")
        table.add_row(
            str(r.run_id), str(r.run_date), r.status, r.severity or "-", *counts, webhook,
            str(r.execution_time_ms if r.execution_time_ms is not None else "-"), escape(r.error_message or ""),
        )  # fmt: skip
    console.print(table)
