"""Per-customer facts at a date (status, plan, lifetime value, risk) and the segment definitions.

Segments (docs/metrics.md):
* ``high_value`` - active customers in the top 20% by lifetime value (ceil, ties by id);
* ``at_risk`` - active customers whose risk score is at least 0.6;
* ``new`` - customers with a subscription started in the last 30 days;
* ``churned`` - customers with a cancellation in the last 90 days and no active subscription.

Risk score: ``1 - prod(1 - weight[type] * strength)`` over the customer's signals detected in
the 60 days up to ``as_of``: independent pieces of evidence, each able to push risk towards 1.

Views reach these facts through the :class:`CustomerFacts` interface. :class:`CustomerFrame`
computes them in memory from the base tables; ``app.storage.customer_facts.StoredFacts`` reads
the same facts materialised by a refresh (built by this very class), so a large database answers
with index walks instead of loading every customer.
"""

from __future__ import annotations

import abc
import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from app.storage import order_queries as oq
from app.storage import queries as q

__all__ = [
    "RISK_WEIGHTS",
    "RISK_WINDOW_DAYS",
    "AT_RISK_THRESHOLD",
    "HIGH_VALUE_SHARE",
    "SEGMENT_DEFINITIONS",
    "FILTERS",
    "RETENTION_DAYS",
    "RETENTION_FILTERS",
    "last_order_range",
    "ORDERS",
    "risk_score",
    "tenure_days",
    "CustomerRecord",
    "SegmentStats",
    "CustomerFacts",
    "CustomerFrame",
]

RISK_WEIGHTS: dict[str, float] = {
    "failed_payment": 0.6,
    "negative_ticket": 0.5,
    "engagement_drop": 0.4,
    "skipped_box": 0.35,
}
RISK_WINDOW_DAYS = 60
AT_RISK_THRESHOLD = 0.6
HIGH_VALUE_SHARE = 0.2
NEW_DAYS = 30
CHURNED_DAYS = 90

SEGMENT_DEFINITIONS: dict[str, str] = {
    "high_value": "active customers in the top 20% by lifetime value",
    "at_risk": f"active customers with a churn risk score of at least {AT_RISK_THRESHOLD}",
    "new": f"customers who started a subscription in the last {NEW_DAYS} days",
    "churned": f"customers who cancelled in the last {CHURNED_DAYS} days and have no active subscription",
}


def risk_score(signals: list[tuple[str, float]]) -> float:
    """Combine (signal_type, strength) pairs into a 0-1 risk score (4 decimals)."""
    keep = 1.0
    for signal_type, strength in signals:
        keep *= 1.0 - RISK_WEIGHTS.get(signal_type, 0.0) * max(0.0, min(1.0, float(strength)))
    return round(1.0 - keep, 4)


