"""What the health model reads about every customer at a date, gathered with a few set-based queries.

The population scored at ``day``: customers with an active subscription at ``day``, and customers
who never subscribed (an orders-only shop) whose last charged order is less than
``usage.lapsed_days`` old. Cancelled subscribers and lapsed buyers are gone already; health is
about those who can still leave.

Every input is a count, a date or a stored value, read with portable SQL over windows computed in
Python (DESIGN.md section 3), so every backend hands the model the same numbers. No order is read
one by one: the last charged order and the charged orders of the usage window come from the
customers' order days in force at the date and at the window's start (``customer_order_days``, as
the retention facts read them), failed payments and refunds are grouped per customer in the
database. :func:`gather_inputs_at` reads each source window once for several dates (a load stores
two).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, case, func, select
from sqlalchemy.engine import Connection

from app.health.settings import HealthSettings
from app.retention.facts import in_force
from app.storage import queries as q
from app.storage.schema import customer_order_days, customer_signals, orders, refunds, subscriptions, support_tickets
from app.world.world import end_of_day

T = TypeVar("T")

__all__ = ["TicketFact", "SubscriptionFact", "HealthInputs", "SourceCoverage", "gather_inputs", "gather_inputs_at",
           "source_coverage", "remembered", "subscription_facts"]  # fmt: skip


@dataclass(frozen=True)
class TicketFact:
    """One ticket created in the support window, as known at the end of the date."""

    ticket_id: str
    created_at: dt.datetime
    sentiment: str
    resolved: bool
    csat: int | None
    """The rating, when the ticket was resolved and rated by the date."""
    response_hours: float | None
    """Hours to the first response; when none by the date, hours waited so far (``answered`` False)."""
    answered: bool


class SubscriptionFact(NamedTuple):
    """One subscription as the health model reads it. A tuple, so that a key holding a customer's
    subscriptions hashes in C (:class:`~app.health.model.Scorer` hashes one per customer and date)."""

    plan: str
    price_cents: int
    started_on: dt.date
    cancelled_on: dt.date | None


@dataclass
class HealthInputs:
    """One customer's inputs at ``day`` (see docs/health.md, "Inputs")."""

    customer_id: str
    day: dt.date
    subscriptions: list[SubscriptionFact] = field(default_factory=list)
    """Subscriptions started on or before the day, oldest first."""
    last_order_on: dt.date | None = None
    """Last charged (paid or refunded) order on or before the day."""
    delivered: int = 0
    """Charged orders in the usage window."""
    skipped: int = 0
    """``skipped_box`` signals in the usage window."""
    drops: list[tuple[dt.date, float]] = field(default_factory=list)
    """(day, strength) of ``engagement_drop`` signals in the engagement window, oldest first."""
    tickets: list[TicketFact] = field(default_factory=list)
    failed_payments: int = 0
    recent_failed_payments: int = 0
    """Failed payments younger than ``financial.recent_days`` (counted among ``failed_payments`` too)."""
    refunds: int = 0
    refund_cents: int = 0

    def active_subscriptions(self) -> list[SubscriptionFact]:
        return [s for s in self.subscriptions if s.cancelled_on is None or s.cancelled_on > self.day]


@dataclass(frozen=True)
class SourceCoverage:
    """Which source tables hold any row: a component whose table is empty everywhere is unavailable
    for every customer (an orders-only import has no tickets, signals or subscriptions)."""

    signals: bool
    tickets: bool
    subscriptions: bool


def source_coverage(conn: Connection) -> SourceCoverage:
    """Which of the optional source tables hold data."""
    return SourceCoverage(
        signals=q.has_rows(conn, customer_signals),
        tickets=q.has_rows(conn, support_tickets),
        subscriptions=q.has_rows(conn, subscriptions),
    )


def _window(day: dt.date, days: int) -> q.Window:
    return q.Window.ending(day, days)


def remembered(parse: Callable[[Any], T]) -> Callable[[Any], T]:
    """``parse`` remembered per raw driver value: a date column holds few distinct values."""
    seen: dict[Any, T] = {}

    def parsed(raw: Any) -> T:
        value = seen.get(raw)
        if value is None:
            value = seen[raw] = parse(raw)
        return value

    return parsed


