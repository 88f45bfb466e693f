"""Daily summary tables derived from the base tables (see :mod:`app.storage.schema`).

A summary row aggregates the events of one day, each event counted on its own date: a
subscription's start on ``started_on``, its cancellation on ``cancelled_on``; a ticket's creation,
first response and resolution on the dates of those timestamps. Views then answer "active at d"
or "open at the end of d" as running sums over days ``<= d`` and window metrics as sums over the
window's days, instead of scanning all history. Rows after a provider's ``as_of`` only add
summary rows on later days, which no query at ``as_of`` reads.

:class:`DailySummaries` accumulates base rows from any source (generated rows in memory, or rows
streamed from a database by ``refresh_daily_summaries``) and yields the summary rows; both paths
run the same code, so the tables are identical whoever builds them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from app.storage.order_days import OrderDays
from app.storage.schema import (
    CHARGED_STATUSES,
    DAILY_SUMMARY_TABLES,
    ORDER_DAY_TABLES,
    ORDER_SUMMARY_TABLES,
    customer_order_days,
    order_customer_daily,
    order_daily,
    orders,
    subscription_daily,
    subscriptions,
    support_tickets,
    ticket_daily,
    ticket_search,
)
from app.world.world import Rows

__all__ = [
    "DailySummaries",
    "summarize",
    "refresh_daily_summaries",
    "refresh_order_summaries",
    "refresh_order_days",
    "search_text",
    "BATCH",
]

BATCH = 20_000

_SUB_FIELDS = ("started", "started_mrr_cents", "ended", "ended_mrr_cents", "cancelled", "cancelled_mrr_cents")
_TICKET_FIELDS = (
    "created",
    "closed",
    "first_responses",
    "first_response_us",
    "resolved",
    "resolution_us",
    "csat_count",
    "csat_sum",
)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _datetime(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def search_text(subject: str, category: str) -> str:
    """What ticket search matches query words against: lower-cased subject and category."""
    return f"{subject.lower()}\n{category.lower()}"


def _micros(delta: dt.timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class DailySummaries:
    """Accumulates base rows into the rows of the daily summary tables."""

    def __init__(self) -> None:
        self._subs: dict[tuple[dt.date, str], list[int]] = {}
        self._orders: dict[tuple[dt.date, str], list[int]] = {}
        self._tickets: dict[tuple[dt.date, str, str, str], list[int]] = {}
        self._search: list[dict[str, Any]] = []
        self._firsts: dict[str, list[dt.date]] = {}
        """Customer -> the days of its first two charged orders (the two earliest, repeats kept)."""
        self._order_days = OrderDays()

    def add_subscription(
        self, plan: str, price_cents: int, started_on: Any, cancelled_on: Any, count: int = 1
    ) -> None:
        """One subscription (or ``count`` identical ones)."""
        start = _date(started_on)
        price = int(price_cents) * count
        self._bump(self._subs, (start, plan), 0, count, price, len(_SUB_FIELDS))
        if cancelled_on is not None:
            cancel = _date(cancelled_on)
            self._bump(self._subs, (max(start, cancel), plan), 2, count, price, len(_SUB_FIELDS))
            self._bump(self._subs, (cancel, plan), 4, count, price, len(_SUB_FIELDS))

    def add_orders(self, day: Any, status: str, count: int, amount_cents: int) -> None:
        """``count`` orders of one day and status worth ``amount_cents`` together."""
        self._bump(self._orders, (_date(day), status), 0, int(count), int(amount_cents), 2)

    def add_customer_orders(self, day: Any, customer_id: str, status: str, count: int = 1, amount_cents: int = 0) -> None:
        """``count`` orders of one customer, day and status worth ``amount_cents`` together (only
        charged ones count per customer)."""
        if status in CHARGED_STATUSES:
            when, cid = _date(day), str(customer_id)
            self._add_first(when, cid, int(count))
            self._order_days.add(cid, when, int(count), int(amount_cents))

    def _add_first(self, day: dt.date, cid: str, count: int) -> None:
        days = self._firsts.get(cid)
        if days is None:
            days = self._firsts[cid] = []
        elif len(days) == 2 and day >= days[1]:
            return
        days.extend([day] * min(count, 2))
        days.sort()
        del days[2:]

    def add_ticket(self, row: Mapping[str, Any]) -> None:
        """One support ticket row (schema column names)."""
        created = _datetime(row["created_at"])
        assert created is not None
        dims = (row["category"], row["priority"], row["sentiment"])
        self._search.append(
            {"ticket_id": row["ticket_id"], "created_at": created, "text": search_text(row["subject"], row["category"])}
        )
        n = len(_TICKET_FIELDS)
        day = created.date()
        self._bump(self._tickets, (day, *dims), 0, 1, 0, n)
        first = _datetime(row["first_response_at"])
        if first is not None:
            self._bump(self._tickets, (first.date(), *dims), 2, 1, _micros(first - created), n)
        resolved = _datetime(row["resolved_at"])
        if resolved is not None:
            self._bump(self._tickets, (max(day, resolved.date()), *dims), 1, 1, 0, n)
            self._bump(self._tickets, (resolved.date(), *dims), 4, 1, _micros(resolved - created), n)
            if row["csat_rating"] is not None:
                self._bump(self._tickets, (resolved.date(), *dims), 6, 1, int(row["csat_rating"]), n)

    @staticmethod
    def _bump(target: dict, key: tuple, at: int, count: int, amount: int, width: int) -> None:
        slot = target.get(key)
        if slot is None:
            slot = target[key] = [0] * width
        slot[at] += count
        slot[at + 1] += amount

    def add_rows(self, tables: Rows) -> DailySummaries:
        """Add every subscription, order and ticket of in-memory table rows."""
        for r in tables.get("subscriptions", []):
            self.add_subscription(r["plan"], r["monthly_price_cents"], r["started_on"], r["cancelled_on"])
        counts: dict[tuple[Any, str], list[int]] = {}
        add_first, add_day = self._add_first, self._order_days.add
        for r in tables.get("orders", []):
            slot = counts.setdefault((r["ordered_on"], r["status"]), [0, 0])
            slot[0] += 1
            slot[1] += r["amount_cents"]
            if r["status"] in CHARGED_STATUSES:
                day, cid = _date(r["ordered_on"]), str(r["customer_id"])
                add_first(day, cid, 1)
                add_day(cid, day, 1, int(r["amount_cents"]))
        for (day, status), (n, amount) in counts.items():
            self.add_orders(day, status, n, amount)
        for r in tables.get("support_tickets", []):
            self.add_ticket(r)
        return self

    def rows(self) -> Rows:
        """Summary rows by table name, in key order."""
        return {
            subscription_daily.name: [
                {"day": d, "plan": p, **dict(zip(_SUB_FIELDS, v, strict=True))} for (d, p), v in sorted(self._subs.items())
            ],
            order_daily.name: [
                {"day": d, "status": s, "orders": v[0], "amount_cents": v[1]} for (d, s), v in sorted(self._orders.items())
            ],
            ticket_daily.name: [
                {"day": d, "category": c, "priority": p, "sentiment": s, **dict(zip(_TICKET_FIELDS, v, strict=True))}
                for (d, c, p, s), v in sorted(self._tickets.items())
            ],
            ticket_search.name: sorted(self._search, key=lambda r: r["ticket_id"]),
            **self._order_rows(),
            customer_order_days.name: self.order_day_rows(),
        }

    def order_day_rows(self) -> list[dict[str, Any]]:
        """The ``customer_order_days`` rows: per customer and order day, the running totals."""
        return self._order_days.rows()

    def _order_rows(self) -> Rows:
        """Per day: customers whose first and whose second charged order falls on it."""
        milestones: dict[dt.date, list[int]] = {}
        for days in self._firsts.values():
            for rank, day in enumerate(days):
                slot = milestones.get(day)
                if slot is None:
                    slot = milestones[day] = [0, 0]
                slot[rank] += 1
        return {
            order_customer_daily.name: [
                {"day": d, "first_orders": v[0], "second_orders": v[1]} for d, v in sorted(milestones.items())
            ],
        }


def summarize(tables: Rows) -> Rows:
    """Daily summary rows of in-memory base rows."""
    return DailySummaries().add_rows(tables).rows()


def _stream(conn: Connection, stmt) -> Iterable:
    return conn.execute(stmt.execution_options(yield_per=BATCH))


def refresh_daily_summaries(conn: Connection, insert: Any = None) -> dict[str, int]:
    """Recompute the daily summary tables from the base tables inside the caller's transaction.

    ``insert(conn, table, rows)`` writes rows (default: executemany inserts). Returns rows per table.
    """
    acc = DailySummaries()
    s = subscriptions.c
    stmt = select(s.plan, s.monthly_price_cents, s.started_on, s.cancelled_on, func.count()).group_by(
        s.plan, s.monthly_price_cents, s.started_on, s.cancelled_on
    )
    for plan, price, started, cancelled, n in _stream(conn, stmt):
        acc.add_subscription(plan, price, started, cancelled, int(n))
    o = orders.c
    stmt = select(o.ordered_on, o.status, func.count(), func.coalesce(func.sum(o.amount_cents), 0)).group_by(
        o.ordered_on, o.status
    )
    for day, status, n, amount in _stream(conn, stmt):
        acc.add_orders(day, status, int(n), int(amount))
    _add_customer_orders(conn, acc)
    t = support_tickets.c
    stmt = select(
        t.ticket_id,
        t.created_at,
        t.category,
        t.priority,
        t.sentiment,
        t.subject,
        t.first_response_at,
        t.resolved_at,
        t.csat_rating,
    )
    for row in _stream(conn, stmt):
        acc.add_ticket(row._mapping)
    rows = acc.rows()
    for table in DAILY_SUMMARY_TABLES:
        conn.execute(delete(table))
    return write_rows(conn, rows, insert)


def _add_customer_orders(conn: Connection, acc: DailySummaries) -> None:
    o = orders.c
    stmt = (
        select(o.ordered_on, o.customer_id, func.count(), func.coalesce(func.sum(o.amount_cents), 0))
        .where(o.status.in_(CHARGED_STATUSES))
        .group_by(o.ordered_on, o.customer_id)
    )
    for day, cid, n, amount in _stream(conn, stmt):
        acc.add_customer_orders(day, cid, CHARGED_STATUSES[0], int(n), int(amount))


def refresh_order_summaries(conn: Connection, insert: Any = None) -> dict[str, int]:
    """Recompute only the customers' order milestones (what schema version 7 added) from the orders."""
    acc = DailySummaries()
    _add_customer_orders(conn, acc)
    rows = acc._order_rows()
    for table in ORDER_SUMMARY_TABLES:
        conn.execute(delete(table))
    return write_rows(conn, rows, insert)


def refresh_order_days(conn: Connection, insert: Any = None) -> dict[str, int]:
    """Recompute only the customers' order days with running totals (what schema version 10 added)."""
    acc = DailySummaries()
    _add_customer_orders(conn, acc)
    for table in ORDER_DAY_TABLES:
        conn.execute(delete(table))
    return write_rows(conn, {customer_order_days.name: acc.order_day_rows()}, insert)


def write_rows(conn: Connection, rows: Rows, insert: Any = None) -> dict[str, int]:
    """Insert rows per table name (batched executemany unless ``insert`` is given)."""
    from app.storage.schema import metadata

    counts = {}
    for name, table_rows in rows.items():
        table = metadata.tables[name]
        if insert is not None:
            insert(conn, table, table_rows)
        else:
            for i in range(0, len(table_rows), BATCH):
                conn.execute(table.insert(), table_rows[i : i + BATCH])
        counts[name] = len(table_rows)
    return counts
