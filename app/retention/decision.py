"""The alert decision (AT_RISK share against its 7-day baseline) and the operational context at a date.

Alert decision at ``d`` (DESIGN.md section 9, thresholds in ``data/retention_ops.yaml``):

* ``current_value`` = AT_RISK customers as a percentage of the population (customers with a paid
  order on or before the day);
* ``baseline_value`` = mean of that share over ``d-7 .. d-1``; with fewer than 7 of those days
  having a population the decision is in warm-up: INFO, ``alert_flag`` false;
* ``delta_relative_pct`` = (current - baseline) / baseline x 100; CRITICAL from 30, WARNING from
  15, else INFO. A zero baseline has no relative change: INFO, with the reason stated;
* ``sample_size`` = the population.

The shares of all eight days come from two queries (no per-customer work): the population of each
day is a running sum of the daily first-order summary, and a customer is AT_RISK at ``t`` when
their order day in force at ``t`` (``customer_order_days``, see :func:`~app.retention.facts.in_force`)
lies in ``[t-90, t-31]``, so AT_RISK(t) is a conditional count over the rows in force at one of the
eight days (one range of the ``next_day`` index; no order is read).

Example:
    >>> from app.providers.data_agent import DataAgent
    >>> agent = DataAgent.create("steady_operations", "sarah_chen", seed=1)
    >>> decision = agent.read_source(lambda conn: alert_decision(conn, agent.default_as_of()))
    >>> decision.severity
    'INFO'
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Connection

from app.formatting import count, pct
from app.retention.facts import RetentionFacts, RetentionStatus, RiskLevel, in_force
from app.retention.settings import RetentionOpsSettings, load_settings
from app.storage import order_queries as oq
from app.storage.customer_frame import RETENTION_DAYS
from app.storage.schema import customer_order_days

__all__ = [
    "AlertSeverity",
    "AlertDecision",
    "OperationalContext",
    "at_risk_shares",
    "alert_decision",
    "operational_context",
]

AlertSeverity = Literal["INFO", "WARNING", "CRITICAL"]
_DAY = dt.timedelta(days=1)


class AlertDecision(BaseModel):
    """The macro alert decision at ``alert_date`` (the seed's ``alert_logic`` row)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_date: dt.date
    severity: AlertSeverity
    alert_flag: bool = Field(description="true for WARNING and CRITICAL")
    current_value: float | None = Field(
        description="AT_RISK share of the population at alert_date, percent (2 decimals)"
    )
    baseline_value: float | None = Field(
        description="mean AT_RISK share over the baseline days before alert_date, percent"
    )
    delta_relative_pct: float | None = Field(description="(current - baseline) / baseline x 100, one decimal")
    sample_size: int = Field(description="customers with a paid order on or before alert_date")
    at_risk_count: int = Field(description="AT_RISK customers at alert_date")
    baseline_days_available: int = Field(description="days of the baseline window with a population")
    warm_up: bool = Field(description="fewer baseline days than required: INFO whatever the share")
    reason: str = Field(description="why this severity, in one sentence")

    def to_text(self) -> str:
        head = f"Alert decision {self.alert_date}: {self.severity} (alert {'on' if self.alert_flag else 'off'})"
        if self.current_value is None:
            return f"{head}. No customer has a paid order yet. {self.reason}"
        base = "n/a" if self.baseline_value is None else pct(self.baseline_value, 2)
        delta = "n/a" if self.delta_relative_pct is None else f"{self.delta_relative_pct:+.1f}%"
        return (
            f"{head}. AT_RISK share {pct(self.current_value, 2)} ({count(self.at_risk_count)} of "
            f"{count(self.sample_size)} customers), baseline {base}, relative change {delta}. {self.reason}"
        )


class OperationalContext(BaseModel):
    """Status distribution and the AT_RISK customers by churn risk level at ``date``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date
    total_customers: int
    status_distribution: dict[RetentionStatus, int]
    at_risk_by_risk_level: dict[RiskLevel, int]

    def to_text(self) -> str:
        def share(n: int) -> str:
            return pct(n / self.total_customers * 100) if self.total_customers else "n/a"

        statuses = ", ".join(f"{s} {count(n)} ({share(n)})" for s, n in self.status_distribution.items())
        risks = ", ".join(f"{level} {count(n)}" for level, n in self.at_risk_by_risk_level.items())
        return (
            f"Operational context {self.date}: {count(self.total_customers)} customers with a paid order. "
            f"Status: {statuses}. AT_RISK customers by churn risk level: {risks}."
        )


def at_risk_shares(conn: Connection, days: list[dt.date]) -> list[tuple[int, int]]:
    """Per day: (population, AT_RISK customers), from two set-based queries."""
    active_days, risk_days = RETENTION_DAYS
    population = [n for n, _ in oq.customers_by(conn, days)]
    t = customer_order_days.c
    cols = []
    for day in days:  # AT_RISK at `day`: the last order day in force there is 31-90 days back
        at_risk = and_(in_force(customer_order_days, day), t.day >= day - risk_days * _DAY, t.day < day - active_days * _DAY)
        cols.append(func.sum(case((at_risk, 1), else_=0)))
    lo, hi = min(days) - risk_days * _DAY, max(days) - active_days * _DAY
    row = conn.execute(select(*cols).where(t.next_day > min(days), t.day >= lo, t.day < hi)).one()  # the index range
    return [(population[i], int(row[i] or 0)) for i in range(len(days))]


def alert_decision(conn: Connection, day: dt.date, settings: RetentionOpsSettings | None = None) -> AlertDecision:
    """The alert decision at ``day`` from the source tables (read only)."""
    rules = (settings or load_settings()).alert
    days = [day - k * _DAY for k in range(rules.baseline_days, 0, -1)] + [day]
    shares = at_risk_shares(conn, days)
    population, at_risk = shares[-1]
    prior = [risk / pop * 100 for pop, risk in shares[:-1] if pop]
    current = at_risk / population * 100 if population else None
    warm_up = len(prior) < rules.baseline_days
    baseline = sum(prior) / len(prior) if prior else None
    delta: float | None = None
    severity: AlertSeverity = "INFO"
    if current is None:
        reason = "No population yet, so no share to compare."
    elif warm_up:
        reason = (
            f"Warm-up: only {len(prior)} of the {rules.baseline_days} days before have customers, "
            "so there is no full baseline yet."
        )
    elif not baseline:
        reason = "The baseline share is zero, so a relative change cannot be computed."
    else:
        delta = round((current - baseline) / baseline * 100, 1)
        if delta >= rules.critical_delta_pct:
            severity = "CRITICAL"
            reason = (
                f"The AT_RISK share is {delta:.1f}% above its baseline (CRITICAL from {rules.critical_delta_pct:g}%)."
            )
        elif delta >= rules.warning_delta_pct:
            severity = "WARNING"
            reason = (
                f"The AT_RISK share is {delta:.1f}% above its baseline (WARNING from {rules.warning_delta_pct:g}%)."
            )
        else:
            reason = (
                f"The relative change {delta:+.1f}% is below the WARNING threshold of {rules.warning_delta_pct:g}%."
            )
    return AlertDecision(
        alert_date=day,
        severity=severity,
        alert_flag=severity != "INFO",
        current_value=None if current is None else round(current, 2),
        baseline_value=None if baseline is None else round(baseline, 2),
        delta_relative_pct=delta,
        sample_size=population,
        at_risk_count=at_risk,
        baseline_days_available=len(prior),
        warm_up=warm_up,
        reason=reason,
    )


def operational_context(facts: RetentionFacts) -> OperationalContext:
    """Status distribution and AT_RISK customers by risk level, from the facts at a date."""
    return OperationalContext(
        date=facts.as_of,
        total_customers=facts.population,
        status_distribution=facts.status_counts(),
        at_risk_by_risk_level=facts.risk_counts("AT_RISK"),
    )
