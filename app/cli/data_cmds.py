"""``cjsim list`` and ``cjsim data``: browse catalogs and answer data views."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from app.cli import app
from app.cli.common import (
    DbUrlOpt,
    MerchantOpt,
    ProviderOpt,
    ScenarioOpt,
    SeedOpt,
    StageOpt,
    StressOpt,
    build_provider,
    console,
    describe_provider,
    load_catalog,
)
from app.cli.options import parse_date, parse_view_args
from app.data_views import VIEWS, view_spec


class ListKind(StrEnum):
    scenarios = "scenarios"
    merchants = "merchants"
    views = "views"
    workflows = "workflows"


@app.command("list")
def list_cmd(kind: Annotated[ListKind, typer.Argument(help="What to list.")]) -> None:
    """List scenarios, merchants, workflows or views."""
    catalog = load_catalog()  # a broken data file is reported whatever is listed
    table = Table(show_lines=False)
    if kind is ListKind.scenarios:
        table.add_column("id", no_wrap=True)
        for col in ("name", "stress", "as of", "signature"):
            table.add_column(col, overflow="fold")
        for s in catalog.scenarios.all():
            table.add_row(s.id, s.display_name, s.stress_level.value, str(s.as_of), s.signature)
    elif kind is ListKind.merchants:
        table.add_column("id", no_wrap=True)
        for col in ("name", "business", "subscribers", "style", "stage"):
            table.add_column(col)
        for p in catalog.personas.all():
            table.add_row(
                p.id,
                p.display_name,
                p.business_name,
                f"{p.baseline_subscribers:,}",
                p.communication_style.value,
                p.default_business_stage.value,
            )
    elif kind is ListKind.workflows:
        table.add_column("workflow", no_wrap=True)
        for col in ("opens", "stages", "tools", "description"):
            table.add_column(col, overflow="fold")
        for w in catalog.workflows.by_name.values():
            stages = " -> ".join(s.id for s in w.conversation_flow)
            table.add_row(w.name, w.initiator, stages, str(len(w.tools_available)), w.description)
    else:
        table.add_column("view", no_wrap=True)
        table.add_column("arguments")
        table.add_column("description")
        for spec in VIEWS.values():
            args = ", ".join(f"--{n.replace('_', '-')}" for n in spec.args.model_fields) or "-"
            table.add_row(spec.name, args, spec.description)
    console.print(table)


@app.command(
    "data",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def data_cmd(
    ctx: typer.Context,
    view: Annotated[str, typer.Argument(help="View name (cjsim list views); view arguments follow it.")],
    scenario: ScenarioOpt = "growth_stall",
    merchant: MerchantOpt = "marcus_thompson",
    seed: SeedOpt = 0,
    stage: StageOpt = None,
    stress: StressOpt = None,
    provider: ProviderOpt = "data_agent",
    db_url: DbUrlOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Date the view describes (default: the scenario's today, or the database's latest activity date).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the view as JSON.")] = False,
) -> None:
    """Answer one data view, e.g. `cjsim data ticket_metrics --time-range 30d --scenario churn_spike`.

    With `--provider production --db-url URL` the same view comes from a real database.
    """
    spec = view_spec(view)
    args = parse_view_args(spec, list(ctx.args))
    day = parse_date(as_of)
    data = build_provider(provider, db_url, scenario, merchant, seed, stage, stress, catalog=load_catalog())
    result = data.get_view(view, day, **args)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        title = f"{view} - {describe_provider(data)}"
        console.print(Panel(escape(result.to_text()), title=escape(title), title_align="left", expand=False))
