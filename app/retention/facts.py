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

Everything is read with four portable SQL queries (no per-customer round trips, no scan of the
orders): three ranges of ``customer_order_days`` (the running totals of each customer's order days,
written with the orders at load, import and refresh; see :mod:`app.storage.order_days`), the rows
in force at ``d`` and at the starts of the recent and value-proxy windows, and the refunds grouped
by customer. Every backend (the DataAgent's embedded SQLite, a SQLite file, PostgreSQL) gives the
same facts.

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
from operator import attrgetter
from typing import Any, Literal, TypeVar

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from app.retention.settings import RetentionOpsSettings, load_settings
from app.storage.customer_frame import RETENTION_DAYS
from app.storage.queries import as_date, driver_rows
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
    return RetentionFacts(as_of=as_of, customers=_customers(conn, as_of, settings or load_settings()))


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


def in_force(days: Any, d: dt.date) -> ColumnElement[bool]:
    """Rows of ``customer_order_days`` (or an alias) in force at ``d``: each customer's latest order day
    on or before ``d`` (its row holds the totals of every charged order up to ``d``)."""
    return and_(days.c.next_day > d, days.c.day <= d)


def _totals_at(conn: Connection, d: dt.date, column: Any) -> dict[str, int]:
    """Customer -> ``column`` (a running total) of the row in force at ``d``."""
    t = customer_order_days.c
    return dict(driver_rows(conn, select(t.customer_id, column).where(in_force(customer_order_days, d))))


def _refunds_by_customer(conn: Connection, d: dt.date) -> dict[str, int]:
    r = refunds.c
    stmt = select(r.customer_id, func.sum(r.amount_cents)).where(r.refunded_on <= d).group_by(r.customer_id)
    return {str(c): int(a or 0) for c, a in conn.execute(stmt)}


def _customers(conn: Connection, d: dt.date, settings: RetentionOpsSettings) -> tuple[CustomerRetention, ...]:
    """Every customer's facts and churn flags at ``d``, ordered by customer id.

    One row per customer from ``customer_order_days``: the row in force at ``d`` (totals up to ``d``)
    and those in force at the starts of the recent and value-proxy windows (totals before them), each
    one range of the ``next_day`` index, so no order is read; then the rules in one pass."""
    t = customer_order_days.c
    rules = settings.churn_detection
    freq, overdue = rules.frequency_drop, rules.status_inconsistent
    before_recent = _totals_at(conn, d - freq.recent_days * _DAY, t.orders_to_date)
    before_proxy = _totals_at(conn, d - settings.facts.value_proxy_days * _DAY, t.amount_to_date)
    returned = _refunds_by_customer(conn, d)
    value_drop = rules.value_drop.enabled  # disabled in V1: the model only admits false
    value_points = rules.value_drop.points if value_drop else 0
    history_cut = d - freq.min_history_days * _DAY  # the first order on or before it
    earlier_end = d - freq.recent_days * _DAY  # the earlier orders: on or before it
    days_of: dict[object, tuple[dt.date, int, RetentionStatus]] = {}  # raw day (ISO text on SQLite) -> (date,
    # days to d, status of a customer whose last order it is), computed once per distinct day
    levels: dict[int, RiskLevel] = {}
    stmt = select(
        t.customer_id, t.first_day, t.day, t.orders_to_date, t.amount_to_date, t.day_number, t.median_gap_days
    ).where(in_force(customer_order_days, d))
    new = object.__new__
    out = []
    for cid, first_raw, last_raw, n, amount, days, median in driver_rows(conn, stmt):
        known = days_of.get(first_raw)
        first = (known or _parsed(days_of, first_raw, d))[0]
        known = days_of.get(last_raw)
        last, since, status = known or _parsed(days_of, last_raw, d)
        recent = n - before_recent.get(cid, 0)
        earlier = n - recent
        frequency_drop = False
        if first <= history_cut and earlier >= freq.min_earlier_orders:
            # the earlier rate per recent-window length, over the history from the first order to d - 90
            earlier_rate = earlier * freq.recent_days / (earlier_end - first).days
            frequency_drop = recent < freq.rate_ratio * earlier_rate
        median_gap = None if median is None else float(median)
        inconsistent = (
            days >= overdue.min_order_days and median_gap is not None and since > overdue.gap_multiple * median_gap
        )
        score = (freq.points if frequency_drop else 0) + (overdue.points if inconsistent else 0) + value_points
        level = levels.get(score)
        if level is None:
            level = levels[score] = risk_level(score, settings)
        # A frozen dataclass's __init__ sets each field through object.__setattr__; filling the
        # instance dict at once builds the same object (equal, same hash) several times faster,
        # which counts at 100k customers per date.
        c = new(CustomerRetention)
        c.__dict__.update(
            customer_id=cid, total_revenue=amount - returned.get(cid, 0), total_orders=n, first_order_date=first,
            last_order_date=last, days_since_last_order=since, value_proxy=amount - before_proxy.get(cid, 0),
            recent_orders=recent, order_days=days, median_gap_days=median_gap, retention_status=status,
            is_frequency_drop=frequency_drop, is_status_inconsistent=inconsistent, is_value_drop=value_drop,
            churn_risk_score=score, churn_risk_level=level,
        )  # fmt: skip
        out.append(c)
    out.sort(key=attrgetter("customer_id"))
    return tuple(out)


def _parsed(
    seen: dict[object, tuple[dt.date, int, RetentionStatus]], raw: object, d: dt.date
) -> tuple[dt.date, int, RetentionStatus]:
    day = as_date(raw)
    since = (d - day).days
    found = seen[raw] = (day, since, retention_status(since))
    return found
