"""Orders-based retention facts at a date: base facts, retention status and churn detection.

The population at ``d`` is every customer with a paid order on or before ``d`` ("paid" as in every
order view: status ``paid`` or ``refunded``, the money was taken; refunds are their own records and
are subtracted from revenue). Per customer (DESIGN.md section 9; thresholds in
``data/retention_ops.yaml``):

* ``total_revenue`` (net of refunds issued by ``d``), ``total_orders``, ``avg_order_value``,
  ``last_order_date``, ``days_since_last_order``, ``value_proxy`` (paid amounts in (d - 365, d]);
* ``retention_status``: ACTIVE up to 30 days since the last order, AT_RISK 31-90, INACTIVE beyond;
* churn detection, score 0-70: ``is_frequency_drop`` (+40), ``is_status_inconsistent`` (+30,
  "overdue"), ``is_value_drop`` (disabled: always false); ``churn_risk_level`` HIGH / MEDIUM / LOW.

Everything is read with two portable SQL queries (no per-customer round trips, no scan of the
orders): one row per customer from ``customer_order_days`` (the running totals of each customer's
order days, written with the orders at load, import and refresh; see
:mod:`app.storage.order_days`) and the refunds grouped by customer. Every backend (the DataAgent's
embedded SQLite, a SQLite file, PostgreSQL) gives the same facts.

Example:
    >>> from app.providers.data_agent import DataAgent
    >>> agent = DataAgent.create("churn_spike", "sarah_chen", seed=1)
    >>> facts = agent.read_source(lambda conn: retention_facts(conn, agent.default_as_of()))
    >>> facts.population > 0 and set(facts.status_counts()) == {"ACTIVE", "AT_RISK", "INACTIVE"}
    True
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import String, and_, func, or_, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from app.retention.settings import RetentionOpsSettings, load_settings
from app.storage.customer_frame import RETENTION_DAYS
from app.storage.queries import as_date
from app.storage.schema import customer_order_days, refunds

__all__ = [
    "RetentionStatus",
    "RiskLevel",
    "STATUSES",
    "RISK_LEVELS",
    "retention_status",
    "risk_level",
    "CustomerRetention",
    "RetentionFacts",
    "retention_facts",
    "Memo",
    "remembered",
    "in_force",
]

RetentionStatus = Literal["ACTIVE", "AT_RISK", "INACTIVE"]
RiskLevel = Literal["HIGH", "MEDIUM", "LOW"]
STATUSES: tuple[RetentionStatus, ...] = ("ACTIVE", "AT_RISK", "INACTIVE")
RISK_LEVELS: tuple[RiskLevel, ...] = ("HIGH", "MEDIUM", "LOW")

_DAY = dt.timedelta(days=1)


def retention_status(days_since_last_order: int) -> RetentionStatus:
    """ACTIVE, AT_RISK or INACTIVE by the customer_list filters' thresholds (``RETENTION_DAYS``)."""
    active_days, risk_days = RETENTION_DAYS
    if days_since_last_order <= active_days:
        return "ACTIVE"
    return "AT_RISK" if days_since_last_order <= risk_days else "INACTIVE"


def risk_level(score: int, settings: RetentionOpsSettings) -> RiskLevel:
    """HIGH from ``high_min_score`` (40), MEDIUM from ``medium_min_score`` (30), else LOW."""
    levels = settings.risk_levels
    if score >= levels.high_min_score:
        return "HIGH"
    return "MEDIUM" if score >= levels.medium_min_score else "LOW"


@dataclass(frozen=True)
class CustomerRetention:
    """One customer's orders-based facts at a date (money in minor units of the merchant's currency)."""

    customer_id: str
    total_revenue: int
    """Paid order amounts on or before the date, minus refunds issued to the customer by then."""
    total_orders: int
    first_order_date: dt.date
    last_order_date: dt.date
    days_since_last_order: int
    value_proxy: int
    """Paid order amounts in the last 365 days (gross of refunds)."""
    recent_orders: int
    """Paid orders in the recent window (d - 90, d]."""
    order_days: int
    """Distinct days with a paid order."""
    median_gap_days: float | None
    """Median of the gaps between consecutive distinct order days (None with fewer than two days)."""
    retention_status: RetentionStatus
    is_frequency_drop: bool
    is_status_inconsistent: bool
    is_value_drop: bool
    churn_risk_score: int
    churn_risk_level: RiskLevel

    @property
    def avg_order_value(self) -> float:
        """Net revenue per paid order, minor units."""
        return self.total_revenue / self.total_orders if self.total_orders else 0.0


@dataclass(frozen=True)
class RetentionFacts:
    """Every customer of the population at ``as_of``, ordered by customer id."""

    as_of: dt.date
    customers: tuple[CustomerRetention, ...]

    @property
    def population(self) -> int:
        return len(self.customers)

    def __iter__(self) -> Iterator[CustomerRetention]:
        return iter(self.customers)

    def status_counts(self) -> dict[RetentionStatus, int]:
        """Customers per retention status (every status present, zero included)."""
        found = Counter(c.retention_status for c in self.customers)
        return {s: found.get(s, 0) for s in STATUSES}

    def risk_counts(self, status: RetentionStatus | None = None) -> dict[RiskLevel, int]:
        """Customers per churn risk level, optionally of one retention status."""
        found = Counter(c.churn_risk_level for c in self.customers if status is None or c.retention_status == status)
        return {level: found.get(level, 0) for level in RISK_LEVELS}


