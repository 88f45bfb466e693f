"""``cjsim orchestrate``: run the closed-loop orchestrator over a generated world (or recommend on a
database) and print what it did (docs/closed_loop.md, "The orchestrator")."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from app.cli import app
from app.cli.common import console, load_catalog
from app.cli.ops_cmds import JsonOpt
from app.cli.source import Source, with_source
from app.errors import InvalidArgumentError

__all__ = ["orchestrate_cmd"]


@app.command("orchestrate")
@with_source()
def orchestrate_cmd(
    source: Source,
    days: Annotated[int, typer.Option("--days", "-d", help="Days to orchestrate, ending at the data's current day.")] = 90,
    policy: Annotated[str, typer.Option(
        "--policy", help="Who passes the governance gate: 'policy' (the approval rule of data/journeys.yaml) or "
        "'ask' (you, for each intervention that needs approval).")] = "policy",
    as_json: JsonOpt = False,
) -> None:
    """Run the orchestrator day by day: observe journeys, forecast, match playbooks, pass the gate,
    launch, measure against the world without the interventions, learn (retire playbooks), snapshot.
    On a database (--db-url) it only recommends: there is no world to apply the interventions to."""
    from app.orchestration import MAX_DAYS, orchestrate_database, orchestrate_world
    from app.providers.sql_provider import SqlDataProvider
    from app.storage.ops import OpsStore
    from app.storage.url import mask_url

    if policy not in ("policy", "ask"):
        raise InvalidArgumentError(f"--policy must be 'policy' or 'ask', got {policy!r}")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidArgumentError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    store = OpsStore.from_url(source.ops_url) if source.ops_url else OpsStore.in_memory()
    if source.db_url:
        provider = source.open()
        bounds = provider.data_range()
        if bounds is None:
            raise InvalidArgumentError("the database holds no orders to orchestrate over; load or import data first")
        assert isinstance(provider, SqlDataProvider)  # --db-url opens a production (SQL) provider
        result = orchestrate_database(provider.engine, bounds[1], mask_url(source.db_url), days=days, store=store)
    else:
        result = orchestrate_world(source.scenario, source.merchant, days=days, seed=source.seed,
                                   policy="human" if policy == "ask" else "policy",
                                   decide=_ask if policy == "ask" else None, store=store, catalog=load_catalog())  # fmt: skip
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    _print(result, persisted=bool(source.ops_url))


def _ask(pause: dict[str, Any]) -> dict[str, str]:
    """Ask on the terminal about each intervention that needs approval."""
    out = {}
    for p in pause["pending"]:
        question = (f"{pause['day']}: {p['playbook_id']} ({', '.join(p['actions'])}) for {p['customer_id']} "
                    f"({p['segment']}, {p['stage']}), churn probability {p['confidence']:.0%}, expected value "
                    f"{p['expected_value_cents'] / 100:,.2f} for a cost of {p['expected_cost_cents'] / 100:,.2f}. Approve?")  # fmt: skip
        out[p["intervention_id"]] = "approve" if typer.confirm(question, default=False) else "override"
    return out


def _print(result: Any, persisted: bool) -> None:
    money = lambda cents: f"{cents / 100:,.2f}"
    head = Table(title=f"Orchestrator run #{result.run_id}: {escape(result.source)}, {result.first_day} to "
                 f"{result.last_day} ({result.days} days, {result.mode})", show_header=False)  # fmt: skip
    head.add_row("interventions", ", ".join(f"{k} {v}" for k, v in result.interventions.items()) or "none")
    if result.mode == "apply":
        head.add_row("measured", str(result.measured))
        head.add_row("customers kept", str(result.customers_kept))
        head.add_row("revenue saved (vs no action)", money(result.revenue_saved_cents))
        head.add_row("cost", money(result.cost_cents))
        head.add_row("net", money(result.revenue_saved_cents - result.cost_cents))
        head.add_row("revenue saved per unit of cost", "-" if result.roi is None else f"{result.roi:.2f}")
        head.add_row("retired playbooks", ", ".join(f"{p} on {d}" for p, d in result.retired.items()) or "none")
    if result.snapshot is not None:
        s = result.snapshot
        head.add_row("last snapshot", f"{s.total_customers} customers, {s.customers_at_high_risk} at high risk, "
                     f"revenue at risk {money(s.revenue_at_risk_cents)}, top leaking stage "
                     f"{s.top_leaking_stage or '-'}, top playbooks {', '.join(s.top_playbooks) or '-'}")  # fmt: skip
    console.print(head)
    if result.performance:
        perf = Table(title="Playbook performance (measured against the world without the interventions)")
        for col in ("playbook", "segment", "runs", "success", "avg cost", "avg value", "ROI", "overrides"):
            perf.add_column(col, justify="left" if col in ("playbook", "segment") else "right")
        for r in result.performance:
            perf.add_row(r.playbook_id, r.segment, str(r.runs), f"{r.success_rate:.0%}", money(r.avg_cost_cents),
                         money(r.avg_value_cents), "-" if r.roi_ratio is None else f"{r.roi_ratio:.2f}",
                         f"{r.override_rate:.0%}")  # fmt: skip
        console.print(perf)
    if not persisted:
        console.print("(rows kept in memory only: pass --ops-url to keep them in an operations store)")