def _subscriptions(conn: Connection, last: dt.date | None, date: Callable[[Any], dt.date],
                   customer_ids: Collection[str] | None = None) -> dict[str, list[SubscriptionFact]]:  # fmt: skip
    """Customer -> subscriptions started on or before ``last`` (all without it), oldest first (then by id)."""
    s = subscriptions.c
    stmt = select(s.customer_id, s.plan, s.monthly_price_cents, s.started_on, s.cancelled_on, s.subscription_id)
    if last is not None:
        stmt = stmt.where(s.started_on <= last)
    if customer_ids is not None:  # ids may be a merchant's own text: bound, never rendered as literals
        rows: Any = conn.execute(stmt.where(s.customer_id.in_(sorted(customer_ids))))
    else:
        rows = q.driver_rows(conn, stmt)
    out: dict[str, list[tuple]] = {}
    for cid, plan, price, started, cancelled, sid in rows:
        on = date(started)
        fact = SubscriptionFact(str(plan), int(price), on, None if cancelled is None else date(cancelled))
        out.setdefault(str(cid), []).append((on, str(sid), fact))
    return {cid: [f for _, _, f in (sorted(facts, key=lambda t: (t[0], t[1])) if len(facts) > 1 else facts)]
            for cid, facts in out.items()}  # fmt: skip


def subscription_facts(conn: Connection, customer_ids: Collection[str] | None = None) -> dict[str, list[SubscriptionFact]]:
    """Every customer's (of ``customer_ids``, when given) subscriptions as the health inputs hold them,
    oldest first: what a caller keeping them in step with its own writes passes to
    :func:`gather_inputs_at` instead of having them read at every date."""
    return _subscriptions(conn, None, remembered(q.as_date), customer_ids)


def _order_days_at(conn: Connection, day: dt.date) -> list[tuple]:
    """(customer, last charged order day, charged orders to date) of the ``customer_order_days`` rows
    in force at ``day``: one index range, no order read."""
    t = customer_order_days.c
    return q.driver_rows(conn, select(t.customer_id, t.day, t.orders_to_date).where(in_force(customer_order_days, day)))


def _per_day(conn: Connection, stmt: Select, when: Any, windows: list[q.Window], *values: Any) -> dict[str, list]:
    """Customer -> per window, ``sum(value)`` over the rows of ``stmt`` whose ``when`` lies in it: one
    grouped query for every date (columns window by window, value by value)."""
    cols = [func.sum(case((w.dates(when), v), else_=0)) for w in windows for v in values]
    return {str(c): [int(x or 0) for x in rest] for c, *rest in q.driver_rows(conn, stmt.add_columns(*cols))}


def gather_inputs(conn: Connection, day: dt.date, settings: HealthSettings) -> dict[str, HealthInputs]:
    """Every scored customer's inputs at ``day``, by customer id (see the module docstring)."""
    return gather_inputs_at(conn, [day], settings)[day]


def gather_inputs_at(conn: Connection, days: list[dt.date], settings: HealthSettings,
                     subscriptions: Mapping[str, list[SubscriptionFact]] | None = None,
                     ) -> dict[dt.date, dict[str, HealthInputs]]:  # fmt: skip
    """:func:`gather_inputs` at several dates at once: each source window is read once for all of
    them (grouped per customer in the database where only counts matter). ``subscriptions``: every
    customer's :func:`subscription_facts` when the caller keeps them (else read)."""
    days = sorted(set(days))
    date = remembered(q.as_date)
    subs = subscriptions if subscriptions is not None else _subscriptions(conn, days[-1], date)
    lapsed_days = dt.timedelta(days=settings.usage.lapsed_days)
    out: dict[dt.date, dict[str, HealthInputs]] = {}
    for day in days:
        population: dict[str, HealthInputs] = {}
        started = set()  # customers with a subscription started by the day
        for cid, facts in subs.items():
            if facts[0].started_on > day:
                continue
            started.add(cid)
            known = facts if facts[-1].started_on <= day else [f for f in facts if f.started_on <= day]
            for f in known:
                if f.cancelled_on is None or f.cancelled_on > day:
                    population[cid] = HealthInputs(cid, day, subscriptions=known)
                    break
        lapsed = day - lapsed_days
        # charged orders to date; those in the usage window are the difference with the window's start
        for cid, raw, n in _order_days_at(conn, day):
            if (who := population.get(cid)) is not None:
                who.last_order_on = date(raw)
                who.delivered = n
            elif cid not in started and (last := date(raw)) > lapsed:
                population[cid] = HealthInputs(cid, day, last_order_on=last, delivered=n)
        for cid, _raw, n in _order_days_at(conn, day - dt.timedelta(days=settings.usage.window_days)):
            if (who := population.get(cid)) is not None:
                who.delivered -= n
        out[day] = population
    _financial(conn, days, settings, out, date)
    _signals(conn, days, settings, out, date)
    _tickets(conn, days, settings, out)
    return out


