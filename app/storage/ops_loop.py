"""The closed loop's tables in the operations store (seed 000's chain, money in minor units):

``ops_orchestrator_runs`` -> ``ops_journey_state_log`` -> ``ops_interventions`` (-> playbooks)
-> ``ops_intervention_outcomes`` -> ``ops_playbook_performance_log`` / ``ops_playbook_status``
-> ``ops_portfolio_snapshots``.

Rows of an orchestrator run carry its ``run_id``; an intervention launched from a conversation or
the CLI has none. Forecasts are not stored per customer and day (the ``churn_forecast`` view
computes them from the data); the intervention row keeps the forecast it was decided on.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Float, Index, Integer, String, Table, Text

from app.storage.ops_meta import ops_metadata

__all__ = [
    "orchestrator_runs",
    "journey_state_log",
    "interventions",
    "intervention_outcomes",
    "playbook_performance_log",
    "playbook_status",
    "portfolio_snapshots",
]

orchestrator_runs = Table(
    "ops_orchestrator_runs",
    ops_metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(300), nullable=False, doc="the world (scenario, merchant, seed) or the masked database URL"),
    Column("mode", String(16), nullable=False, doc="apply (a generated world) | recommend (a database)"),
    Column("policy", String(16), nullable=False, doc="who passes the governance gate: policy | human"),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("status", String(16), nullable=False, doc="running | paused | finished | failed"),
    Column("current_day", Date, nullable=True, doc="the last day fully orchestrated"),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("summary", Text, nullable=True, doc="JSON: the run's totals"),
)

journey_state_log = Table(
    "ops_journey_state_log",
    ops_metadata,
    Column("run_id", Integer, primary_key=True),
    Column("customer_id", String(32), primary_key=True),
    Column("state_entered_at", Date, primary_key=True, doc="the first day the customer was seen in the stage"),
    Column("journey_stage", String(16), nullable=False),
    Column("previous_stage", String(16), nullable=True),
    Column("state_exited_at", Date, nullable=True, doc="the first day in the next stage (null: still in it)"),
    Column("days_in_state", Integer, nullable=False, doc="days in the stage up to its exit or the run's last day"),
    Column("portfolio_risk_bucket", String(8), nullable=True, doc="high | medium | low on entry"),
    Column("predicted_next_stage", String(16), nullable=True),
    Column("forecast_confidence", Float, nullable=True),
    Index("ops_journey_state_open", "run_id", "state_exited_at"),
)
"""One row per stage a customer entered during a run (a state log, not a daily snapshot)."""

interventions = Table(
    "ops_interventions",
    ops_metadata,
    Column("intervention_id", String(100), primary_key=True,
           doc="IV-<run or cj>-<yyyymmdd>-<customer>-<playbook>"),
    Column("run_id", Integer, nullable=True, doc="null: launched from a conversation, the CLI or the library"),
    Column("customer_id", String(32), nullable=False),
    Column("segment", String(16), nullable=False),
    Column("journey_stage", String(16), nullable=False),
    Column("playbook_id", String(32), nullable=False),
    Column("recommended_action", Text, nullable=False, doc="the playbook's actions, comma-separated"),
    Column("executed_action", Text, nullable=True, doc="what ran (an override may change or cancel it)"),
    Column("confidence", Float, nullable=False, doc="the forecast's churn probability it was decided on"),
    Column("expected_cost_cents", BigInteger, nullable=False),
    Column("expected_value_cents", BigInteger, nullable=False),
    Column("requires_human_approval", Boolean, nullable=False),
    Column("triggered_by_signals", Text, nullable=False, doc="JSON list: the stage rule that placed the customer, then the ids of their heaviest signals"),
    Column("evaluation_latency_ms", Integer, nullable=False),
    Column("generated_at", Date, nullable=False, doc="the day it was decided"),
    Column("lands_on", Date, nullable=False, doc="the day the action reaches the customer"),
    Column("status", String(20), nullable=False,
           doc="recommended | pending_approval | launched | overridden"),
    Column("decided_by", String(64), nullable=True),
    Column("decision_note", Text, nullable=True),
    Index("ops_interventions_by_run", "run_id", "generated_at"),
    Index("ops_interventions_by_customer", "customer_id", "generated_at"),
)

intervention_outcomes = Table(
    "ops_intervention_outcomes",
    ops_metadata,
    Column("intervention_id", String(100), primary_key=True),
    Column("run_id", Integer, nullable=True),
    Column("customer_id", String(32), nullable=False),
    Column("playbook_id", String(32), nullable=False),
    Column("segment", String(16), nullable=False),
    Column("outcome", String(24), nullable=False, doc="kept | revenue_gained | no_change | lost | not_run"),
    Column("resolution_time_days", Integer, nullable=True, doc="days until the customer left churn_risk"),
    Column("csat_delta", Float, nullable=True, doc="null: a generated world's saved customers raise no tickets"),
    Column("churn_risk_delta", Float, nullable=True, doc="health risk at measurement minus at the decision"),
    Column("revenue_saved_cents", BigInteger, nullable=False, doc="against the untreated world, over the horizon"),
    Column("cost_cents", BigInteger, nullable=False),
    Column("kept", Boolean, nullable=False),
    Column("human_override", Boolean, nullable=False),
    Column("playbook_success", Boolean, nullable=False),
    Column("measured_at", Date, nullable=False),
    Index("ops_outcomes_by_run", "run_id", "playbook_id"),
)

playbook_performance_log = Table(
    "ops_playbook_performance_log",
    ops_metadata,
    Column("run_id", Integer, primary_key=True, doc="0: outcomes measured outside a run"),
    Column("playbook_id", String(32), primary_key=True),
    Column("segment", String(16), primary_key=True),
    Column("last_updated", Date, primary_key=True),
    Column("runs", Integer, nullable=False),
    Column("success_rate", Float, nullable=False),
    Column("avg_cost_cents", Float, nullable=False),
    Column("avg_value_cents", Float, nullable=False),
    Column("roi_ratio", Float, nullable=True),
    Column("override_rate", Float, nullable=False),
)
"""Appended on each day new outcomes were measured: the learning loop over time."""

playbook_status = Table(
    "ops_playbook_status",
    ops_metadata,
    Column("run_id", Integer, primary_key=True),
    Column("playbook_id", String(32), primary_key=True),
    Column("status", String(16), nullable=False, doc="retired (a playbook without a row has its file status)"),
    Column("changed_on", Date, nullable=False),
    Column("reason", Text, nullable=False),
)

portfolio_snapshots = Table(
    "ops_portfolio_snapshots",
    ops_metadata,
    Column("run_id", Integer, primary_key=True),
    Column("generated_at", Date, primary_key=True),
    Column("snapshot_id", String(32), nullable=False, doc="PS_<yyyy>_<mm>_<dd>"),
    Column("total_customers", Integer, nullable=False),
    Column("customers_at_high_risk", Integer, nullable=False),
    Column("revenue_at_risk_cents", BigInteger, nullable=False),
    Column("top_leaking_stage", String(16), nullable=True),
    Column("top_playbooks", Text, nullable=False, doc="JSON list, best ROI first"),
)
