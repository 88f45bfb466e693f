"""One customer's full profile: subscriptions, orders, signals and tickets."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import Field

from app.errors import DataUnavailableError
from app.storage import queries as q
from app.storage.customer_frame import tenure_days
from app.storage.schema import subscriptions
from app.storage.schema import support_tickets as tix
from app.views.base import MoneyResult, ViewArgs, ViewModel
from app.views.common import NO_SUBSCRIPTIONS, NO_TICKETS, ViewContext, gaps
from app.views.orders import NO_RISK, OrderHistory, order_histories
from app.views.registry import ViewSpec
from app.views.tickets import TicketSummary, ticket_summary
from app.world.world import end_of_day


class CustomerProfileArgs(ViewArgs):
    customer_id: str = Field(min_length=1, max_length=32, description="Customer id, e.g. C000123.")


class SubscriptionInfo(ViewModel):
    subscription_id: str
    plan: str
    monthly_price: float
    started_on: dt.date
    cancelled_on: dt.date | None
    cancel_reason: str | None


class SignalInfo(ViewModel):
    signal_type: str
    strength: float
    detected_on: dt.date




class CustomerProfile(MoneyResult):
    """One customer: subscription, value, support history, signals, risk."""

    view: ClassVar[str] = "customer_profile"
    customer_id: str
    name: str
    email: str
    country: str
    created_on: dt.date
    status: Literal["active", "cancelled", "never_subscribed"] | None
    tenure_days: int | None
    subscriptions: list[SubscriptionInfo]
    lifetime_value: float
    orders: int
    failed_payments: int
    last_order_on: dt.date | None
    tickets: int | None
    open_tickets: int | None
    recent_tickets: list[TicketSummary]
    signals: list[SignalInfo] = Field(description="signals of the last 60 days")
    risk_score: float | None = Field(description="null without subscription data (see order_history)")
    segments: list[str]
    order_history: OrderHistory | None = Field(
        default=None,
        description="without subscription data: charged orders, net revenue, last order and retention status "
        "(null with subscriptions, or before the customer's first charged order)",
    )

    def to_text(self) -> str:
        subs = "; ".join(
            f"{s.plan} {self.money(s.monthly_price)}/mo since {s.started_on}"
            + (f", cancelled {s.cancelled_on} ({s.cancel_reason})" if s.cancelled_on else "")
            for s in self.subscriptions
        )
        status = self._or_missing(
            "status",
            f"{self.status}, tenure {self.tenure_days} days; segments: {', '.join(self.segments) or 'none'}",
        )
        lines = [
            f"Customer {self.customer_id} {self.name} <{self.email}> ({self.country}), as of {self.as_of}",
            f"Status: {status}",
            f"Subscriptions: {self._or_missing('subscriptions', subs or 'none')}",
            f"LTV {self.money(self.lifetime_value)} over {self.orders} orders; {self.failed_payments} failed payments; "
            f"last order {self.last_order_on or 'n/a'}",
            *([f"Orders: {self.order_history.text(self.money)}"] if self.order_history else []),
            "Risk score "
            + self._or_missing("risk_score", f"{self.risk_score or 0:.2f}")
            + "; signals (60d): "
            + (", ".join(f"{s.signal_type} {s.strength:.2f} on {s.detected_on}" for s in self.signals) or "none"),
            f"Tickets: {self._or_missing('tickets', f'{self.tickets} total, {self.open_tickets} open')}",
            *[t.line() for t in self.recent_tickets],
        ]
        return "\n".join(lines)



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
            monthly_price=ctx.major(s["monthly_price_cents"]),
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
    if not has_subs:
        unavailable["risk_score"] = NO_RISK
    history = None if has_subs else order_histories(ctx, [rec.customer_id]).get(rec.customer_id)
    return CustomerProfile(
        as_of=as_of,
        currency=ctx.currency,
        customer_id=rec.customer_id,
        name=cust["name"],
        email=cust["email"],
        country=cust["country"],
        created_on=q.as_date(cust["created_on"]),
        status=rec.status if has_subs else None,
        tenure_days=tenure_days(rec, as_of) if has_subs else None,
        subscriptions=subs,
        lifetime_value=ctx.major(rec.ltv_cents),
        orders=len(order_rows),
        failed_payments=sum(1 for _, _, status in order_rows if status == "failed"),
        last_order_on=max((q.as_date(d) for d, _, _ in order_rows), default=None),
        tickets=len(tickets) if has_tickets else None,
        open_tickets=sum(1 for t in tickets if t.status != "resolved") if has_tickets else None,
        recent_tickets=tickets[:5],
        signals=[SignalInfo(signal_type=t, strength=round(s, 4), detected_on=d) for t, s, d in rec.signals],
        risk_score=rec.risk if has_subs else None,
        segments=facts.segments_of(rec.customer_id) if has_subs else [],
        order_history=history,
        unavailable=unavailable,
    )


CUSTOMER_PROFILE: ViewSpec[CustomerProfileArgs, CustomerProfile] = ViewSpec(
    name="customer_profile",
    args=CustomerProfileArgs,
    result=CustomerProfile,
    description="One customer's full profile.",
    tool="get_customer_profile",
    guidance="Use it for one customer's full history; needs a customer id like C000123.",
    build=customer_profile,
    examples=({"customer_id": "C000001"},),
)
