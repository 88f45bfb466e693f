"""What the health model reads about every customer at a date, gathered with a few set-based queries.

The population scored at ``day``: customers with an active subscription at ``day``, and customers
who never subscribed (an orders-only shop) whose last charged order is less than
``usage.lapsed_days`` old. Cancelled subscribers and lapsed buyers are gone already; health is
about those who can still leave.

Every input is a count, a date or a stored value, read with portable SQL over windows computed in
Python (DESIGN.md section 3), so every backend hands the model the same numbers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from app.health.settings import HealthSettings
from app.storage import order_queries as oq
from app.storage import queries as q
from app.storage.schema import customer_signals, orders, refunds, subscriptions, support_tickets
from app.world.world import end_of_day

__all__ = ["TicketFact", "SubscriptionFact", "HealthInputs", "SourceCoverage", "gather_inputs", "source_coverage"]


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


@dataclass(frozen=True)
class SubscriptionFact:
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


def _subscriptions(conn: Connection, day: dt.date) -> dict[str, list[SubscriptionFact]]:
    s = subscriptions.c
    rows = conn.execute(
        select(s.customer_id, s.plan, s.monthly_price_cents, s.started_on, s.cancelled_on, s.subscription_id)
        .where(s.started_on <= day)
    ).all()  # fmt: skip
    out: dict[str, list[tuple]] = {}
    for cid, plan, price, started, cancelled, sid in rows:
        out.setdefault(str(cid), []).append(
            (q.as_date(started), str(sid), SubscriptionFact(str(plan), int(price), q.as_date(started),
                                                            None if cancelled is None else q.as_date(cancelled)))
        )  # fmt: skip
    return {cid: [f for _, _, f in sorted(facts, key=lambda t: (t[0], t[1]))] for cid, facts in out.items()}


def _counts(conn: Connection, stmt) -> dict[str, int]:
    return {str(c): int(n) for c, n in conn.execute(stmt)}


def gather_inputs(conn: Connection, day: dt.date, settings: HealthSettings) -> dict[str, HealthInputs]:
    """Every scored customer's inputs at ``day``, by customer id (see the module docstring)."""
    subs = _subscriptions(conn, day)
    spans = oq.order_span(conn, day)
    lapsed = day - dt.timedelta(days=settings.usage.lapsed_days)
    population: dict[str, HealthInputs] = {}
    for cid, facts in subs.items():
        if any(f.cancelled_on is None or f.cancelled_on > day for f in facts):
            population[cid] = HealthInputs(cid, day, subscriptions=facts)
    for cid, (_first, last) in spans.items():
        if cid in population:
            population[cid].last_order_on = last
        elif cid not in subs and last > lapsed:
            population[cid] = HealthInputs(cid, day, last_order_on=last)

    o = orders.c
    usage_w = _window(day, settings.usage.window_days)
    delivered = _counts(conn, select(o.customer_id, func.count()).where(usage_w.dates(o.ordered_on),
                        o.status.in_(oq.CHARGED)).group_by(o.customer_id))  # fmt: skip
    fin_w = _window(day, settings.financial.window_days)
    failed = _counts(conn, select(o.customer_id, func.count()).where(fin_w.dates(o.ordered_on), o.status == "failed")
                     .group_by(o.customer_id))  # fmt: skip
    recent_w = _window(day, min(settings.financial.recent_days, settings.financial.window_days))
    recent_failed = _counts(conn, select(o.customer_id, func.count()).where(recent_w.dates(o.ordered_on),
                            o.status == "failed").group_by(o.customer_id))  # fmt: skip
    r = refunds.c
    refund_rows = conn.execute(
        select(r.customer_id, func.count(), func.sum(r.amount_cents)).where(fin_w.dates(r.refunded_on)).group_by(r.customer_id)
    ).all()  # fmt: skip
    for cid, rec in population.items():
        rec.delivered = delivered.get(cid, 0)
        rec.failed_payments = failed.get(cid, 0)
        rec.recent_failed_payments = recent_failed.get(cid, 0)
    for cid, n, cents in refund_rows:
        if (buyer := population.get(str(cid))) is not None:
            buyer.refunds, buyer.refund_cents = int(n), int(cents or 0)

    sig = customer_signals.c
    sig_w = _window(day, max(settings.usage.window_days, settings.engagement.window_days))
    engagement_lo = day - dt.timedelta(days=settings.engagement.window_days)
    for cid, kind, strength, detected in conn.execute(
        select(sig.customer_id, sig.signal_type, sig.strength, sig.detected_on).where(
            sig_w.dates(sig.detected_on), sig.signal_type.in_(("skipped_box", "engagement_drop"))
        )
    ):
        who = population.get(str(cid))
        if who is None:
            continue
        when = q.as_date(detected)
        if kind == "skipped_box" and usage_w.lo < when:
            who.skipped += 1
        elif kind == "engagement_drop" and engagement_lo < when:
            who.drops.append((when, float(strength)))

    _tickets(conn, day, settings, population)
    for rec in population.values():
        rec.drops.sort()
        rec.tickets.sort(key=lambda t: (t.created_at, t.ticket_id))
    return population


def _tickets(conn: Connection, day: dt.date, settings: HealthSettings, population: dict[str, HealthInputs]) -> None:
    t = support_tickets.c
    w = _window(day, settings.support.window_days)
    end = end_of_day(day)
    rows = conn.execute(
        select(t.ticket_id, t.customer_id, t.created_at, t.sentiment, t.first_response_at, t.resolved_at, t.csat_rating)
        .where(w.times(t.created_at))
    )  # fmt: skip
    for tid, cid, created, sentiment, first, resolved, csat in rows:
        who = population.get(str(cid))
        if who is None:
            continue
        created_at = q.as_datetime(created)
        first_at = None if first is None else q.as_datetime(first)
        resolved_at = None if resolved is None else q.as_datetime(resolved)
        done = resolved_at is not None and resolved_at < end
        answered = first_at is not None and first_at < end
        waited = (first_at if answered and first_at is not None else end) - created_at
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
