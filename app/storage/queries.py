"""Primitive SQL queries behind every view (SQLAlchemy Core, portable SQLite/PostgreSQL).

Rules that keep SQLite and PostgreSQL answers identical: no dialect-specific functions; date
windows are computed in Python and bound as parameters; queries return integer counts and
sums (money in cents) and every ratio is computed in Python by the caller.

Counts that would otherwise scan all history (active subscriptions, open tickets, order revenue,
ticket speed and satisfaction) read the daily summary tables of :mod:`app.storage.summaries`;
everything else reads the base tables through their indexes.

A window is the half-open date interval ``(lo, hi]``; for timestamps that is
``[end_of_day(lo), end_of_day(hi))``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import Select

from app.errors import InvalidArgumentError
from app.storage.schema import (
    customer_signals,
    customers,
    marketing_daily,
    order_daily,
    orders,
    refunds,
    subscription_daily,
    subscriptions,
    support_tickets,
    ticket_daily,
    ticket_search,
    timeline_events,
)
from app.world.world import end_of_day

__all__ = ["Window", "active_condition", "as_date", "as_datetime", "driver_rows"]

subs = subscriptions
tix = support_tickets
sd = subscription_daily
td = ticket_daily
od = order_daily


@dataclass(frozen=True)
class Window:
    """The half-open date window ``(lo, hi]``."""

    lo: dt.date
    hi: dt.date

    @classmethod
    def ending(cls, hi: dt.date, days: int) -> Window:
        return cls(hi - dt.timedelta(days=days), hi)

    def previous(self) -> Window:
        """The same-length window just before this one."""
        return Window(self.lo - (self.hi - self.lo), self.lo)

    @property
    def days(self) -> int:
        return (self.hi - self.lo).days

    def dates(self, col: ColumnElement) -> ColumnElement[bool]:
        return and_(col > self.lo, col <= self.hi)

    def times(self, col: ColumnElement) -> ColumnElement[bool]:
        return and_(col >= end_of_day(self.lo), col < end_of_day(self.hi))


def active_condition(day: dt.date) -> ColumnElement[bool]:
    """Subscription active at ``day``: started on or before it, not cancelled by then."""
    return and_(subs.c.started_on <= day, or_(subs.c.cancelled_on.is_(None), subs.c.cancelled_on > day))


def _one(conn: Connection, stmt) -> tuple:
    return tuple(conn.execute(stmt).one())


def _sums(conn: Connection, *cols: ColumnElement, where: Sequence[ColumnElement[bool]]) -> tuple[int, ...]:
    """Integer sums of ``cols`` over the rows matching ``where`` (0 when none match)."""
    row = _one(conn, select(*(func.coalesce(func.sum(c), 0) for c in cols)).where(*where))
    return tuple(int(v) for v in row)


# --------------------------------------------------------------------------- subscriptions


def active_count_and_mrr(conn: Connection, day: dt.date) -> tuple[int, int]:
    """(active subscriptions, MRR in cents) at ``day``: running sums of the daily summary."""
    n, ended, mrr, ended_mrr = _sums(
        conn, sd.c.started, sd.c.ended, sd.c.started_mrr_cents, sd.c.ended_mrr_cents, where=[sd.c.day <= day]
    )
    return n - ended, mrr - ended_mrr


def started_count(conn: Connection, w: Window) -> int:
    return _sums(conn, sd.c.started, where=[w.dates(sd.c.day)])[0]


def cancelled_count(conn: Connection, w: Window) -> int:
    return _sums(conn, sd.c.cancelled, where=[w.dates(sd.c.day)])[0]


def cancelled_mrr_cents(conn: Connection, w: Window) -> int:
    """Monthly price of subscriptions cancelled in the window (MRR lost), in cents."""
    return _sums(conn, sd.c.cancelled_mrr_cents, where=[w.dates(sd.c.day)])[0]


def cancel_reasons(conn: Connection, w: Window) -> list[tuple[str, int]]:
    """(reason, count) of cancellations in the window, most frequent first."""
    reason = func.coalesce(subs.c.cancel_reason, "unknown")
    rows = conn.execute(select(reason, func.count()).where(w.dates(subs.c.cancelled_on)).group_by(reason)).all()
    return sorted(((str(r), int(c)) for r, c in rows), key=lambda rc: (-rc[1], rc[0]))


def plan_breakdown(conn: Connection, day: dt.date) -> list[tuple[str, int, int]]:
    """(plan, active count, MRR cents) at ``day`` of plans with active subscriptions, largest MRR first."""
    rows = conn.execute(
        select(
            sd.c.plan,
            func.sum(sd.c.started),
            func.sum(sd.c.ended),
            func.sum(sd.c.started_mrr_cents),
            func.sum(sd.c.ended_mrr_cents),
        )
        .where(sd.c.day <= day)
        .group_by(sd.c.plan)
    ).all()
    out = [(str(p), int(n) - int(e), int(m) - int(em)) for p, n, e, m, em in rows]
    return sorted((r for r in out if r[1] > 0), key=lambda r: (-r[2], r[0]))


def cohort_counts(conn: Connection, started: Window, day: dt.date) -> list[tuple[dt.date, int, int]]:
    """(start date, subscriptions started, still active at ``day``) for starts in the window."""
    still = case((or_(subs.c.cancelled_on.is_(None), subs.c.cancelled_on > day), 1), else_=0)
    stmt = (
        select(subs.c.started_on, func.count(), func.sum(still))
        .where(started.dates(subs.c.started_on))
        .group_by(subs.c.started_on)
    )
    return [(as_date(d), int(n), int(a)) for d, n, a in conn.execute(stmt)]


# --------------------------------------------------------------------------- money


def marketing(conn: Connection, w: Window) -> tuple[int, int, int]:
    """(spend cents, visitors, days with data) in the window."""
    spend, visitors, days = _one(
        conn,
        select(
            func.coalesce(func.sum(marketing_daily.c.spend_cents), 0),
            func.coalesce(func.sum(marketing_daily.c.visitors), 0),
            func.count(),
        ).where(w.dates(marketing_daily.c.day)),
    )
    return int(spend), int(visitors), int(days)


def paid_revenue(conn: Connection, w: Window) -> int:
    """Amount of paid orders in the window, in cents."""
    return _sums(conn, od.c.amount_cents, where=[w.dates(od.c.day), od.c.status == "paid"])[0]


# --------------------------------------------------------------------------- tickets


def _category_filter(category: str | None) -> list[ColumnElement[bool]]:
    return [td.c.category == category] if category else []


def ticket_counts_by(conn: Connection, w: Window, column: str, category: str | None = None) -> list[tuple[str, int]]:
    """(value, count) of tickets created in the window grouped by ``column``, most frequent first."""
    col = td.c[column]
    rows = conn.execute(
        select(col, func.sum(td.c.created))
        .where(w.dates(td.c.day), td.c.created > 0, *_category_filter(category))
        .group_by(col)
    ).all()
    counts = ((str(v), int(c)) for v, c in rows)
    return sorted((vc for vc in counts if vc[1] > 0), key=lambda vc: (-vc[1], vc[0]))


def tickets_created(conn: Connection, w: Window, category: str | None = None) -> int:
    return _sums(conn, td.c.created, where=[w.dates(td.c.day), *_category_filter(category)])[0]


def open_tickets(conn: Connection, day: dt.date, category: str | None = None) -> tuple[int, int]:
    """(open, open urgent) at the end of ``day``: tickets created by then and not resolved by then."""
    rows = conn.execute(
        select(td.c.priority, func.sum(td.c.created), func.sum(td.c.closed))
        .where(td.c.day <= day, *_category_filter(category))
        .group_by(td.c.priority)
    ).all()
    by_priority = {str(p): int(c) - int(x) for p, c, x in rows}
    return sum(by_priority.values()), by_priority.get("urgent", 0)


_DURATIONS = {
    "first_response_at": (td.c.first_responses, td.c.first_response_us),
    "resolved_at": (td.c.resolved, td.c.resolution_us),
}


def response_stats(conn: Connection, w: Window, event: str, category: str | None = None) -> tuple[int, int]:
    """(tickets, total microseconds from creation) of tickets whose ``event`` falls in the window.

    ``event`` is ``first_response_at`` or ``resolved_at``. Durations were computed in Python when
    the summary was built: timestamp arithmetic differs between dialects.
    """
    n, total = _DURATIONS[event]
    return _sums(conn, n, total, where=[w.dates(td.c.day), *_category_filter(category)])  # type: ignore[return-value]


def csat_sum_count(conn: Connection, w: Window, category: str | None = None) -> tuple[int, int]:
    """(sum of ratings, number of ratings) of rated tickets resolved in the window."""
    total, n = _sums(conn, td.c.csat_sum, td.c.csat_count, where=[w.dates(td.c.day), *_category_filter(category)])
    return total, n


def ticket_rows(conn: Connection, where: Sequence[ColumnElement[bool]], limit: int | None = None) -> list[dict]:
    """Ticket rows joined with the customer's name, newest first."""
    stmt = (
        select(tix, customers.c.name.label("customer_name"))
        .join(customers, customers.c.customer_id == tix.c.customer_id)
        .where(*where)
        .order_by(tix.c.created_at.desc(), tix.c.ticket_id.desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def search_ticket_rows(conn: Connection, words: Sequence[str], before: dt.datetime, limit: int) -> tuple[int, list[dict]]:
    """(matches, newest ``limit`` ticket rows) of tickets created before ``before`` whose
    lower-cased subject or category contains every (lower-case) word literally.

    ``autoescape`` escapes the LIKE wildcards ``%`` and ``_`` and the escape character itself, so
    the same words match the same rows on SQLite and PostgreSQL. At least one word is required:
    no words would match every ticket.
    """
    if not words:
        raise InvalidArgumentError("a ticket search needs at least one word")
    ts = ticket_search
    where = [ts.c.created_at < before, *(ts.c.text.contains(w, autoescape=True) for w in words)]
    total = int(conn.execute(select(func.count()).select_from(ts).where(*where)).scalar_one())
    if not total:
        return 0, []
    ids = [
        r[0]
        for r in conn.execute(
            select(ts.c.ticket_id).where(*where).order_by(ts.c.created_at.desc(), ts.c.ticket_id.desc()).limit(limit)
        )
    ]
    return total, ticket_rows(conn, [tix.c.ticket_id.in_(ids)])


def count_where(conn: Connection, table, where: Sequence[ColumnElement[bool]]) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def has_rows(conn: Connection, table) -> bool:
    """Whether ``table`` holds any row (without counting them all)."""
    return conn.execute(select(1).select_from(table).limit(1)).first() is not None


def affected_customer_ids(conn: Connection, crisis_type: str, w: Window) -> set[str]:
    """Distinct customers touched by a crisis in the window (cancelled, filed tickets, failed payments, refunded)."""
    if crisis_type == "churn":
        stmt = select(subs.c.customer_id).where(w.dates(subs.c.cancelled_on))
    elif crisis_type in ("support", "shipping"):
        stmt = select(tix.c.customer_id).where(w.times(tix.c.created_at))
        if crisis_type == "shipping":
            stmt = stmt.where(tix.c.category.in_(SHIPPING_CATEGORIES))
    elif crisis_type == "payment":
        stmt = select(orders.c.customer_id).where(w.dates(orders.c.ordered_on), orders.c.status == "failed")
    elif crisis_type == "refunds":
        stmt = select(refunds.c.customer_id).where(w.dates(refunds.c.refunded_on))
    else:
        raise ValueError(f"no affected-customer rule for crisis type {crisis_type!r}")
    return {r[0] for r in conn.execute(stmt.distinct())}


# --------------------------------------------------------------------------- daily series


def daily_counts(conn: Connection, metric: str, w: Window) -> dict[dt.date, float]:
    """Per-day values of an anomaly/crisis metric over the window (days without data omitted)."""
    if metric == "new_subscribers":
        return _group_days(conn, sd.c.started, w)
    if metric == "cancellations":
        return _group_days(conn, sd.c.cancelled, w)
    if metric == "failed_payments":
        return _group_days(conn, od.c.orders, w, od.c.status == "failed")
    if metric in ("marketing_spend", "visitors"):
        col = marketing_daily.c.spend_cents if metric == "marketing_spend" else marketing_daily.c.visitors
        rows = conn.execute(select(marketing_daily.c.day, col).where(w.dates(marketing_daily.c.day))).all()
        scale = 100 if metric == "marketing_spend" else 1
        return {as_date(d): v / scale for d, v in rows}
    if metric in ("tickets", "shipping_tickets"):
        extra = [td.c.category.in_(SHIPPING_CATEGORIES)] if metric == "shipping_tickets" else []
        return _group_days(conn, td.c.created, w, *extra)
    raise ValueError(f"unknown daily metric {metric!r}")


SHIPPING_CATEGORIES = ("shipping_delay", "fulfillment")


def _group_days(conn: Connection, col, w: Window, *extra: ColumnElement[bool]) -> dict[dt.date, float]:
    """Per-day sums of a summary column over the window (days summing to zero omitted)."""
    day = col.table.c.day
    rows = conn.execute(select(day, func.sum(col)).where(w.dates(day), col > 0, *extra).group_by(day)).all()
    return {as_date(d): float(n) for d, n in rows if n}


def as_date(value) -> dt.date:
    """A ``date`` from a driver value (SQLite may hand back ISO strings)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def as_datetime(value) -> dt.datetime:
    """A ``datetime`` from a driver value (SQLite may hand back ISO strings)."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def driver_rows(conn: Connection, stmt: Select) -> list[tuple]:
    """All rows of ``stmt`` as the database driver returns them: plain tuples, values unconverted
    (dates are ISO text on SQLite). For reads of about 100k rows, where building SQLAlchemy rows is
    a large part of the time. Parameters are rendered as literals, so ``stmt`` must bind only
    numbers, dates and strings cjsim made itself, never user text.
    """
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


# --------------------------------------------------------------------------- customers


def customer_base(conn: Connection, day: dt.date) -> list[dict]:
    """Customers created by ``day`` with their subscriptions as known at ``day``."""
    cust = conn.execute(
        select(customers.c.customer_id, customers.c.name, customers.c.created_on).where(customers.c.created_on <= day)
    ).all()
    sub_rows = conn.execute(
        select(
            subs.c.customer_id,
            subs.c.plan,
            subs.c.monthly_price_cents,
            subs.c.started_on,
            subs.c.cancelled_on,
            subs.c.cancel_reason,
        ).where(subs.c.started_on <= day)
    ).all()
    by_customer: dict[str, list] = {}
    for r in sub_rows:
        by_customer.setdefault(r[0], []).append(r)
    return [
        {"customer_id": cid, "name": name, "created_on": created, "subscriptions": by_customer.get(cid, [])}
        for cid, name, created in cust
    ]


def lifetime_value_cents(conn: Connection, day: dt.date, ids: Iterable[str] | None = None) -> dict[str, int]:
    """Paid order revenue per customer up to ``day`` (customers without paid orders omitted)."""
    stmt = (
        select(orders.c.customer_id, func.sum(orders.c.amount_cents))
        .where(orders.c.ordered_on <= day, orders.c.status == "paid")
        .group_by(orders.c.customer_id)
    )
    if ids is not None:
        stmt = stmt.where(orders.c.customer_id.in_(bindparam("ids", expanding=True)))
        rows = conn.execute(stmt, {"ids": list(ids)}).all()
    else:
        rows = conn.execute(stmt).all()
    return {cid: int(v) for cid, v in rows}


def signals_in(conn: Connection, w: Window, ids: Iterable[str] | None = None) -> list[tuple[str, str, float, dt.date]]:
    """(customer_id, signal_type, strength, detected_on) of signals detected in the window."""
    sig = customer_signals
    stmt = select(sig.c.customer_id, sig.c.signal_type, sig.c.strength, sig.c.detected_on).where(
        w.dates(sig.c.detected_on)
    )
    if ids is not None:
        stmt = stmt.where(sig.c.customer_id.in_(bindparam("ids", expanding=True)))
        return [tuple(r) for r in conn.execute(stmt, {"ids": list(ids)})]
    return [tuple(r) for r in conn.execute(stmt)]


def customer_row(conn: Connection, customer_id: str, day: dt.date) -> dict | None:
    row = conn.execute(
        select(customers).where(customers.c.customer_id == customer_id, customers.c.created_on <= day)
    ).first()
    return dict(row._mapping) if row else None


def customer_subscriptions(conn: Connection, customer_id: str, day: dt.date) -> list[dict]:
    """A customer's subscriptions started by ``day``, cancellations after ``day`` hidden, oldest first."""
    stmt = (
        select(subs)
        .where(subs.c.customer_id == customer_id, subs.c.started_on <= day)
        .order_by(subs.c.started_on, subs.c.subscription_id)
    )
    out = []
    for r in conn.execute(stmt):
        row = dict(r._mapping)
        if row["cancelled_on"] is not None and as_date(row["cancelled_on"]) > day:
            row["cancelled_on"] = row["cancel_reason"] = None
        out.append(row)
    return out


def customer_orders(conn: Connection, customer_id: str, day: dt.date) -> list[tuple[dt.date, int, str]]:
    stmt = select(orders.c.ordered_on, orders.c.amount_cents, orders.c.status).where(
        orders.c.customer_id == customer_id, orders.c.ordered_on <= day
    )
    return [tuple(r) for r in conn.execute(stmt)]


# --------------------------------------------------------------------------- timeline


def events_between(conn: Connection, lo: dt.date, hi: dt.date, as_of: dt.date) -> list[dict]:
    """Timeline events with ``lo <= day <= hi``; events after ``as_of`` only if planned."""
    ev = timeline_events
    stmt = (
        select(ev)
        .where(ev.c.day >= lo, ev.c.day <= hi, or_(ev.c.day <= as_of, ev.c.kind == "planned"))
        .order_by(ev.c.day, ev.c.event_id)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def latest_activity(conn: Connection) -> dt.date | None:
    """The latest date with any recorded activity (orders, refunds, subscriptions, tickets, marketing)."""
    candidates = [
        conn.execute(select(func.max(orders.c.ordered_on))).scalar(),
        conn.execute(select(func.max(subs.c.started_on))).scalar(),
        conn.execute(select(func.max(subs.c.cancelled_on))).scalar(),
        conn.execute(select(func.max(marketing_daily.c.day))).scalar(),
        conn.execute(select(func.max(refunds.c.refunded_on))).scalar(),
    ]
    ts = conn.execute(select(func.max(tix.c.created_at))).scalar()
    dates = [as_date(c) for c in candidates if c is not None]
    if ts is not None:
        dates.append(as_datetime(ts).date())
    return max(dates) if dates else None


def earliest_activity(conn: Connection) -> dt.date | None:
    """The earliest date with recorded activity (customer sign-up, order, subscription, ticket, marketing)."""
    candidates = [
        conn.execute(select(func.min(customers.c.created_on))).scalar(),
        conn.execute(select(func.min(orders.c.ordered_on))).scalar(),
        conn.execute(select(func.min(subscriptions.c.started_on))).scalar(),
        conn.execute(select(func.min(marketing_daily.c.day))).scalar(),
        conn.execute(select(func.min(refunds.c.refunded_on))).scalar(),
    ]
    ts = conn.execute(select(func.min(support_tickets.c.created_at))).scalar()
    dates = [as_date(c) for c in candidates if c is not None]
    if ts is not None:
        dates.append(as_datetime(ts).date())
    return min(dates) if dates else None
