"""SQL behind the order views (revenue, refunds, repeat purchases, customers by recency).

Same rules as :mod:`app.storage.queries`: portable SQLAlchemy Core, windows bound as parameters,
integer counts and sums only (ratios are computed by the caller). Orders count as *charged*
when their status is ``paid`` or ``refunded`` (the money was taken; a refund is its own record in
``refunds``), so net revenue is charged amounts minus refunds, and a refunded order is not
subtracted twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from app.storage.queries import Window, as_date
from app.storage.schema import customers, order_daily, orders, refunds

__all__ = [
    "CHARGED",
    "CustomerOrders",
    "charged_totals",
    "refund_totals",
    "refunds_by_reason",
    "customer_orders_at",
    "top_customers",
    "order_span",
    "daily_order_series",
]

CHARGED = ("paid", "refunded")
"""Order statuses whose amount was charged."""

od = order_daily


def charged_totals(conn: Connection, w: Window) -> tuple[int, int]:
    """(charged orders, their amount in minor units) placed in the window (daily summary)."""
    n, cents = conn.execute(
        select(func.coalesce(func.sum(od.c.orders), 0), func.coalesce(func.sum(od.c.amount_cents), 0)).where(
            w.dates(od.c.day), od.c.status.in_(CHARGED)
        )
    ).one()
    return int(n), int(cents)


def refund_totals(conn: Connection, w: Window) -> tuple[int, int]:
    """(refunds, amount returned in minor units) issued in the window."""
    n, cents = conn.execute(
        select(func.count(), func.coalesce(func.sum(refunds.c.amount_cents), 0)).where(w.dates(refunds.c.refunded_on))
    ).one()
    return int(n), int(cents)


def refunds_by_reason(conn: Connection, w: Window) -> list[tuple[str | None, int, int]]:
    """(reason or None when not recorded, refunds, amount) in the window, largest amount first."""
    rows = conn.execute(
        select(refunds.c.reason, func.count(), func.sum(refunds.c.amount_cents))
        .where(w.dates(refunds.c.refunded_on))
        .group_by(refunds.c.reason)
    ).all()
    out = [(None if r is None else str(r), int(n), int(c)) for r, n, c in rows]
    return sorted(out, key=lambda r: (-r[2], -r[1], r[0] is None, r[0] or ""))


@dataclass(frozen=True)
class CustomerOrders:
    """One customer's charged orders up to a day ``d`` and up to an earlier cut-off ``lo``."""

    customer_id: str
    first: dt.date
    last: dt.date
    orders: int
    last_by_lo: dt.date | None
    orders_by_lo: int


def customer_orders_at(conn: Connection, day: dt.date, lo: dt.date) -> list[CustomerOrders]:
    """Every customer with a charged order on or before ``day``: first and last order day and count,
    and the same (last day, count) on or before ``lo`` (< ``day``). One grouped scan of the orders."""
    early = orders.c.ordered_on <= lo
    stmt = (
        select(
            orders.c.customer_id,
            func.min(orders.c.ordered_on),
            func.max(orders.c.ordered_on),
            func.count(),
            func.max(case((early, orders.c.ordered_on), else_=None)),
            func.coalesce(func.sum(case((early, 1), else_=0)), 0),
        )
        .where(orders.c.ordered_on <= day, orders.c.status.in_(CHARGED))
        .group_by(orders.c.customer_id)
    )
    return [
        CustomerOrders(str(c), as_date(f), as_date(la), int(n), None if lb is None else as_date(lb), int(nb))
        for c, f, la, n, lb, nb in conn.execute(stmt)
    ]


def order_span(conn: Connection, day: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    """Customer -> (first, last) day of their charged orders on or before ``day``."""
    stmt = (
        select(orders.c.customer_id, func.min(orders.c.ordered_on), func.max(orders.c.ordered_on))
        .where(orders.c.ordered_on <= day, orders.c.status.in_(CHARGED))
        .group_by(orders.c.customer_id)
    )
    return {str(c): (as_date(f), as_date(la)) for c, f, la in conn.execute(stmt)}


def top_customers(conn: Connection, w: Window, limit: int) -> list[tuple[str, str, int, int]]:
    """(customer_id, name, charged orders, amount) of the customers charged most in the window."""
    amount = func.sum(orders.c.amount_cents)
    stmt = (
        select(orders.c.customer_id, customers.c.name, func.count(), amount)
        .join(customers, customers.c.customer_id == orders.c.customer_id)
        .where(w.dates(orders.c.ordered_on), orders.c.status.in_(CHARGED))
        .group_by(orders.c.customer_id, customers.c.name)
        .order_by(amount.desc(), orders.c.customer_id)
        .limit(limit)
    )
    return [(str(c), str(name), int(n), int(a)) for c, name, n, a in conn.execute(stmt)]


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