def retention_facts(conn: Connection, as_of: dt.date, settings: RetentionOpsSettings | None = None) -> RetentionFacts:
    """The population's facts at ``as_of`` from the source tables (read only)."""
    settings = settings or load_settings()
    base = _order_days(conn, as_of, settings)
    returned = _refunds_by_customer(conn, as_of, set(base))
    customers = tuple(_customer(cid, row, returned.get(cid, 0), as_of, settings) for cid, row in sorted(base.items()))
    return RetentionFacts(as_of=as_of, customers=customers)


T = TypeVar("T")
Memo = Callable[[Hashable, Callable[[], Any]], Any]
"""A provider's ``source_memo``: a result derived from the source, computed once per key."""


def remembered(
    memo: Memo | None, name: str, day: dt.date, settings: RetentionOpsSettings, compute: Callable[[], T]
) -> T:
    """``compute()`` once per (name, date, settings) in ``memo`` (a provider's ``source_memo``), so the
    steps of a run (context, queue, brief, exports) share one computation of a date's facts; computed
    every time without a memo."""
    if memo is None:
        return compute()
    result: T = memo((name, day, settings.model_dump_json()), compute)
    return result


class _Days:
    """Day values as read (ISO text on SQLite, dates on PostgreSQL) to dates, each distinct day parsed once:
    a shop has a few thousand order days but up to millions of customers."""

    def __init__(self) -> None:
        self._seen: dict[object, dt.date] = {}

    def date(self, value: object) -> dt.date:
        found = self._seen.get(value)
        if found is None:
            found = self._seen[value] = as_date(value)
        return found


def _day(column):  # the raw value: the Date type's per-row parsing is the slow part of reading many rows
    return type_coerce(column, String)


def in_force(days: Any, d: dt.date) -> ColumnElement[bool]:
    """Rows of ``customer_order_days`` (or an alias) in force at ``d``: each customer's latest order day
    on or before ``d`` (its row holds the totals of every charged order up to ``d``)."""
    return and_(days.c.day <= d, or_(days.c.next_day.is_(None), days.c.next_day > d))


def _order_days(conn: Connection, d: dt.date, settings: RetentionOpsSettings) -> dict[str, tuple]:
    """Customer -> (first day, last day, orders, amount, value proxy amount, recent orders, distinct order
    days, median gap in days between consecutive ones or None).

    One row per customer: its ``customer_order_days`` row in force at ``d`` (totals up to ``d``), joined
    to those in force at the starts of the recent and value-proxy windows (totals before them), so no
    order is read."""
    now, at_recent, at_proxy = (customer_order_days.alias(n) for n in ("now", "at_recent", "at_proxy"))
    recent_lo = d - settings.churn_detection.frequency_drop.recent_days * _DAY
    proxy_lo = d - settings.facts.value_proxy_days * _DAY
    columns = (
        now.c.customer_id, _day(now.c.first_day), _day(now.c.day), now.c.orders_to_date, now.c.amount_to_date,
        now.c.day_number, now.c.median_gap_days, at_recent.c.orders_to_date, at_proxy.c.amount_to_date,
    )  # fmt: skip
    stmt = (
        select(*columns)
        .select_from(
            now.outerjoin(at_recent, and_(at_recent.c.customer_id == now.c.customer_id, in_force(at_recent, recent_lo)))
            .outerjoin(at_proxy, and_(at_proxy.c.customer_id == now.c.customer_id, in_force(at_proxy, proxy_lo)))
        )
        .where(in_force(now, d))
    )
    date_of = _Days().date
    out: dict[str, tuple] = {}
    for cid, first, last, n, amount, days, median, n_before, amount_before in conn.execute(stmt):
        n, amount = int(n), int(amount)
        recent = n - int(n_before or 0)
        proxy = amount - int(amount_before or 0)
        gap = None if median is None else float(median)
        out[str(cid)] = (date_of(first), date_of(last), n, amount, proxy, recent, int(days), gap)
    return out


def _refunds_by_customer(conn: Connection, d: dt.date, population: set[str]) -> dict[str, int]:
    r = refunds.c
    stmt = select(r.customer_id, func.sum(r.amount_cents)).where(r.refunded_on <= d).group_by(r.customer_id)
    return {str(c): int(a or 0) for c, a in conn.execute(stmt) if str(c) in population}


def _customer(cid: str, row: tuple, returned: int, d: dt.date, settings: RetentionOpsSettings) -> CustomerRetention:
    first, last, n, amount, proxy, recent, days, median_gap = row
    since = (d - last).days
    rules = settings.churn_detection
    freq = rules.frequency_drop
    earlier = n - recent
    frequency_drop = False
    if first <= d - freq.min_history_days * _DAY and earlier >= freq.min_earlier_orders:
        # the earlier rate per recent-window length, over the history from the first order to d - 90
        history_days = (d - freq.recent_days * _DAY - first).days
        earlier_rate = earlier * freq.recent_days / history_days
        frequency_drop = recent < freq.rate_ratio * earlier_rate
    overdue = rules.status_inconsistent
    inconsistent = (
        days >= overdue.min_order_days and median_gap is not None and since > overdue.gap_multiple * median_gap
    )
    value_drop = rules.value_drop.enabled  # disabled in V1: the model only admits false
    score = (
        (freq.points if frequency_drop else 0)
        + (overdue.points if inconsistent else 0)
        + (rules.value_drop.points if value_drop else 0)
    )
    return CustomerRetention(
        customer_id=cid,
        total_revenue=amount - returned,
        total_orders=n,
        first_order_date=first,
        last_order_date=last,
        days_since_last_order=since,
        value_proxy=proxy,
        recent_orders=recent,
        order_days=days,
        median_gap_days=median_gap,
        retention_status=retention_status(since),
        is_frequency_drop=frequency_drop,
        is_status_inconsistent=inconsistent,
        is_value_drop=value_drop,
        churn_risk_score=score,
        churn_risk_level=risk_level(score, settings),
    )
