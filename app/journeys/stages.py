"""Journey stages at a date: where each customer is, by rules over what the database holds.

Rules, first match wins (thresholds: :class:`StageRules`, ``stages`` in ``data/journeys.yaml``):

1. ``churned``: the customer has left -- no active subscription at the date and, without
   subscriptions, no charged order younger than the health model's ``usage.lapsed_days``. These
   are exactly the customers the health model does not score (docs/health.md, "Who is scored").
2. ``churn_risk``: health risk above ``churn_risk_above`` (0.6: a high or critical alert).
3. ``support``: a ticket created in the last ``support_days`` that is negative or still unresolved
   at the end of the date.
4. ``onboarding``: tenure (from the first subscription start, else the first order) under
   ``onboarding_days``.
5. ``retention``: tenure of at least ``retention_days``.
6. ``engagement``: everyone else.

The risk bucket of a scored customer follows the health alert severities (``data/health.yaml``):
``high`` for a critical or high alert (risk above 0.6), ``medium`` for a medium one (above 0.4),
else ``low``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from app.datafiles import data_dir, load_model_once
from app.health.frame import HealthSet
from app.health.settings import HealthSettings, load_health_settings
from app.health.store import health_at
from app.journeys.playbooks import JourneyStage
from app.storage.schema import orders, subscriptions, support_tickets
from app.world.world import end_of_day

__all__ = ["StageRules", "OrchestratorSettings", "JourneySettings", "JourneyPosition", "journey_positions", "first_days",
           "FirstDays", "load_journey_settings"]

JOURNEYS_FILE = "journeys.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageRules(_Strict):
    """Thresholds of the stage rules (module docstring)."""

    churn_risk_above: float = Field(ge=0, le=1)
    support_days: int = Field(ge=1)
    onboarding_days: int = Field(ge=1)
    retention_days: int = Field(ge=1)


class OrchestratorSettings(_Strict):
    """How the orchestrator decides, gates, measures and learns (docs/closed_loop.md)."""

    horizon_days: int = Field(ge=1, le=365, description="days an intervention is measured over")
    refit_every_days: int = Field(ge=1, description="days between refits of the forecast model")
    max_launches_per_day: int = Field(ge=0, description="the day's interventions, most expected net value first")
    daily_budget: float = Field(ge=0, description="expected cost a day may commit, in the merchant's currency")
    min_expected_roi: float = Field(ge=0, description="the policy approves an intervention needing approval "
                                    "when expected value / cost reaches this")  # fmt: skip
    roi_floor: float = Field(ge=0, description="measured ROI below which a playbook is retired")
    min_runs: int = Field(ge=1, description="measured runs a playbook needs before it can be retired")
    trial_runs: int = Field(ge=1, description="until a playbook has this many measured runs, at most this many "
                            "of its interventions run at once")  # fmt: skip


class JourneySettings(_Strict):
    """The journey model's settings file."""

    version: int = Field(ge=1)
    stages: StageRules
    orchestrator: OrchestratorSettings


@dataclass(frozen=True)
class JourneyPosition:
    """One customer's stage at a date, with what put them there."""

    customer_id: str
    stage: JourneyStage
    risk: float | None
    risk_bucket: str | None
    tenure_days: int
    reason: str


def load_journey_settings(path: Path | None = None) -> JourneySettings:
    """Read and validate the journey settings (default: ``journeys.yaml`` in the data folder).

    Raises:
        DataFileError: unreadable or malformed file, naming the field and the fix.
    """
    return load_model_once(path or data_dir() / JOURNEYS_FILE, JourneySettings)


def first_days(conn: Connection, day: dt.date, since: dt.date | None = None,
               ) -> tuple[dict[str, dt.date], dict[str, dt.date]]:  # fmt: skip
    """Each customer's first order and first subscription start in ``(since, day]`` (all up to ``day``
    without ``since``). A customer's first day is the subscription start, else the first order; a
    caller walking forward day by day keeps the earliest of each (:class:`FirstDays`)."""
    lo = (lambda c: c > since) if since is not None else (lambda c: sa.true())
    q = sa.select(orders.c.customer_id, sa.func.min(orders.c.ordered_on)).where(
        orders.c.ordered_on <= day, lo(orders.c.ordered_on))  # fmt: skip
    first_order = {str(cid): d for cid, d in conn.execute(q.group_by(orders.c.customer_id))}
    q = sa.select(subscriptions.c.customer_id, sa.func.min(subscriptions.c.started_on)).where(
        subscriptions.c.started_on <= day, lo(subscriptions.c.started_on))  # fmt: skip
    first_start = {str(cid): d for cid, d in conn.execute(q.group_by(subscriptions.c.customer_id))}
    return first_order, first_start