def _financial(conn: Connection, days: list[dt.date], settings: HealthSettings,
               out: dict[dt.date, dict[str, HealthInputs]], date: Callable[[Any], dt.date]) -> None:  # fmt: skip
    """Failed payments (and the recent ones among them), refunds and their amount in each date's
    financial window."""
    f = settings.financial
    windows = [_window(day, f.window_days) for day in days]
    recent = [_window(day, min(f.recent_days, f.window_days)) for day in days]  # within the windows
    span = q.Window(windows[0].lo, windows[-1].hi)
    o, r = orders.c, refunds.c
    failed = _per_day(conn, select(o.customer_id).where(span.dates(o.ordered_on), o.status == "failed")
                      .group_by(o.customer_id), o.ordered_on, windows + recent, 1)  # fmt: skip
    refunded = _per_day(conn, select(r.customer_id).where(span.dates(r.refunded_on)).group_by(r.customer_id),
                        r.refunded_on, windows, 1, r.amount_cents)  # fmt: skip
    for i, day in enumerate(days):
        population = out[day]
        for cid, counts in failed.items():
            if (who := population.get(cid)) is not None:
                who.failed_payments, who.recent_failed_payments = counts[i], counts[len(days) + i]
        for cid, sums in refunded.items():
            if (who := population.get(cid)) is not None and sums[2 * i]:
                who.refunds, who.refund_cents = sums[2 * i], sums[2 * i + 1]


def _signals(conn: Connection, days: list[dt.date], settings: HealthSettings,
             out: dict[dt.date, dict[str, HealthInputs]], date: Callable[[Any], dt.date]) -> None:  # fmt: skip
    """Skipped boxes in each date's usage window, engagement drops in its engagement window."""
    sig = customer_signals.c
    longest = max(settings.usage.window_days, settings.engagement.window_days)
    span = q.Window(days[0] - dt.timedelta(days=longest), days[-1])
    rows = q.driver_rows(conn, select(sig.customer_id, sig.signal_type, sig.strength, sig.detected_on).where(
        span.dates(sig.detected_on), sig.signal_type.in_(("skipped_box", "engagement_drop"))))  # fmt: skip
    for day in days:
        population = out[day]
        usage_lo = day - dt.timedelta(days=settings.usage.window_days)
        engagement_lo = day - dt.timedelta(days=settings.engagement.window_days)
        several = []  # customers with more than one drop
        for cid, kind, strength, detected in rows:
            who = population.get(str(cid))
            if who is None:
                continue
            when = date(detected)
            if when > day:
                continue
            if kind == "skipped_box" and usage_lo < when:
                who.skipped += 1
            elif kind == "engagement_drop" and engagement_lo < when:
                if len(who.drops) == 1:
                    several.append(who)
                who.drops.append((when, float(strength)))
        for who in several:
            who.drops.sort()  # oldest first


def _ticket_order(t: TicketFact) -> tuple[dt.datetime, str]:
    return (t.created_at, t.ticket_id)


def _tickets(conn: Connection, days: list[dt.date], settings: HealthSettings,
             out: dict[dt.date, dict[str, HealthInputs]]) -> None:  # fmt: skip
    """Tickets created in each date's support window, as known at the end of the date."""
    t = support_tickets.c
    span = q.Window(days[0] - dt.timedelta(days=settings.support.window_days), days[-1])
    rows = q.driver_rows(conn, select(t.ticket_id, t.customer_id, t.created_at, t.sentiment, t.first_response_at,
                                      t.resolved_at, t.csat_rating).where(span.times(t.created_at)))  # fmt: skip
    parsed = [(tid, str(cid), q.as_datetime(created), sentiment, None if first is None else q.as_datetime(first),
               None if resolved is None else q.as_datetime(resolved), csat)
              for tid, cid, created, sentiment, first, resolved, csat in rows]  # fmt: skip
    for day in days:
        population = out[day]
        start, end = end_of_day(day - dt.timedelta(days=settings.support.window_days)), end_of_day(day)
        several = []  # customers with more than one ticket
        for tid, cid, created_at, sentiment, first_at, resolved_at, csat in parsed:
            who = population.get(cid)
            if who is None or not start <= created_at < end:
                continue
            done = resolved_at is not None and resolved_at < end
            answered = first_at is not None and first_at < end
            waited = (first_at if answered and first_at is not None else end) - created_at
            if len(who.tickets) == 1:
                several.append(who)
            who.tickets.append(
                TicketFact(
                    ticket_id=str(tid),
                    created_at=created_at,
                    sentiment=str(sentiment),
                    resolved=done,
                    csat=int(csat) if done and csat is not None else None,
                    response_hours=round(waited.total_seconds() / 3600, 2),
                    answered=answered,
                )
            )
        for who in several:
            who.tickets.sort(key=_ticket_order)  # oldest first
