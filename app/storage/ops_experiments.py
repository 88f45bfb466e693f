"""The simulated experiments' tables in the operations store (migration 6).

``ops_simulation_runs`` keeps one row per ``cjsim simulate intervention`` run: its parameters,
predicted outcomes, intervals and recommendations (JSON), timing, and the tokens and cost of the
language model that took part (null when none did). ``ops_calibration_history`` keeps each
backtest of a run against realised outcomes: the prediction's error, ranking accuracy and interval
coverage (docs/experiments.md, "Backtest").
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Float, Index, Integer, String, Table, Text

from app.storage.ops_meta import ops_metadata

__all__ = ["simulation_runs", "calibration_history"]

simulation_runs = Table(
    "ops_simulation_runs",
    ops_metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, doc="the intervention's name"),
    Column("action", String(64), nullable=False, doc="the effect model applied"),
    Column("parameters", Text, nullable=False, doc="JSON: the intervention spec, worlds, iterations, randomisation seed"),
    Column("predicted_outcomes", Text, nullable=False, doc="JSON: uplifts, cost, ROI, net value (minor units)"),
    Column("intervals", Text, nullable=False, doc="JSON: 95% intervals (pooled, prediction, ROI)"),
    Column("recommendations", Text, nullable=False, doc="JSON list of sentences"),
    Column("iterations", Integer, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("llm_tokens", BigInteger, nullable=True, doc="null: no language model took part"),
    Column("llm_cost_cents", BigInteger, nullable=True, doc="null: no language model took part"),
    Index("ops_simulation_runs_by_action", "action", "started_at"),
)

calibration_history = Table(
    "ops_calibration_history",
    ops_metadata,
    Column("calibration_id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False, doc="the ops_simulation_runs row backtested"),
    Column("realised_source", String(300), nullable=False, doc="where the realised outcomes come from"),
    Column("error", Float, nullable=False, doc="predicted minus realised revenue uplift per customer, in cents"),
    Column("relative_error", Float, nullable=True, doc="error / |realised| (null when realised is 0)"),
    Column("ranking_accuracy", Float, nullable=True, doc="share of segment pairs ranked as realised (null: under 2 segments)"),
    Column("interval_coverage", Float, nullable=False, doc="share of realised effects inside the prediction intervals"),
    Column("details", Text, nullable=False, doc="JSON: per metric predicted, realised, error; per world realised effects"),
    Column("created_at", DateTime, nullable=False),
    Index("ops_calibration_by_run", "run_id"),
)
