"""SQL behind the order views (revenue, refunds, repeat purchases, customers by recency).

Same rules as :mod:`app.storage.queries`: portable SQLAlchemy Core, windows bound as parameters,
integer counts and sums only (ratios are computed by the caller). Counts of customers with an
order by a day (and of repeat customers) are running sums of ``order_customer_daily``; everything
else reads the orders of the window through the date index, so no view scans every order. Orders count as *charged*
when their status is ``paid`` or ``refunded`` (the money was taken; a refund is its own record in
``refunds``), so net revenue is charged amounts minus refunds, and a refunded order is not
subtracted twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.engine import Connection

from app.storage.queries import Window, as_date
from app.storage.schema import (
    CHARGED_STATUSES,
    customers,
    order_customer_daily,
    order_daily,
    orders,
    refunds,
)

__all__ = [
    "CHARGED",
    "charged_totals",
    "refund_totals",
    "refunds_by_reason",
    "customers_by",
    "customers_ordering",
    "RecentCustomer",
    "recent_customers",
    "customer_names",
    "order_span",
    "CustomerOrders",
    "customer_orders",
    "daily_order_series",
]

CHARGED = CHARGED_STATUSES

od = order_daily


def _amount_in(w: Window, col, amount):
    """``amount`` on rows whose ``col`` falls in the window, else 0 (a conditional sum)."""
    return case((w.dates(col), amount), else_=0)


def _span(windows: Sequence[Window]) -> Window:
    return Window(min(w.lo for w in windows), max(w.hi for w in windows))


def charged_totals(conn: Connection, windows: Sequence[Window]) -> list[tuple[int, int]]:
    """Per window: (charged orders, their amount in minor units) placed in it (daily summary; one query)."""
    cols = []
    for w in windows:
        cols += [func.sum(_amount_in(w, od.c.day, od.c.orders)), func.sum(_amount_in(w, od.c.day, od.c.amount_cents))]
    row = conn.execute(select(*cols).where(_span(windows).dates(od.c.day), od.c.status.in_(CHARGED))).one()
    return [(int(row[2 * i] or 0), int(row[2 * i + 1] or 0)) for i in range(len(windows))]


def refund_totals(conn: Connection, windows: Sequence[Window]) -> list[tuple[int, int]]:
    """Per window: (refunds, amount returned in minor units) issued in it (one query)."""
    day = refunds.c.refunded_on
    cols = []
    for w in windows:
        cols += [func.sum(_amount_in(w, day, 1)), func.sum(_amount_in(w, day, refunds.c.amount_cents))]
    row = conn.execute(select(*cols).where(_span(windows).dates(day))).one()
    return [(int(row[2 * i] or 0), int(row[2 * i + 1] or 0)) for i in range(len(windows))]


def refunds_by_reason(conn: Connection, w: Window) -> list[tuple[str | None, int, int]]:
    """(reason or None when not recorded, refunds, amount) in the window, largest amount first."""
    rows = conn.execute(
        select(refunds.c.reason, func.count(), func.sum(refunds.c.amount_cents))
        .where(w.dates(refunds.c.refunded_on))
        .group_by(refunds.c.reason)
    ).all()
    out = [(None if r is None else str(r), int(n), int(c)) for r, n, c in rows]
    return sorted(out, key=lambda r: (-r[2], -r[1], r[0] is None, r[0] or ""))


def customers_by(conn: Connection, days: Sequence[dt.date]) -> list[tuple[int, int]]:
    """Per day: (customers with a charged order on or before it, those with two or more): running sums
    of the customers' first and second orders (one query)."""
    oc = order_customer_daily.c
    cols = []
    for day in days:
        cols += [
            func.sum(case((oc.day <= day, oc.first_orders), else_=0)),
            func.sum(case((oc.day <= day, oc.second_orders), else_=0)),
        ]
    row = conn.execute(select(*cols).where(oc.day <= max(days))).one()
    return [(int(row[2 * i] or 0), int(row[2 * i + 1] or 0)) for i in range(len(days))]


def customers_ordering(conn: Connection, hi: dt.date, since: Sequence[dt.date]) -> list[int]:
    """Per ``lo`` in ``since``: distinct customers with a charged order in ``(lo, hi]`` (one query)."""
    o = orders.c
    cols = [func.count(func.distinct(case((o.ordered_on > lo, o.customer_id), else_=None))) for lo in since]
    row = conn.execute(select(*cols).where(Window(min(since), hi).dates(o.ordered_on), o.status.in_(CHARGED))).one()
    return [int(v or 0) for v in row]


