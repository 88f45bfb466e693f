"""``cjsim list`` and ``cjsim data``: browse catalogs and answer data views."""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from app.cli import app
from app.cli.common import (
    AllowWritableOpt,
    DbUrlOpt,
    MerchantOpt,
    OpsUrlOpt,
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
from app.errors import InvalidArgumentError
from app.views import ACTIONS, VIEWS, ActionSpec, action_spec, json_schemas, view_spec
from app.views.registry import Capability, CapabilitySpec


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
        table.add_column("name", no_wrap=True)
        for col in ("kind", "tool", "arguments", "description"):
            table.add_column(col)
        for spec in (*VIEWS.values(), *ACTIONS.values()):
            approval = ", needs approval" if isinstance(spec, ActionSpec) and spec.requires_approval else ""
            table.add_row(spec.name, spec.kind + approval, spec.tool, _flags(spec), spec.description)
    console.print(table)


def _flags(spec: CapabilitySpec[Any, Any]) -> str:
    return ", ".join(f"--{n.replace('_', '-')}" for n in spec.args.model_fields) or "-"


def _catalog_help(specs: Iterable[Capability]) -> str:
    # Derived from the registry, so a new view or action shows up here with its arguments.
    return "\n\n".join(f"{s.name} {_flags(s)}: {s.description}" for s in specs)


@app.command(
    "data",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Views:\n\n" + _catalog_help(VIEWS.values()),
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
    ops_url: OpsUrlOpt = None,
    allow_writable_user: AllowWritableOpt = False,
) -> None:
    """Answer one data view, e.g. `cjsim data ticket_metrics --time-range 30d --scenario churn_spike`.

    With `--provider production --db-url URL` the same view comes from a real database.
    """
    spec = view_spec(view)
    args = parse_view_args(spec, list(ctx.args))
    day = parse_date(as_of)
    catalog = load_catalog()
    data = build_provider(
        provider, db_url, scenario, merchant, seed, stage, stress, ops_url=ops_url,
        allow_writable_user=allow_writable_user, catalog=catalog,
    )  # fmt: skip
    if day is not None:
        data.check_as_of(day, label="--as-of")
    result = data.get_view(view, day, **args)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        title = f"{view} - {describe_provider(data)}"
        console.print(Panel(escape(result.to_text()), title=escape(title), title_align="left", expand=False))


@app.command(
    "act",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Actions:\n\n" + _catalog_help(ACTIONS.values()),
)
def act_cmd(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="Action name (cjsim list views); its arguments follow it.")],
    scenario: ScenarioOpt = "growth_stall",
    merchant: MerchantOpt = "marcus_thompson",
    seed: SeedOpt = 0,
    provider: ProviderOpt = "data_agent",
    db_url: DbUrlOpt = None,
    ops_url: OpsUrlOpt = None,
    approve: Annotated[
        bool, typer.Option("--approve", help="Approve an action that needs approval (without it, it is declined).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result and its audit id as JSON.")] = False,
    allow_writable_user: AllowWritableOpt = False,
) -> None:
    """Run one action, audited, e.g. `cjsim act save_note --note "Call Sarah" --approve --ops-url ops.db`.

    Actions write only to the operations store (--ops-url; a generated world's own embedded store
    is gone when the command ends). Every call leaves an audit row, also when declined or failed.
    """
    from app.tools import call_tool

    spec = action_spec(action)
    args = parse_view_args(spec, list(ctx.args))
    data = build_provider(
        provider, db_url, scenario, merchant, seed, None, None, ops_url,
        allow_writable_user=allow_writable_user, catalog=load_catalog(),
    )  # fmt: skip
    text, artifact = call_tool(data, spec.tool, args, approval="approved" if approve else None, actor="cli")
    if as_json:
        typer.echo(json.dumps(artifact, indent=2))
    else:
        console.print(Panel(escape(text), title=escape(f"{action} - audit #{artifact['audit_id']}"), title_align="left", expand=False))


@app.command("schema")
def schema_cmd(
    name: Annotated[str | None, typer.Argument(help="One view or action (default: all of them).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON here instead of printing it.")] = None,
) -> None:
    """JSON Schemas of the views' and actions' arguments and results (what tools and MCP clients validate)."""
    from app.views import capability

    schemas = json_schemas()
    doc = schemas[capability(name).name] if name else schemas
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidArgumentError(f"cannot write {out}: {exc.strerror or exc}") from None
    console.print(f"wrote {out}")
