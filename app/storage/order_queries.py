"""SQL behind the order views (revenue, refunds, repeat purchases, customers by recency).

Same rules as :mod:`app.storage.queries`: portable SQLAlchemy Core, windows bound as parameters,
integer counts and sums only (ratios are computed by the caller). Customer counts read the
per-customer order summaries (``customer_order_daily``, ``order_customer_daily``), so no view
scans every order. Orders count as *charged*
when their status is ``paid`` or ``refunded`` (the money was taken; a refund is its own record in
``refunds``), so net revenue is charged amounts minus refunds, and a refunded order is not
subtracted twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from app.storage.queries import Window, as_date
from app.storage.schema import (
    CHARGED_STATUSES,
    customer_order_daily,
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
    "first_orders",
    "customers_ordering",
    "top_customers",
    "order_span",
    "daily_order_series",
]

CHARGED = CHARGED_STATUSES

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


def customers_by(conn: Connection, day: dt.date) -> tuple[int, int]:
    """(customers with a charged order on or before ``day``, those with two or more): running sums."""
    oc = order_customer_daily.c
    first, second = conn.execute(
        select(func.coalesce(func.sum(oc.first_orders), 0), func.coalesce(func.sum(oc.second_orders), 0)).where(
            oc.day <= day
        )
    ).one()
    return int(first), int(second)


def first_orders(conn: Connection, w: Window) -> int:
    """Customers whose first charged order falls in the window."""
    oc = order_customer_daily.c
    return int(conn.execute(select(func.coalesce(func.sum(oc.first_orders), 0)).where(w.dates(oc.day))).scalar_one())


def customers_ordering(conn: Connection, w: Window) -> int:
    """Distinct customers with a charged order in the window."""
    cd = customer_order_daily.c
    return int(conn.execute(select(func.count(func.distinct(cd.customer_id))).where(w.dates(cd.day))).scalar_one())


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
    cd = customer_order_daily.c
    amount = func.sum(cd.amount_cents)
    top = (
        select(cd.customer_id, func.sum(cd.orders).label("n"), amount.label("amount"))
        .where(w.dates(cd.day))
        .group_by(cd.customer_id)
        .order_by(amount.desc(), cd.customer_id)
        .limit(limit)
        .subquery()
    )
    stmt = (
        select(top.c.customer_id, customers.c.name, top.c.n, top.c.amount)
        .join(customers, customers.c.customer_id == top.c.customer_id)
        .order_by(top.c.amount.desc(), top.c.customer_id)
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