def order_span(conn: Connection, day: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    """Customer -> (first, last) day of their charged orders on or before ``day``."""
    stmt = (
        select(orders.c.customer_id, func.min(orders.c.ordered_on), func.max(orders.c.ordered_on))
        .where(orders.c.ordered_on <= day, orders.c.status.in_(CHARGED))
        .group_by(orders.c.customer_id)
    )
    return {str(c): (as_date(f), as_date(la)) for c, f, la in conn.execute(stmt)}


@dataclass(frozen=True)
class CustomerOrders:
    """One customer's charged orders on or before a day: how many, their amount, the refunds issued
    to the customer by then (minor units) and the last order day."""

    orders: int
    charged: int
    refunded: int
    last: dt.date


def customer_orders(conn: Connection, day: dt.date, ids: Sequence[str]) -> dict[str, CustomerOrders]:
    """Customer -> :class:`CustomerOrders` for the given customers (those without a charged order
    omitted); two grouped queries through the customer indexes, so a list of a few customers reads only
    their rows."""
    o, r = orders.c, refunds.c
    params = {"ids": list(ids)}
    back = {
        str(c): int(a or 0)
        for c, a in conn.execute(
            select(r.customer_id, func.sum(r.amount_cents))
            .where(r.customer_id.in_(bindparam("ids", expanding=True)), r.refunded_on <= day)
            .group_by(r.customer_id),
            params,
        )
    }
    stmt = (
        select(o.customer_id, func.count(), func.sum(o.amount_cents), func.max(o.ordered_on))
        .where(o.customer_id.in_(bindparam("ids", expanding=True)), o.ordered_on <= day, o.status.in_(CHARGED))
        .group_by(o.customer_id)
    )
    return {
        str(c): CustomerOrders(int(n), int(a or 0), back.get(str(c), 0), as_date(last))
        for c, n, a, last in conn.execute(stmt, params)
    }


@dataclass(frozen=True)
class RecentCustomer:
    """A customer with a charged order in a recent span: the last order day, and orders and amount in a window."""

    customer_id: str
    last: dt.date
    orders: int
    amount: int


def recent_customers(conn: Connection, w: Window, since: dt.date) -> list[RecentCustomer]:
    """Every customer with a charged order in ``(min(w.lo, since), w.hi]``: last order day, and charged
    orders and amount inside ``w`` (zero when they ordered only before it). One grouped query over the
    span's orders serves a view's customers in the window, its top customers and recency counts."""
    o = orders.c
    stmt = (
        select(
            o.customer_id,
            func.max(o.ordered_on),
            func.sum(_amount_in(w, o.ordered_on, 1)),
            func.sum(_amount_in(w, o.ordered_on, o.amount_cents)),
        )
        .where(Window(min(w.lo, since), w.hi).dates(o.ordered_on), o.status.in_(CHARGED))
        .group_by(o.customer_id)
    )
    return [RecentCustomer(str(c), as_date(last), int(n), int(a)) for c, last, n, a in conn.execute(stmt)]


def customer_names(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """Customer id -> name of the given customers."""
    stmt = select(customers.c.customer_id, customers.c.name).where(
        customers.c.customer_id.in_(bindparam("ids", expanding=True))
    )
    return {str(c): str(n) for c, n in conn.execute(stmt, {"ids": list(ids)})}


def daily_order_series(conn: Connection, metric: str, w: Window) -> dict[dt.date, float]:
    """Per-day ``orders`` (charged orders) or ``refunds`` (refunds issued) over the window; days
    without any omitted."""
    if metric == "refunds":
        day = refunds.c.refunded_on
        rows = conn.execute(select(day, func.count()).where(w.dates(day)).group_by(day)).all()
    elif metric == "orders":
        rows = conn.execute(
            select(od.c.day, func.sum(od.c.orders)).where(w.dates(od.c.day), od.c.status.in_(CHARGED)).group_by(od.c.day)
        ).all()
    else:
        raise ValueError(f"unknown order metric {metric!r}")
    return {as_date(d): float(n) for d, n in rows if n}