class FirstDays:
    """Customers' first days kept up to date day by day: a day reads only that day's new rows."""

    def __init__(self) -> None:
        self._order: dict[str, dt.date] = {}
        self._start: dict[str, dt.date] = {}
        self._day: dt.date | None = None

    def at(self, conn: Connection, day: dt.date) -> dict[str, dt.date]:
        """Each customer's first day at ``day`` (days must not go backwards)."""
        if self._day is None or day < self._day:
            self._order, self._start = first_days(conn, day)
        elif day > self._day:
            order, start = first_days(conn, day, since=self._day)
            for cid, d in order.items():
                self._order.setdefault(cid, d)
            for cid, d in start.items():
                self._start.setdefault(cid, d)
        self._day = day
        return {**self._order, **self._start}


def _in_support(conn: Connection, day: dt.date, days: int) -> set[str]:
    """Customers with a negative or still unresolved ticket created in the last ``days`` days."""
    t = support_tickets.c
    end = end_of_day(day)
    q = sa.select(t.customer_id).distinct().where(
        t.created_at >= end - dt.timedelta(days=days),
        t.created_at < end,
        sa.or_(t.sentiment == "negative", t.resolved_at.is_(None), t.resolved_at >= end),
    )
    return set(conn.execute(q).scalars())


def _bucket(risk: float, hs: HealthSettings) -> str:
    for rule in hs.alerts.severities:  # highest threshold first
        if risk > rule.above:
            return "medium" if rule.name == "medium" else "high"
    return "low"


def journey_positions(conn: Connection, day: dt.date, settings: JourneySettings | None = None,
                      health: HealthSet | None = None, health_settings: HealthSettings | None = None,
                      first: Mapping[str, dt.date] | None = None,
                      risks: Mapping[str, float] | None = None) -> dict[str, JourneyPosition]:  # fmt: skip
    """Every customer's journey stage at ``day`` (customers with a subscription or order by then).

    ``health`` is the health at ``day`` when the caller has it (else computed, or read where it
    is stored), or ``risks`` its risk per scored customer, all a stage reads of it; ``first``: each
    customer's first day at ``day`` when the caller keeps them (:class:`FirstDays`).
    """
    rules = (settings or load_journey_settings()).stages
    hs = health_settings or load_health_settings()
    if risks is None:
        health = health if health is not None else health_at(conn, day, hs)
        risks = {r.customer_id: r.risk for r in health.worst(health.size())}
    support = _in_support(conn, day, rules.support_days)
    out = {}
    if first is None:
        order, start = first_days(conn, day)
        first = {**order, **start}
    for cid, began in sorted(first.items()):
        tenure = (day - began).days
        risk = risks.get(cid)
        if risk is None:
            out[cid] = JourneyPosition(cid, "churned", None, None, tenure, "no active subscription or recent order")
            continue
        stage: JourneyStage
        if risk > rules.churn_risk_above:
            stage, reason = "churn_risk", f"health risk {risk:.2f} above {rules.churn_risk_above}"
        elif cid in support:
            stage, reason = "support", f"a negative or open ticket in the last {rules.support_days} days"
        elif tenure < rules.onboarding_days:
            stage, reason = "onboarding", f"customer for {tenure} days (under {rules.onboarding_days})"
        elif tenure >= rules.retention_days:
            stage, reason = "retention", f"customer for {tenure} days (at least {rules.retention_days})"
        else:
            stage, reason = "engagement", f"customer for {tenure} days, no risk or support trouble"
        out[cid] = JourneyPosition(cid, stage, risk, _bucket(risk, hs), tenure, reason)
    return out
