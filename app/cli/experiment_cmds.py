"""``cjsim simulate intervention``: run an intervention as randomised experiments over generated
worlds, against the counterfactual, and print (or keep) the predicted outcomes (docs/experiments.md)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from app.cli.common import ExecutorOpt, RayAddressOpt, YesOpt, console
from app.cli.ops_cmds import JsonOpt
from app.cli.options import parse_names, parse_seeds
from app.errors import InvalidArgumentError

if TYPE_CHECKING:
    from app.experiments import Calibration, ExperimentResult, InterventionSpec

__all__ = ["simulate_app", "intervention_cmd"]

simulate_app = typer.Typer(no_args_is_help=True, help="Simulated experiments on generated worlds.")

_OPTION_OF = {"action": "--action", "name": "--name", "cost_per_exposure": "--cost", "start_offset_days": "--start-offset",
              "horizon_days": "--horizon", "holdout_share": "--holdout", "segments": "--segment"}  # fmt: skip
_PCT = lambda v: f"{v:+.2%}"
_MONEY = lambda cents: f"{cents / 100:,.2f}"


@simulate_app.command("intervention")
def intervention_cmd(
    file: Annotated[Path | None, typer.Option("--file", "-f", help="An intervention spec (YAML or JSON); options given override its fields.")] = None,
    action: Annotated[str | None, typer.Option("--action", "-a", help="The action: an effect model of data/intervention_effects.yaml (the offer and its channel).")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Target segments, comma-separated (default: all).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label for the run.")] = None,
    cost: Annotated[float | None, typer.Option("--cost", help="Cost per exposure in major units (default: the effect model's).")] = None,
    start_offset: Annotated[int | None, typer.Option("--start-offset", help="Start day, in days from the world's today (default 1).")] = None,
    horizon: Annotated[int | None, typer.Option("--horizon", help="Days measured from the start day (default 30).")] = None,
    holdout: Annotated[float | None, typer.Option("--holdout", help="Share of the target held out (default 0.5).")] = None,
    iterations: Annotated[int | None, typer.Option("--iterations", "-n", help="Randomised experiments (default: one per world).")] = None,
    scenarios: Annotated[str, typer.Option("--scenarios", help="Scenario ids, comma-separated, or 'all'.")] = "steady_operations",
    personas: Annotated[str, typer.Option("--personas", help="Merchant personas, comma-separated, or 'all'.")] = "all",
    seeds: Annotated[str, typer.Option("--seeds", help="World seeds: 0-9, 1,4,7 or 3.")] = "0-9",
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the randomisation.")] = 0,
    workers: Annotated[int | None, typer.Option("--workers", min=1, max=64, help="Processes that generate worlds (default 1); with --executor ray and no --ray-address, the CPUs of the Ray instance started here (default: every CPU).")] = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    backtest_seeds: Annotated[str | None, typer.Option("--backtest-seeds", help="Held-out world seeds to realise the outcomes on (a backtest).")] = None,
    ops_url: Annotated[str | None, typer.Option("--ops-url", help="Operations store that keeps the run (ops_simulation_runs) and its backtest.")] = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run an intervention on generated worlds with a randomised holdout, against the counterfactual:
    retention, conversion and revenue uplift, cost and ROI with 95% intervals, and how often the
    per-iteration intervals held the true effect."""
    from app.execution import make_executor
    from app.experiments import (
        backtest,
        load_intervention_spec,
        record_calibration,
        record_run,
        run_experiment,
        world_grid,
    )
    from app.scenarios import personas as all_personas
    from app.scenarios import scenarios as all_scenarios
    from app.storage.ops import OpsStore

    fields = {"action": action, "name": name, "cost_per_exposure": cost, "start_offset_days": start_offset,
              "horizon_days": horizon, "holdout_share": holdout,
              "segments": None if segment is None else [s.strip() for s in segment.split(",") if s.strip()]}  # fmt: skip
    if file is not None:
        spec = load_intervention_spec(file, **fields)
    elif action is None:
        raise InvalidArgumentError("give the action (--action NAME) or an intervention file (--file spec.yaml)")
    else:
        spec = _spec_from_args(fields)
    spec.validate_names()
    if iterations is not None and iterations < 1:
        raise InvalidArgumentError(f"--iterations must be at least 1, got {iterations}")
    worlds = world_grid(parse_names(scenarios, list(all_scenarios().names()), "scenario"),
                        parse_names(personas, list(all_personas().names()), "persona"), parse_seeds(seeds, confirmed=yes))  # fmt: skip
    held_out = []
    if backtest_seeds is not None:
        held_out = [w for w in world_grid(sorted({w.scenario for w in worlds}), sorted({w.persona for w in worlds}),
                                          parse_seeds(backtest_seeds, confirmed=yes))]  # fmt: skip
        if set(held_out) & set(worlds):
            raise InvalidArgumentError("--backtest-seeds must not repeat a seed of --seeds: realise on held-out worlds")
        if (iterations or len(worlds)) < 2:
            raise InvalidArgumentError("a backtest needs at least 2 iterations (its prediction interval comes from their spread)")
    store = OpsStore.from_url(ops_url) if ops_url else None
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if workers is None and executor == "local":
        workers = 1
    with make_executor(executor, workers=workers, address=ray_address) as ex:  # after every argument is checked
        result = run_experiment(spec, worlds, iterations, seed=seed, executor=ex)
    calibration = backtest(result, held_out) if held_out else None
    run_id = None
    if store is not None:
        run_id = record_run(store, result, started_at=started, seed=seed)
        if calibration is not None:
            record_calibration(store, run_id, calibration, created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    if as_json:
        out = {"run_id": run_id, **result.to_dict(), "backtest": calibration.to_dict() if calibration else None}
        typer.echo(json.dumps(out, indent=2))
        return
    _print(result, calibration, run_id)


def _spec_from_args(fields: Mapping[str, object]) -> InterventionSpec:
    from pydantic import ValidationError

    from app.experiments import InterventionSpec

    try:
        return InterventionSpec.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            problems.append(f"{_OPTION_OF.get(field, field)}: {err['msg']}")
        raise InvalidArgumentError("; ".join(problems)) from None


def _print(result: ExperimentResult, calibration: Calibration | None, run_id: int | None) -> None:
    spec, pooled, prediction = result.spec, result.pooled, result.prediction
    title = (f"{spec.name}: {spec.action} for {', '.join(spec.segments) or 'every segment'}, {len(result.iterations)} "
             f"iterations on {len(result.worlds)} worlds, holdout {spec.holdout_share:.0%}, {spec.horizon_days} days")  # fmt: skip
    table = Table(title=title)
    for col in ("metric", "uplift (95% CI)", "one more world (95%)", "truth (mean)", "per-iteration coverage"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    labels = {"retained": ("retention", _PCT), "converted": ("conversion", _PCT), "revenue_cents": ("revenue per customer", _MONEY)}
    for m, (label, fmt) in labels.items():
        p = pooled[m]
        pi = prediction.get(m)
        table.add_row(label, f"{fmt(p.estimate)} ({fmt(p.low)} to {fmt(p.high)})",
                      "-" if pi is None else f"{fmt(pi.low)} to {fmt(pi.high)}", fmt(result.true_mean[m]),
                      f"{result.coverage[m]:.1%}")  # fmt: skip
    console.print(table)
    predicted = result.predicted()
    console.print(f"cost per customer {_MONEY(result.cost_cents)}, net value per customer "
                  f"{_MONEY(predicted['net_value_per_customer_cents'])}, ROI "
                  f"{'-' if predicted['roi'] is None else format(predicted['roi'], '.2f')} (revenue uplift per unit of cost)")  # fmt: skip
    for rec in result.recommendations():
        console.print(f"- {rec}")
    if calibration is not None:
        c = calibration
        console.print(f"backtest on {len(c.per_world)} held-out worlds: realised revenue uplift "
                      f"{_MONEY(c.realised['revenue_cents'])} per customer, error {_MONEY(c.error)}, interval coverage "
                      f"{c.interval_coverage:.0%}, segment ranking accuracy "
                      f"{'-' if c.ranking_accuracy is None else format(c.ranking_accuracy, '.0%')}")  # fmt: skip
    console.print(f"{result.duration_s:.1f} s ({result.simulate_s:.1f} s generating worlds and re-simulating the targets)"
                  + (f"; kept as simulation run #{run_id}" if run_id is not None else ""))  # fmt: skip