@dataclass
class CustomerRecord:
    """One customer as known at the frame's date."""

    customer_id: str
    name: str
    created_on: dt.date
    status: str  # active | cancelled | never_subscribed
    plan: str | None
    mrr_cents: int
    started_on: dt.date | None
    last_started_on: dt.date | None
    cancelled_on: dt.date | None
    cancel_reason: str | None
    ltv_cents: int = 0
    risk: float = 0.0
    first_order_on: dt.date | None = None
    last_order_on: dt.date | None = None
    """First and last charged order (known in the in-memory frame; list orders fall back on them)."""
    signals: list[tuple[str, float, dt.date]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status == "active"


def tenure_days(rec: CustomerRecord, as_of: dt.date) -> int:
    """Days from the first subscription start to the cancellation (or ``as_of`` while active)."""
    if rec.started_on is None:
        return 0
    end = rec.cancelled_on if rec.cancelled_on else as_of
    return (end - rec.started_on).days


FILTERS = ("all", "active", *SEGMENT_DEFINITIONS)
"""Customer sets a list can be drawn from: everyone, the active ones, or a segment."""

RETENTION_DAYS = (30, 90)
"""Days since the last order up to which a customer is ACTIVE, then AT_RISK; beyond: INACTIVE."""

RETENTION_FILTERS: dict[str, str] = {
    "order_active": "ACTIVE",
    "order_at_risk": "AT_RISK",
    "order_inactive": "INACTIVE",
}
"""List filters by orders-based retention status (any shop with orders, DESIGN.md 9): customers
whose last charged order on or before ``as_of`` is that many days old."""


def last_order_range(filter: str, as_of: dt.date) -> tuple[dt.date | None, dt.date]:
    """(earliest or None, latest) last-order day of a retention filter's members, both inclusive."""
    active_days, risk_days = RETENTION_DAYS
    day = dt.timedelta(days=1)
    status = RETENTION_FILTERS[filter]
    if status == "ACTIVE":
        return as_of - active_days * day, as_of
    if status == "AT_RISK":
        return as_of - risk_days * day, as_of - (active_days + 1) * day
    return None, as_of - (risk_days + 1) * day

ORDERS: dict[str, Callable[[CustomerRecord], tuple]] = {
    "ltv": lambda r: (-r.ltv_cents, r.customer_id),
    "risk": lambda r: (-r.risk, r.customer_id),
    "risk_ltv": lambda r: (-r.risk, -r.ltv_cents, r.customer_id),
    "tenure": lambda r: (r.started_on or r.first_order_on or dt.date.max, r.customer_id),
    "recent": lambda r: (-(r.last_started_on or r.last_order_on or dt.date.min).toordinal(), r.customer_id),
    "name": lambda r: (r.name, r.customer_id),
    "cancelled": lambda r: (-(r.cancelled_on or dt.date.min).toordinal(), r.customer_id),
}
"""Every order a list or a segment sample can be sorted in (total orders: ties broken by id).

Tenure and recency follow subscriptions (first start, latest start); a customer without any
(every customer of an orders-only shop) is placed by the first and the last order instead."""


@dataclass(frozen=True)
class SegmentStats:
    """Size of a customer set and the sums behind its averages (members summed in id order)."""

    size: int
    ltv_cents: int
    mrr_cents: int
    risk_sum: float
    tenure_days: int
    signals: tuple[tuple[str, int], ...] = ()
    """(signal type, count) over the members' risk-window signals, most frequent first."""


class CustomerFacts(abc.ABC):
    """What customer-level views may ask about the customers at one ``as_of``."""

    as_of: dt.date

    @abc.abstractmethod
    def count(self, filter: str) -> int:
        """Customers in a set of :data:`FILTERS`."""

    @abc.abstractmethod
    def first(self, filter: str, order: str, limit: int) -> list[CustomerRecord]:
        """The first ``limit`` customers of a set in one of the :data:`ORDERS` (signals not loaded)."""

    @abc.abstractmethod
    def segment_stats(self, segment: str) -> SegmentStats:
        """Size and sums of a set."""

    @abc.abstractmethod
    def record(self, customer_id: str) -> CustomerRecord | None:
        """One customer with its risk-window signals, or None if unknown at ``as_of``."""

    @abc.abstractmethod
    def segments_of(self, customer_id: str) -> list[str]:
        """Names of the segments a customer belongs to, in definition order."""

    @abc.abstractmethod
    def mrr_cents_of(self, customer_ids: Iterable[str]) -> int:
        """MRR of the given customers' active subscriptions (unknown ids count zero)."""


class CustomerFrame(CustomerFacts):
    """Every customer at ``as_of`` with the numbers segments, lists and profiles need, in memory.

    Built with four set-based queries and cached by the provider per ``as_of``.
    """

    def __init__(self, conn: Connection, as_of: dt.date) -> None:
        self.as_of = as_of
        self.records: dict[str, CustomerRecord] = {}
        for c in q.customer_base(conn, as_of):
            self.records[c["customer_id"]] = _record(c, as_of)
        for cid, ltv in q.lifetime_value_cents(conn, as_of).items():
            if cid in self.records:
                self.records[cid].ltv_cents = ltv
        for cid, (first, last) in oq.order_span(conn, as_of).items():
            if cid in self.records:
                self.records[cid].first_order_on, self.records[cid].last_order_on = first, last
        window = q.Window.ending(as_of, RISK_WINDOW_DAYS)
        for cid, signal_type, strength, detected in q.signals_in(conn, window):
            if cid in self.records:
                self.records[cid].signals.append((str(signal_type), float(strength), q.as_date(detected)))
        for rec in self.records.values():
            rec.signals.sort(key=lambda s: (s[2], s[0], s[1]))
            rec.risk = risk_score([(t, s) for t, s, _ in rec.signals])
        self.active = sorted((r for r in self.records.values() if r.active), key=lambda r: r.customer_id)
        self._segments: dict[str, list[CustomerRecord]] = {}

    def segment(self, name: str) -> list[CustomerRecord]:
        """Members of a segment, ordered by customer id."""
        if name not in self._segments:
            self._segments[name] = sorted(self._members(name), key=lambda r: r.customer_id)
        return self._segments[name]

    def _members(self, name: str) -> list[CustomerRecord]:
        if name == "high_value":
            k = math.ceil(HIGH_VALUE_SHARE * len(self.active))
            return sorted(self.active, key=lambda r: (-r.ltv_cents, r.customer_id))[:k]
        if name == "at_risk":
            return [r for r in self.active if r.risk >= AT_RISK_THRESHOLD]
        if name == "new":
            lo = self.as_of - dt.timedelta(days=NEW_DAYS)
            return [r for r in self.records.values() if r.last_started_on is not None and r.last_started_on > lo]
        if name == "churned":
            lo = self.as_of - dt.timedelta(days=CHURNED_DAYS)
            return [
                r for r in self.records.values() if not r.active and r.cancelled_on is not None and r.cancelled_on > lo
            ]
        raise ValueError(f"unknown segment {name!r}")

    def members(self, filter: str) -> list[CustomerRecord]:
        """Members of a set of :data:`FILTERS`, ordered by customer id."""
        if filter == "all":
            return sorted(self.records.values(), key=lambda r: r.customer_id)
        if filter == "active":
            return self.active
        if filter in RETENTION_FILTERS:
            lo, hi = last_order_range(filter, self.as_of)
            return sorted(
                (r for r in self.records.values() if r.last_order_on and (lo or r.last_order_on) <= r.last_order_on <= hi),
                key=lambda r: r.customer_id,
            )
        return self.segment(filter)

    def count(self, filter: str) -> int:
        return len(self.records) if filter == "all" else len(self.members(filter))

    def first(self, filter: str, order: str, limit: int) -> list[CustomerRecord]:
        return sorted(self.members(filter), key=ORDERS[order])[:limit]

    def segment_stats(self, segment: str) -> SegmentStats:
        members = self.members(segment)
        signals = Counter(t for r in members for t, _, _ in r.signals)
        return SegmentStats(
            size=len(members),
            ltv_cents=sum(r.ltv_cents for r in members),
            mrr_cents=sum(r.mrr_cents for r in members),
            risk_sum=sum(r.risk for r in members),
            tenure_days=sum(tenure_days(r, self.as_of) for r in members),
            signals=tuple(sorted(signals.items(), key=lambda kv: (-kv[1], kv[0]))),
        )

    def record(self, customer_id: str) -> CustomerRecord | None:
        return self.records.get(customer_id)

    def segments_of(self, customer_id: str) -> list[str]:
        return [s for s in SEGMENT_DEFINITIONS if any(r.customer_id == customer_id for r in self.segment(s))]

    def mrr_cents_of(self, customer_ids: Iterable[str]) -> int:
        return sum(self.records[c].mrr_cents for c in customer_ids if c in self.records)


def _record(c: dict, as_of: dt.date) -> CustomerRecord:
    subs = c["subscriptions"]
    active = [s for s in subs if s[4] is None or q.as_date(s[4]) > as_of]
    starts = [q.as_date(s[3]) for s in subs]
    if active:
        main = max(active, key=lambda s: (s[2], q.as_date(s[3])))
        status, cancelled_on, reason = "active", None, None
    elif subs:
        main = max(subs, key=lambda s: (q.as_date(s[4]), q.as_date(s[3])))
        status, cancelled_on, reason = "cancelled", q.as_date(main[4]), main[5]
    else:
        main, status, cancelled_on, reason = None, "never_subscribed", None, None
    return CustomerRecord(
        customer_id=c["customer_id"],
        name=c["name"],
        created_on=q.as_date(c["created_on"]),
        status=status,
        plan=main[1] if main else None,
        mrr_cents=sum(int(s[2]) for s in active),
        started_on=min(starts) if starts else None,
        last_started_on=max(starts) if starts else None,
        cancelled_on=cancelled_on,
        cancel_reason=reason,
    )
