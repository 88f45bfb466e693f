"""Customer-level views: segments, lists, profiles, ticket search and the business timeline."""

from __future__ import annotations

import datetime as dt

from app.data_views import (
    BusinessTimeline,
    BusinessTimelineArgs,
    CustomerList,
    CustomerListArgs,
    CustomerProfile,
    CustomerProfileArgs,
    CustomerSegment,
    CustomerSegmentArgs,
    CustomerSummary,
    SearchTicketsArgs,
    SignalCount,
    SignalInfo,
    SubscriptionInfo,
    TicketSearch,
    TicketSummary,
)
from app.errors import DataUnavailableError
from app.providers.metric_views import NO_SUBSCRIPTIONS, NO_TICKETS, ViewContext, dollars, gaps, timeline_events
from app.providers.recommendations import segment_actions
from app.storage import queries as q
from app.storage.customer_frame import SEGMENT_DEFINITIONS, CustomerRecord, tenure_days
from app.storage.schema import subscriptions
from app.storage.schema import support_tickets as tix
from app.world.world import end_of_day

__all__ = ["customer_segment", "customer_list", "customer_profile", "search_tickets", "business_timeline"]

SAMPLE_SIZE = {"summary": 5, "detailed": 15}


def summary(rec: CustomerRecord, has_subscriptions: bool = True) -> CustomerSummary:
    """The list/segment line of a customer; the same numbers as its profile.

    Without any subscription data the status is unknown (null), not "never subscribed".
    """
    return CustomerSummary(
        customer_id=rec.customer_id,
        name=rec.name,
        plan=rec.plan,
        status=rec.status if has_subscriptions else None,  # type: ignore[arg-type]
        lifetime_value=dollars(rec.ltv_cents),
        risk_score=rec.risk,
        started_on=rec.started_on,
        cancelled_on=rec.cancelled_on,
        cancel_reason=rec.cancel_reason,
    )


SAMPLE_ORDER = {"high_value": "ltv", "at_risk": "risk_ltv", "new": "recent", "churned": "cancelled"}
"""How each segment's sample is sorted (a name of ``customer_frame.ORDERS``)."""


def customer_segment(ctx: ViewContext, args: CustomerSegmentArgs) -> CustomerSegment:
    """Size, value and risk of a segment, a sample of its customers and recommended actions."""
    if not ctx.has(subscriptions):
        return _segment_unavailable(ctx, args)
    facts = ctx.frame()
    stats = facts.segment_stats(args.segment)
    size = stats.size
    top_signals = list(stats.signals)
    sample = facts.first(args.segment, SAMPLE_ORDER[args.segment], SAMPLE_SIZE[args.depth])
    active_n = facts.count("active")
    return CustomerSegment(
        as_of=ctx.as_of,
        segment=args.segment,
        definition=SEGMENT_DEFINITIONS[args.segment],
        size=size,
        share_of_active=None if args.segment == "churned" else (round(size / active_n, 4) if active_n else None),
        avg_ltv=dollars(stats.ltv_cents / size) if size else None,
        segment_mrr=dollars(stats.mrr_cents),
        churn_risk=round(stats.risk_sum / size, 4) if size else None,
        avg_tenure_days=round(stats.tenure_days / size, 1) if size else None,
        top_signals=[SignalCount(signal_type=t, count=n) for t, n in top_signals],
        customers=[summary(r) for r in sample],
        recommended_actions=segment_actions(args.segment, size, top_signals),
    )


_SEGMENT_FIELDS = (
    "size",
    "share_of_active",
    "avg_ltv",
    "segment_mrr",
    "churn_risk",
    "avg_tenure_days",
    "top_signals",
    "customers",
    "recommended_actions",
)


def _segment_unavailable(ctx: ViewContext, args: CustomerSegmentArgs) -> CustomerSegment:
    """Segments are defined on subscriptions: without any, nothing about them is known."""
    return CustomerSegment(
        as_of=ctx.as_of,
        segment=args.segment,
        definition=SEGMENT_DEFINITIONS[args.segment],
        size=None,
        share_of_active=None,
        avg_ltv=None,
        segment_mrr=None,
        churn_risk=None,
        avg_tenure_days=None,
        top_signals=[],
        customers=[],
        recommended_actions=[],
        unavailable=dict.fromkeys(_SEGMENT_FIELDS, NO_SUBSCRIPTIONS),
    )


def customer_list(ctx: ViewContext, args: CustomerListArgs) -> CustomerList:
    """Customers matching the filter, sorted, at most ``limit``.

    Without subscription data only the ``all`` filter has members one can know; the others are
    unavailable, and listed customers have no known status or plan.
    """
    has_subs = ctx.has(subscriptions)
    if not has_subs and args.filter != "all":
        return CustomerList(
            as_of=ctx.as_of,
            filter=args.filter,
            sort_by=args.sort_by,
            total=None,
            customers=[],
            unavailable={"total": NO_SUBSCRIPTIONS, "customers": NO_SUBSCRIPTIONS},
        )
    facts = ctx.frame()
    return CustomerList(
        as_of=ctx.as_of,
        filter=args.filter,
        sort_by=args.sort_by,
        total=facts.count(args.filter),
        customers=[summary(r, has_subs) for r in facts.first(args.filter, args.sort_by, args.limit)],
        unavailable={} if has_subs else {"customers.status": NO_SUBSCRIPTIONS, "customers.plan": NO_SUBSCRIPTIONS},
    )


