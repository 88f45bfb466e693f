"""``cjsim world``: export, summarise and check generated worlds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from app.cli.common import (
    MerchantOpt,
    ScenarioOpt,
    SeedOpt,
    StageOpt,
    StressOpt,
    YesOpt,
    build_agent,
    console,
    load_catalog,
)
from app.cli.options import parse_names, parse_seeds
from app.storage.export import export_tables

world_app = typer.Typer(no_args_is_help=True, help="Export, summarise and check synthetic worlds.")


@world_app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output folder (created if missing).")],
    scenario: ScenarioOpt = "growth_stall",
    merchant: MerchantOpt = "marcus_thompson",
    seed: SeedOpt = 0,
    stage: StageOpt = None,
    stress: StressOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
) -> None:
    """Write one file per table, as the world is known on the scenario's today."""
    agent = build_agent(scenario, merchant, seed, stage, stress, catalog=load_catalog())
    paths = export_tables(agent.world.snapshot(agent.clock), out, fmt)
    for p in paths:
        console.print(f"wrote {p}")


@world_app.command("summary")
def summary_cmd(
    scenario: ScenarioOpt = "growth_stall",
    merchant: MerchantOpt = "marcus_thompson",
    seed: SeedOpt = 0,
    stage: StageOpt = None,
    stress: StressOpt = None,
) -> None:
    """Frame, merchant context, row counts and headline metrics of a world."""
    agent = build_agent(scenario, merchant, seed, stage, stress, catalog=load_catalog())
    ctx = agent.get_data_context()
    w = agent.world
    console.print(
        f"[bold]{agent.persona.business_name}[/] ({agent.persona.display_name}) in [bold]{agent.scenario.display_name}[/]"
        f", seed {seed}\nhistory {w.start} .. {w.as_of} (today), simulated to {w.horizon}; "
        f"stage {agent.merchant_context.business_stage.value}, stress {agent.merchant_context.stress_level.value}"
    )
    snapshot = w.snapshot(agent.clock)
    table = Table("table", "rows known today", "rows incl. future")
    for name, rows in w.tables.items():
        table.add_row(name, f"{len(snapshot[name]):,}", f"{len(rows):,}")
    console.print(table)
    metrics = Table("headline metric (30d)", "value")
    for key, value in ctx["headline_metrics"].items():
        metrics.add_row(key, "n/a" if value is None else f"{value:,}")
    console.print(metrics)


@world_app.command("check")
def check_cmd(
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Scenario ids, comma-separated, or all.")] = "all",
    merchant: Annotated[str, typer.Option("--merchant", "-m", help="Merchant ids, comma-separated, or all.")] = "all",
    seeds: Annotated[str, typer.Option("--seeds", help="Seeds, e.g. 0-19.")] = "0-4",
    yes: YesOpt = False,
) -> None:
    """Check scenarios' expected ranges over merchants and seeds; exit 1 if any fails."""
    from app.providers.data_agent import DataAgent
    from app.signatures import STEADY_SCENARIO, check_expectations

    catalog = load_catalog()
    scenario_ids = parse_names(scenario, catalog.scenarios.names(), "scenario")
    merchant_ids = parse_names(merchant, catalog.personas.names(), "merchant")
    seed_list = parse_seeds(seeds, confirmed=yes)
    failures = total = 0
    for sid in scenario_ids:
        sc = catalog.scenarios.get(sid)
        for mid in merchant_ids:
            for seed in seed_list:
                agent = DataAgent.create(sc, mid, seed=seed, catalog=catalog)
                steady = DataAgent.create(
                    STEADY_SCENARIO, mid, seed=seed, merchant_context=agent.merchant_context, catalog=catalog
                )
                for res in check_expectations(sc, agent, steady):
                    total += 1
                    if not res.passed:
                        failures += 1
                        console.print(f"[red]FAIL[/] {sid} {mid} seed {seed}: {res.message}")
    console.print(f"{total - failures}/{total} expectations hold")
    if failures:
        raise typer.Exit(1)
