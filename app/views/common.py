"""What every view builder shares: the :class:`ViewContext`, reasons for unavailable data and small
numeric helpers (ratios are computed in Python from integer SQL sums, so every backend rounds alike)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from app.formatting import DEFAULT_CURRENCY, to_major
from app.storage import order_queries as oq
from app.storage import queries as q
from app.storage.customer_frame import CustomerFacts
from app.storage.ops import OpsStore
from app.storage.schema import marketing_daily, orders, refunds, subscriptions, support_tickets
from app.views.base import CategoryCount, TimelineEvent, Trend


@dataclass
class ViewContext:
    """What a view builder needs: a connection, the date, the merchant and lazily built shared facts."""

    conn: Connection
    as_of: dt.date
    merchant: str
    frame_factory: Callable[[dt.date], CustomerFacts]
    ops: OpsStore | None = None
    """The provider's operations store (what actions wrote), if it has one."""
    currency: str = DEFAULT_CURRENCY
    """ISO 4217 code of the merchant's amounts (``merchants.currency``)."""
    data_start: dt.date | None = None
    """The first day with any data: windows entirely before it have no data, not zeros."""
    memo: Callable[[Hashable, Callable[[], Any]], Any] | None = None
    """The provider's :meth:`~app.views.provider.DataProvider.source_memo` (None: nothing is remembered)."""
    _has: dict[str, bool] = field(default_factory=dict)

    def frame(self) -> CustomerFacts:
        return self.frame_factory(self.as_of)

    def major(self, minor: int | float) -> float:
        """Stored minor units (cents, pence, yen) to major units of the merchant's currency."""
        return to_major(minor, self.currency)

    def covers(self, w: q.Window) -> bool:
        """Whether the data reaches into the window (a window before the first day has no data)."""
        return self.data_start is None or w.hi >= self.data_start

    def has(self, table) -> bool:
        """Whether ``table`` holds any row (a merchant may have no tickets or subscriptions at all)."""
        if table.name not in self._has:
            self._has[table.name] = q.has_rows(self.conn, table)
        return self._has[table.name]


NO_SUBSCRIPTIONS = "no subscription data"
NO_TICKETS = "no support ticket data"
NO_MARKETING = "no marketing spend data in the window"
NO_ORDERS = "no order data"
NO_MARKETING_TABLE = "no marketing data"
NO_REFUNDS = "no refund data"

_TABLE_GAPS = (
    (subscriptions, NO_SUBSCRIPTIONS),
    (support_tickets, NO_TICKETS),
    (orders, NO_ORDERS),
    (refunds, NO_REFUNDS),
    (marketing_daily, NO_MARKETING_TABLE),
)


def data_gaps(conn: Connection) -> tuple[str, ...]:
    """The reasons views give for whole source tables the database holds no row of (e.g. "no
    subscription data" for an orders-only shop), in a fixed order: what no view can answer."""
    return tuple(reason for table, reason in _TABLE_GAPS if not q.has_rows(conn, table))


_METRIC_SOURCES = {
    "new_subscribers": (subscriptions, NO_SUBSCRIPTIONS),
    "cancellations": (subscriptions, NO_SUBSCRIPTIONS),
    "tickets": (support_tickets, NO_TICKETS),
    "shipping_tickets": (support_tickets, NO_TICKETS),
    "failed_payments": (orders, NO_ORDERS),
    "orders": (orders, NO_ORDERS),
    "refunds": (refunds, NO_REFUNDS),
    "marketing_spend": (marketing_daily, NO_MARKETING_TABLE),
    "visitors": (marketing_daily, NO_MARKETING_TABLE),
}
"""Daily metric -> (table it is counted from, why it is unavailable when that table is empty)."""


def missing_reason(ctx: ViewContext, metric: str) -> str | None:
    """Why a daily metric cannot be computed from this database, or None if it can."""
    table, reason = _METRIC_SOURCES[metric]
    return None if ctx.has(table) else reason


def daily_series(ctx: ViewContext, metric: str, w: q.Window) -> dict[dt.date, float]:
    """Per-day values of an anomaly or crisis metric (:data:`_METRIC_SOURCES`) over the window."""
    if metric in ("orders", "refunds"):
        return oq.daily_order_series(ctx.conn, metric, w)
    return q.daily_counts(ctx.conn, metric, w)