def ticket_summary(row: dict, as_of: dt.date) -> TicketSummary:
    """A ticket as known at the end of ``as_of`` (later responses and resolutions are hidden)."""
    cutoff = end_of_day(as_of)
    created = q.as_datetime(row["created_at"])
    first = row["first_response_at"] and q.as_datetime(row["first_response_at"])
    resolved = row["resolved_at"] and q.as_datetime(row["resolved_at"])
    first = first if first and first < cutoff else None
    resolved = resolved if resolved and resolved < cutoff else None
    status = "resolved" if resolved else ("pending" if first else "open")
    return TicketSummary(
        ticket_id=row["ticket_id"],
        customer_id=row["customer_id"],
        customer_name=row["customer_name"],
        created_at=created,
        category=row["category"],
        priority=row["priority"],
        status=status,  # type: ignore[arg-type]
        subject=row["subject"],
        sentiment=row["sentiment"],
        first_response_hours=round((first - created).total_seconds() / 3600, 2) if first else None,
        csat_rating=row["csat_rating"] if resolved else None,
    )


def customer_profile(ctx: ViewContext, args: CustomerProfileArgs) -> CustomerProfile:
    """Everything known about one customer at ``as_of``."""
    conn, as_of = ctx.conn, ctx.as_of
    cust = q.customer_row(conn, args.customer_id, as_of)
    if cust is None:
        raise DataUnavailableError(
            f"no customer {args.customer_id!r} as of {as_of}; use customer_list or search_tickets to find ids"
        )
    facts = ctx.frame()
    rec = facts.record(args.customer_id)
    assert rec is not None, "a customer known at as_of has facts at as_of"
    subs = [
        SubscriptionInfo(
            subscription_id=s["subscription_id"],
            plan=s["plan"],
            monthly_price=dollars(s["monthly_price_cents"]),
            started_on=q.as_date(s["started_on"]),
            cancelled_on=q.as_date(s["cancelled_on"]) if s["cancelled_on"] is not None else None,
            cancel_reason=s["cancel_reason"],
        )
        for s in q.customer_subscriptions(conn, args.customer_id, as_of)
    ]
    order_rows = q.customer_orders(conn, args.customer_id, as_of)
    cutoff = end_of_day(as_of)
    ticket_rows = q.ticket_rows(conn, [tix.c.customer_id == args.customer_id, tix.c.created_at < cutoff])
    tickets = [ticket_summary(r, as_of) for r in ticket_rows]
    sub_fields = ("status", "tenure_days", "subscriptions", "segments")
    unavailable = gaps(ctx, dict.fromkeys(sub_fields, (subscriptions, NO_SUBSCRIPTIONS)))
    unavailable |= gaps(ctx, dict.fromkeys(("tickets", "open_tickets", "recent_tickets"), (tix, NO_TICKETS)))
    has_subs, has_tickets = "status" not in unavailable, "tickets" not in unavailable
    return CustomerProfile(
        as_of=as_of,
        customer_id=rec.customer_id,
        name=cust["name"],
        email=cust["email"],
        country=cust["country"],
        created_on=q.as_date(cust["created_on"]),
        status=rec.status if has_subs else None,  # type: ignore[arg-type]
        tenure_days=tenure_days(rec, as_of) if has_subs else None,
        subscriptions=subs,
        lifetime_value=dollars(rec.ltv_cents),
        orders=len(order_rows),
        failed_payments=sum(1 for _, _, status in order_rows if status == "failed"),
        last_order_on=max((q.as_date(d) for d, _, _ in order_rows), default=None),
        tickets=len(tickets) if has_tickets else None,
        open_tickets=sum(1 for t in tickets if t.status != "resolved") if has_tickets else None,
        recent_tickets=tickets[:5],
        signals=[SignalInfo(signal_type=t, strength=round(s, 4), detected_on=d) for t, s, d in rec.signals],
        risk_score=rec.risk,
        segments=facts.segments_of(rec.customer_id) if has_subs else [],
        unavailable=unavailable,
    )


def search_tickets(ctx: ViewContext, args: SearchTicketsArgs) -> TicketSearch:
    """Tickets up to ``as_of`` whose subject or category contains every query word, newest first."""
    if not ctx.has(tix):
        return TicketSearch(
            as_of=ctx.as_of,
            query=args.query,
            total=None,
            tickets=[],
            unavailable={"total": NO_TICKETS, "tickets": NO_TICKETS},
        )
    words = [w for w in args.query.lower().replace("_", " ").split() if w]
    total, rows = q.search_ticket_rows(ctx.conn, words, end_of_day(ctx.as_of), args.limit)
    return TicketSearch(
        as_of=ctx.as_of, query=args.query, total=total, tickets=[ticket_summary(r, ctx.as_of) for r in rows]
    )


def business_timeline(ctx: ViewContext, args: BusinessTimelineArgs) -> BusinessTimeline:
    """Events from ``days_before`` before to ``days_after`` after ``as_of`` (future ones only if planned)."""
    lo = ctx.as_of - dt.timedelta(days=args.days_before)
    hi = ctx.as_of + dt.timedelta(days=args.days_after)
    return BusinessTimeline(
        as_of=ctx.as_of,
        days_before=args.days_before,
        days_after=args.days_after,
        events=timeline_events(ctx, lo, hi),
    )
