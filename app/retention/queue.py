"""The P1/P2/P3 priority queue: tiers, priority score, recommended action and reason, and its rows in
the operations store (``customer_priority``, one set per run date).

Tiers (DESIGN.md section 9; thresholds in ``data/retention_ops.yaml``):

* P1 (prevention) = ACTIVE and HIGH churn risk (optionally also total_revenue >= the population
  median; off by default);
* P2 (intervention) = AT_RISK and HIGH or MEDIUM;
* P3 (win-back) = INACTIVE and HIGH and at most 180 days since the last order.

``priority_score`` = base (P1 70, P2 50, P3 30) + min(20, 2 ln(1 + total_revenue)) +
min(10, days_since_last_order / 3), capped at 100, one decimal (revenue in major units, never below
zero). The queue is ordered by tier, score descending, customer id.

Building the queue for a run date replaces that date's rows (so a rebuild gives the same rows), and
drops run dates more than ``retention_days`` (90) before the newest one.

Example:
    >>> from app.retention.settings import load_settings
    >>> priority_score("P1", 3847.0, 24, load_settings())
    94.5
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from app.errors import DataUnavailableError
from app.formatting import DEFAULT_CURRENCY, count, to_major
from app.retention.facts import CustomerRetention, RetentionFacts
from app.retention.settings import TIERS, RetentionOpsSettings, Tier, load_settings
from app.storage.bulk import bulk_insert
from app.storage.ops import customer_priority, customer_priority_runs
from app.storage.queries import as_date
from app.storage.schema import merchants

__all__ = [
    "QUEUE_TABLE",
    "QUEUE_ACTION",
    "PriorityEntry",
    "QueueCounts",
    "tier_of",
    "priority_score",
    "recommended_action",
    "priority_reason",
    "priority_queue",
    "source_currency",
    "write_queue",
    "queue_counts",
    "read_queue",
]

QUEUE_TABLE = f"{customer_priority.name}"  # a plain str (JSON Schema defaults must serialise)
QUEUE_ACTION = "build_priority_queue"
"""The registry name of the action that writes the queue (its audit rows are the brief's link)."""
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class PriorityEntry:
    """One queued customer: the facts, the tier and what to do (money in minor units)."""

    facts: CustomerRetention
    tier: Tier
    score: float
    action: str
    reason: str

    def row(self, run_date: dt.date, currency: str, now: dt.datetime) -> dict[str, Any]:
        """The ``customer_priority`` row of this entry."""
        c = self.facts
        return {
            "run_date": run_date,
            "customer_id": c.customer_id,
            "retention_status": c.retention_status,
            "churn_risk_level": c.churn_risk_level,
            "churn_risk_score": c.churn_risk_score,
            "is_frequency_drop": c.is_frequency_drop,
            "is_status_inconsistent": c.is_status_inconsistent,
            "is_value_drop": c.is_value_drop,
            "priority_tier": self.tier,
            "priority_score": self.score,
            "priority_reason": self.reason,
            "days_since_last_order": c.days_since_last_order,
            "last_order_date": c.last_order_date,
            "total_revenue_cents": c.total_revenue,
            "total_orders": c.total_orders,
            "avg_order_value_cents": round(c.avg_order_value),
            "value_proxy_cents": c.value_proxy,
            "currency": currency,
            "recommended_action": self.action,
            "created_at": now,
        }


class QueueCounts(BaseModel):
    """What a queue build reports (the seed's result of ``build_priority_queue``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_date: dt.date
    p1_count: int
    p2_count: int
    p3_count: int
    total: int
    population: int = Field(description="customers with a paid order on or before run_date")
    table_updated: str = QUEUE_TABLE
    pruned_run_dates: int = Field(0, description="older run dates removed by the retention rule in this build")

    def to_text(self) -> str:
        pruned = f"; {self.pruned_run_dates} old run date(s) removed" if self.pruned_run_dates else ""
        return (
            f"Priority queue for {self.run_date} written to {self.table_updated}: P1 {count(self.p1_count)}, "
            f"P2 {count(self.p2_count)}, P3 {count(self.p3_count)} ({count(self.total)} of "
            f"{count(self.population)} customers){pruned}."
        )

    def tier_count(self, tier: Tier) -> int:
        return {"P1": self.p1_count, "P2": self.p2_count, "P3": self.p3_count}[tier]


def tier_of(c: CustomerRetention, settings: RetentionOpsSettings, revenue_median: float | None = None) -> Tier | None:
    """The customer's tier, or None when they are not queued.

    ``revenue_median`` (minor units) is needed only when the P1 median switch is on.
    """
    rules = settings.queue
    if c.retention_status == "ACTIVE" and c.churn_risk_level == "HIGH":
        if rules.p1_revenue_at_least_median and (revenue_median is None or c.total_revenue < revenue_median):
            return None
        return "P1"
    if c.retention_status == "AT_RISK" and c.churn_risk_level in ("HIGH", "MEDIUM"):
        return "P2"
    if (
        c.retention_status == "INACTIVE"
        and c.churn_risk_level == "HIGH"
        and c.days_since_last_order <= rules.p3_max_days_since_last_order
    ):
        return "P3"
    return None


def priority_score(
    tier: Tier, total_revenue: float, days_since_last_order: int, settings: RetentionOpsSettings
) -> float:
    """Base + value bonus + urgency bonus, capped, one decimal (``total_revenue`` in major units)."""
    s = settings.queue.score
    value = min(s.value_bonus_max, s.value_bonus_factor * math.log1p(max(0.0, total_revenue)))
    urgency = min(s.urgency_bonus_max, days_since_last_order / s.urgency_days_per_point)
    return round(min(s.max, s.base[tier] + value + urgency), 1)


def recommended_action(tier: Tier, total_revenue: float, settings: RetentionOpsSettings) -> str:
    """The rule-based action; P1 by revenue band (``total_revenue`` in major units)."""
    a = settings.queue.actions
    if tier == "P2":
        return a.p2
    if tier == "P3":
        return a.p3
    if total_revenue > a.p1_high_value_above:
        return a.p1_high_value
    return a.p1_medium_value if total_revenue >= a.p1_medium_value_from else a.p1_standard_value


_STATUS_WORDS = {"ACTIVE": "Active", "AT_RISK": "At-risk", "INACTIVE": "Inactive"}


def priority_reason(c: CustomerRetention, settings: RetentionOpsSettings) -> str:
    """One short sentence naming the status and the churn flags behind the tier."""
    flags = []
    if c.is_frequency_drop:
        flags.append("ordering fell below half its earlier rate")
    if c.is_status_inconsistent:
        multiple = settings.churn_detection.status_inconsistent.gap_multiple
        flags.append(f"overdue: more than {multiple:g}x the usual {c.median_gap_days:g}-day gap between orders")
    if c.is_value_drop:
        flags.append("order value dropped")
    why = " and ".join(flags) or "no churn flag"
    return (
        f"{_STATUS_WORDS[c.retention_status]} customer, {c.days_since_last_order} days since the last order, "
        f"{c.churn_risk_level} churn risk ({c.churn_risk_score}): {why}."
    )


def priority_queue(
    facts: RetentionFacts, currency: str = DEFAULT_CURRENCY, settings: RetentionOpsSettings | None = None
) -> list[PriorityEntry]:
    """The queued customers ordered by tier, score descending, customer id."""
    settings = settings or load_settings()
    median = (
        statistics.median(c.total_revenue for c in facts)
        if settings.queue.p1_revenue_at_least_median and facts.population
        else None
    )
    entries = []
    for c in facts:
        tier = tier_of(c, settings, median)
        if tier is None:
            continue
        revenue = to_major(c.total_revenue, currency)
        entries.append(
            PriorityEntry(
                facts=c,
                tier=tier,
                score=priority_score(tier, revenue, c.days_since_last_order, settings),
                action=recommended_action(tier, revenue, settings),
                reason=priority_reason(c, settings),
            )
        )
    entries.sort(key=lambda e: (TIERS.index(e.tier), -e.score, e.facts.customer_id))
    return entries


def source_currency(conn: Connection) -> str:
    """ISO 4217 code of the (first) merchant's amounts in the source data (USD when none is named)."""
    code = conn.execute(select(merchants.c.currency).order_by(merchants.c.merchant_id).limit(1)).scalar()
    return str(code or DEFAULT_CURRENCY)


def write_queue(
    ops: Connection,
    facts: RetentionFacts,
    entries: list[PriorityEntry],
    *,
    currency: str,
    now: dt.datetime,
    settings: RetentionOpsSettings | None = None,
) -> QueueCounts:
    """Replace the run date's rows with ``entries`` and apply the retention rule, on an open
    operations-store connection (the caller's transaction)."""
    settings = settings or load_settings()
    run_date = facts.as_of
    cp, runs = customer_priority.c, customer_priority_runs.c
    ops.execute(delete(customer_priority).where(cp.run_date == run_date))
    ops.execute(delete(customer_priority_runs).where(runs.run_date == run_date))
    bulk_insert(ops, customer_priority, [e.row(run_date, currency, now) for e in entries])  # one executemany / COPY
    tiers = {t: sum(1 for e in entries if e.tier == t) for t in TIERS}
    ops.execute(
        insert(customer_priority_runs).values(
            run_date=run_date, population=facts.population, p1_count=tiers["P1"], p2_count=tiers["P2"],
            p3_count=tiers["P3"], currency=currency, built_at=now,
        )
    )  # fmt: skip
    newest = as_date(ops.execute(select(func.max(runs.run_date))).scalar())
    cutoff = newest - settings.queue.retention_days * _DAY
    pruned = ops.execute(delete(customer_priority_runs).where(runs.run_date < cutoff)).rowcount or 0
    ops.execute(delete(customer_priority).where(cp.run_date < cutoff))
    return QueueCounts(
        run_date=run_date, p1_count=tiers["P1"], p2_count=tiers["P2"], p3_count=tiers["P3"], total=len(entries),
        population=facts.population, pruned_run_dates=pruned,
    )  # fmt: skip


def queue_counts(ops: Connection, run_date: dt.date) -> QueueCounts | None:
    """The counts of the queue built for ``run_date``, or None when it was never built (or was pruned)."""
    r = customer_priority_runs.c
    row = ops.execute(select(customer_priority_runs).where(r.run_date == run_date)).mappings().first()
    if row is None:
        return None
    counts = (row["p1_count"], row["p2_count"], row["p3_count"])
    return QueueCounts(
        run_date=run_date, p1_count=counts[0], p2_count=counts[1], p3_count=counts[2], total=sum(counts),
        population=row["population"],
    )  # fmt: skip


def read_queue(
    ops: Connection, run_date: dt.date, tier: Tier | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """``customer_priority`` rows of a run date (one tier or all), in queue order.

    Raises:
        DataUnavailableError: the queue of ``run_date`` was never built (or was pruned).
    """
    if queue_counts(ops, run_date) is None:
        raise DataUnavailableError(
            f"no priority queue was built for {run_date}; run build_priority_queue for that date first "
            f"(`cjsim ops queue --date {run_date}`)"
        )
    cp = customer_priority.c
    stmt = select(customer_priority).where(cp.run_date == run_date)
    if tier is not None:
        stmt = stmt.where(cp.priority_tier == tier)
    stmt = stmt.order_by(cp.priority_tier, cp.priority_score.desc(), cp.customer_id)  # "P1" < "P2" < "P3"
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(r) for r in ops.execute(stmt).mappings()]
