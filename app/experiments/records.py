"""Writing experiment runs and their backtests to the operations store, and reading them back."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from app.experiments.backtest import Calibration
from app.experiments.runner import ExperimentResult
from app.storage.ops import OpsStore, inserted_id
from app.storage.ops_experiments import calibration_history, simulation_runs

__all__ = ["SimulationRunRow", "record_run", "insert_run", "record_calibration", "simulation_run_rows", "calibration_rows"]


@dataclass(frozen=True)
class SimulationRunRow:
    """One stored run, JSON fields decoded."""

    run_id: int
    name: str
    action: str
    parameters: dict[str, Any]
    predicted_outcomes: dict[str, Any]
    intervals: dict[str, Any]
    recommendations: list[str]
    iterations: int
    duration_ms: int
    llm_tokens: int | None
    llm_cost_cents: int | None


def record_run(store: OpsStore, result: ExperimentResult, *, started_at: dt.datetime, seed: int,
               llm_tokens: int | None = None, llm_cost_cents: int | None = None) -> int:  # fmt: skip
    """Store one ``ops_simulation_runs`` row for ``result``; returns its id. Tokens and cost stay
    null unless a language model took part."""
    with store.transaction() as conn:
        return insert_run(conn, result, started_at=started_at, seed=seed, llm_tokens=llm_tokens,
                          llm_cost_cents=llm_cost_cents)  # fmt: skip


def insert_run(conn: Connection, result: ExperimentResult, *, started_at: dt.datetime, seed: int,
               llm_tokens: int | None = None, llm_cost_cents: int | None = None,
               target: dict[str, Any] | None = None) -> int:  # fmt: skip
    """:func:`record_run` on an open connection of the store (an action's transaction); ``target``
    describes a target narrower than the spec's segments (kept in ``parameters``)."""
    parameters = {"spec": result.spec.model_dump(), "worlds": [w.label() for w in result.worlds],
                  "iterations": len(result.iterations), "randomisation_seed": seed}  # fmt: skip
    if target is not None:
        parameters["target"] = target
    return inserted_id(conn.execute(insert(simulation_runs).values(
        name=result.spec.name, action=result.spec.action, parameters=json.dumps(parameters, sort_keys=True),
        predicted_outcomes=json.dumps(result.predicted(), sort_keys=True),
        intervals=json.dumps(result.intervals(), sort_keys=True),
        recommendations=json.dumps(result.recommendations()), iterations=len(result.iterations),
        started_at=started_at, finished_at=started_at + dt.timedelta(seconds=result.duration_s),
        duration_ms=round(result.duration_s * 1000), llm_tokens=llm_tokens, llm_cost_cents=llm_cost_cents,
    )))  # fmt: skip


def record_calibration(store: OpsStore, run_id: int, calibration: Calibration, *, created_at: dt.datetime) -> int:
    """Store one ``ops_calibration_history`` row for a backtest of run ``run_id``; returns its id."""
    details = calibration.to_dict()
    with store.transaction() as conn:
        return inserted_id(conn.execute(insert(calibration_history).values(
            run_id=run_id, realised_source=calibration.realised_source[:300], error=calibration.error,
            relative_error=calibration.relative_error, ranking_accuracy=calibration.ranking_accuracy,
            interval_coverage=calibration.interval_coverage,
            details=json.dumps({"metrics": details["metrics"], "per_world": details["per_world"]}, sort_keys=True),
            created_at=created_at,
        )))  # fmt: skip


def simulation_run_rows(store: OpsStore) -> list[SimulationRunRow]:
    """Every stored run, oldest first."""
    rows = store.read(lambda conn: conn.execute(select(simulation_runs).order_by(simulation_runs.c.run_id)).mappings().all())
    return [SimulationRunRow(
        run_id=r["run_id"], name=r["name"], action=r["action"], parameters=json.loads(r["parameters"]),
        predicted_outcomes=json.loads(r["predicted_outcomes"]), intervals=json.loads(r["intervals"]),
        recommendations=json.loads(r["recommendations"]), iterations=r["iterations"], duration_ms=r["duration_ms"],
        llm_tokens=r["llm_tokens"], llm_cost_cents=r["llm_cost_cents"],
    ) for r in rows]  # fmt: skip


def calibration_rows(store: OpsStore, run_id: int | None = None) -> list[dict[str, Any]]:
    """Stored backtests (of one run when given), oldest first, ``details`` decoded."""
    stmt = select(calibration_history).order_by(calibration_history.c.calibration_id)
    if run_id is not None:
        stmt = stmt.where(calibration_history.c.run_id == run_id)
    rows = store.read(lambda conn: conn.execute(stmt).mappings().all())
    return [{**dict(r), "details": json.loads(r["details"])} for r in rows]