def gaps(ctx: ViewContext, needs: dict[str, tuple[Table, str]]) -> dict[str, str]:
    """``field -> reason`` for the fields whose source table is empty (a view's ``unavailable``).

    ``needs`` maps a field to (the table it is computed from, why it is unavailable without it):
    an empty table means the merchant does not record that data, so its counts are unknown, not zero.
    """
    return {name: reason for name, (table, reason) in needs.items() if not ctx.has(table)}


def ratio(num: float, den: float, digits: int = 4) -> float | None:
    return round(num / den, digits) if den else None


def avg_hours(stats: tuple[int, int]) -> float | None:
    """Mean duration in hours (two decimals) from (count, total microseconds)."""
    n, total_us = stats
    if not n:
        return None
    return round(total_us / 1_000_000 / n / 3600, 2)


def with_shares(counts: list[tuple[str, int]], top: int | None = None) -> list[CategoryCount]:
    total = sum(c for _, c in counts)
    items = [CategoryCount(category=k, count=c, share=round(c / total, 4)) for k, c in counts]
    return items[:top] if top else items


def timeline_events(ctx: ViewContext, lo: dt.date, hi: dt.date) -> list[TimelineEvent]:
    return [
        TimelineEvent(
            event_id=e["event_id"],
            day=q.as_date(e["day"]),
            days_from_as_of=(q.as_date(e["day"]) - ctx.as_of).days,
            kind=e["kind"],
            title=e["title"],
            impact=e["impact"],
        )
        for e in q.events_between(ctx.conn, lo, hi, ctx.as_of)
    ]


# --------------------------------------------------------------------------- subscription economics


@dataclass(frozen=True)
class _Economics:
    """Subscription facts of one window (computed once, shared by briefing and financial views)."""

    active: int
    mrr_cents: int
    active_at_start: int
    new: int
    cancelled: int


def _economics(conn: Connection, w: q.Window) -> _Economics:
    active, mrr = q.active_count_and_mrr(conn, w.hi)
    start_active, _ = q.active_count_and_mrr(conn, w.lo)
    return _Economics(active, mrr, start_active, q.started_count(conn, w), q.cancelled_count(conn, w))


def _subscription_trends(ctx: ViewContext, days: int) -> dict[str, Trend]:
    if not ctx.has(subscriptions):
        return {k: Trend.missing(NO_SUBSCRIPTIONS) for k in _SUB_KEYS}
    w = q.Window.ending(ctx.as_of, days)
    now = _economics(ctx.conn, w)
    # A previous window before the data's first day has no figures to compare with (not zeros).
    before = _economics(ctx.conn, w.previous()) if ctx.covers(w.previous()) else None

    def trend(value: Callable[[_Economics], float | None], rate: bool = False) -> Trend:
        return Trend.of(value(now), value(before) if before else None, rate=rate)

    return {
        "mrr": trend(lambda e: ctx.major(e.mrr_cents)),
        "active_subscribers": trend(lambda e: e.active),
        "churn_rate": trend(lambda e: ratio(e.cancelled, e.active_at_start), rate=True),
        "new_subscribers": trend(lambda e: e.new),
        "cancellations": trend(lambda e: e.cancelled),
        "net_growth": trend(lambda e: e.new - e.cancelled),
        "arpu": trend(lambda e: _arpu(ctx, e)),
    }


_SUB_KEYS = ("mrr", "active_subscribers", "churn_rate", "new_subscribers", "cancellations", "net_growth", "arpu")


def _arpu(ctx: ViewContext, e: _Economics) -> float | None:
    return ctx.major(e.mrr_cents / e.active) if e.active else None


def _csat(ctx: ViewContext, w: q.Window, category: str | None = None) -> tuple[float | None, int]:
    total, n = q.csat_sum_count(ctx.conn, w, category)
    return (round(total / n, 2) if n else None), n


def _csat_trend(ctx: ViewContext, w: q.Window, category: str | None = None) -> tuple[Trend, int]:
    if not ctx.has(support_tickets):
        return Trend.missing(NO_TICKETS), 0
    now, n = _csat(ctx, w, category)
    before, _ = _csat(ctx, w.previous(), category)
    return Trend.of(now, before, None if now is not None else "no rated tickets resolved in the window"), n


