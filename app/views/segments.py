"""Customer segments and customer lists."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import Field

from app.formatting import money, rate_pct
from app.storage.customer_frame import RETENTION_FILTERS, SEGMENT_DEFINITIONS, CustomerRecord
from app.storage.schema import subscriptions
from app.views.base import CustomerFilter, MoneyResult, Segment, ViewArgs, ViewModel, not_available
from app.views.common import NO_SUBSCRIPTIONS, ViewContext
from app.views.orders import NO_RISK, OrderHistory, order_histories
from app.views.recommendations import segment_actions
from app.views.registry import ViewSpec


class CustomerSummary(ViewModel):
    customer_id: str
    name: str
    plan: str | None
    status: Literal["active", "cancelled", "never_subscribed"] | None = Field(
        description="null when the database holds no subscription data"
    )
    lifetime_value: float = Field(description="paid order revenue to date, in the currency")
    risk_score: float | None = Field(description="null when the database holds no subscription data (see order_history)")
    started_on: dt.date | None
    cancelled_on: dt.date | None = None
    cancel_reason: str | None = None
    order_history: OrderHistory | None = Field(
        default=None,
        description="without subscription data: the customer's orders, net revenue, last order and retention "
        "status (null with subscriptions, or before the customer's first charged order)",
    )

    def line(self, currency: str | None = None) -> str:
        extra = f", cancelled {self.cancelled_on} ({self.cancel_reason})" if self.cancelled_on else ""
        if self.status is None:
            history = self.order_history.text(lambda v: money(v, currency)) if self.order_history else "no orders yet"
            return f"  {self.customer_id} {self.name}: {history}"
        since = f", since {self.started_on}" if self.started_on else ""
        return (
            f"  {self.customer_id} {self.name}: {self.plan or 'no plan'}, LTV {money(self.lifetime_value, currency)}, "
            f"risk {self.risk_score:.2f}{since}{extra}"
        )


class CustomerSegmentArgs(ViewArgs):
    segment: Segment = Field(description="high_value, at_risk, new or churned.")
    depth: Literal["summary", "detailed"] = Field(default="summary", description="detailed lists more customers.")


class SignalCount(ViewModel):
    signal_type: str
    count: int


class CustomerSegment(MoneyResult):
    """A customer segment: size, value, risk, a sample of customers and what to do."""

    view: ClassVar[str] = "customer_segment"
    segment: Segment
    definition: str
    size: int | None
    share_of_active: float | None = Field(description="size / active subscribers (null for churned)")
    avg_ltv: float | None
    segment_mrr: float | None = Field(description="MRR of the segment's active subscriptions, in the currency")
    churn_risk: float | None = Field(description="mean risk score of the segment")
    avg_tenure_days: float | None
    top_signals: list[SignalCount]
    customers: list[CustomerSummary]
    recommended_actions: list[str]

    def to_text(self) -> str:
        if "size" in self.unavailable:
            return "\n".join(
                [
                    f"Segment {self.segment} as of {self.as_of}: {self.definition}",
                    f"Size, value, risk and customers: {not_available(self.unavailable['size'])}",
                ]
            )
        share = "" if self.share_of_active is None else f" ({rate_pct(self.share_of_active)} of active)"
        risk = "n/a" if self.churn_risk is None else f"{self.churn_risk:.2f}"
        tenure = "n/a" if self.avg_tenure_days is None else f"{self.avg_tenure_days:.0f} days"
        lines = [
            f"Segment {self.segment} as of {self.as_of}: {self.definition}",
            f"Size: {self.size} customers{share}; MRR {self.money(self.segment_mrr)}",
            f"Avg LTV: {self.money(self.avg_ltv)}; avg churn risk {risk}; avg tenure {tenure}",
            "Top signals (60d): " + (", ".join(f"{s.signal_type} {s.count}" for s in self.top_signals) or "none"),
            f"Customers ({len(self.customers)} of {self.size}):",
            *[c.line(self.currency) for c in self.customers],
            "Recommended actions:",
            *[f"  - {a}" for a in self.recommended_actions],
        ]
        return "\n".join(lines)



class CustomerListArgs(ViewArgs):
    filter: CustomerFilter = Field(
        default="active",
        description="all, active, high_value, at_risk, new or churned (subscriptions); order_active, order_at_risk "
        "or order_inactive (last order <= 30, 31-90, > 90 days ago; any shop with orders).",
    )
    limit: int = Field(default=10, ge=1, le=100, description="How many customers (1-100).")
    sort_by: Literal["ltv", "risk", "tenure", "recent", "name"] = Field(
        default="ltv",
        description="ltv, risk, tenure (longest first: earliest subscription start, else first order), "
        "recent (newest first: latest subscription start, else last order) or name.",
    )


class CustomerList(MoneyResult):
    """Customers matching a filter, sorted."""

    view: ClassVar[str] = "customer_list"
    filter: CustomerFilter
    sort_by: str
    total: int | None
    customers: list[CustomerSummary]

    def to_text(self) -> str:
        head = f"Customers ({self.filter}, by {self.sort_by}) as of {self.as_of}: "
        if "total" in self.unavailable:
            return head + not_available(self.unavailable["total"])
        lines = [head + f"{len(self.customers)} of {self.total}", *[c.line(self.currency) for c in self.customers]]
        if "customers.status" in self.unavailable:
            lines.append("Plan and subscription status: " + not_available(self.unavailable["customers.status"]))
        if "customers.risk_score" in self.unavailable:
            lines.append("Risk score: " + not_available(self.unavailable["customers.risk_score"]))
        return "\n".join(lines)



SAMPLE_SIZE = {"summary": 5, "detailed": 15}


def summary(ctx: ViewContext, rec: CustomerRecord, history: dict[str, OrderHistory] | None = None) -> CustomerSummary:
    """The list/segment line of a customer; the same numbers as its profile.

    ``history`` is given without any subscription data (the customers' :func:`order_histories`): the
    status is then unknown (null), not "never subscribed", and the risk score, built from subscription
    signals, is null too; the orders say what they can instead.
    """
    return CustomerSummary(
        customer_id=rec.customer_id,
        name=rec.name,
        plan=rec.plan,
        status=rec.status if history is None else None,
        lifetime_value=ctx.major(rec.ltv_cents),
        risk_score=rec.risk if history is None else None,
        started_on=rec.started_on,
        cancelled_on=rec.cancelled_on,
        cancel_reason=rec.cancel_reason,
        order_history=None if history is None else history.get(rec.customer_id),
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
        currency=ctx.currency,
        segment=args.segment,
        definition=SEGMENT_DEFINITIONS[args.segment],
        size=size,
        share_of_active=None if args.segment == "churned" else (round(size / active_n, 4) if active_n else None),
        avg_ltv=ctx.major(stats.ltv_cents / size) if size else None,
        segment_mrr=ctx.major(stats.mrr_cents),
        churn_risk=round(stats.risk_sum / size, 4) if size else None,
        avg_tenure_days=round(stats.tenure_days / size, 1) if size else None,
        top_signals=[SignalCount(signal_type=t, count=n) for t, n in top_signals],
        customers=[summary(ctx, r) for r in sample],
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
        currency=ctx.currency,
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

    Without subscription data only ``all`` and the order retention filters (``order_at_risk``: last
    charged order 31-90 days ago, ...) have members one can know; the subscription filters are
    unavailable, and listed customers have no known status or plan.
    """
    has_subs = ctx.has(subscriptions)
    if not has_subs and args.filter != "all" and args.filter not in RETENTION_FILTERS:
        return CustomerList(
            as_of=ctx.as_of,
            currency=ctx.currency,
            filter=args.filter,
            sort_by=args.sort_by,
            total=None,
            customers=[],
            unavailable={"total": NO_SUBSCRIPTIONS, "customers": NO_SUBSCRIPTIONS},
        )
    facts = ctx.frame()
    listed = facts.first(args.filter, args.sort_by, args.limit)
    # orders-only: the listed customers' order facts, read for these few customers only
    history = None if has_subs else order_histories(ctx, [r.customer_id for r in listed])
    return CustomerList(
        as_of=ctx.as_of,
        currency=ctx.currency,
        filter=args.filter,
        sort_by=args.sort_by,
        total=facts.count(args.filter),
        customers=[summary(ctx, r, history) for r in listed],
        unavailable={}
        if has_subs
        else {
            "customers.status": NO_SUBSCRIPTIONS,
            "customers.plan": NO_SUBSCRIPTIONS,
            "customers.risk_score": NO_RISK,
        },
    )


CUSTOMER_SEGMENT: ViewSpec[CustomerSegmentArgs, CustomerSegment] = ViewSpec(
    name="customer_segment",
    args=CustomerSegmentArgs,
    result=CustomerSegment,
    description="A segment's size, value, risk, actions.",
    tool="analyze_customer_segment",
    guidance="Use it to size and characterise high_value, at_risk, new or churned customers.",
    build=customer_segment,
    examples=tuple({"segment": s, "depth": "detailed"} for s in ("at_risk", "high_value", "new", "churned")),
)


CUSTOMER_LIST: ViewSpec[CustomerListArgs, CustomerList] = ViewSpec(
    name="customer_list",
    args=CustomerListArgs,
    result=CustomerList,
    description="Customers matching a filter, sorted.",
    tool="get_customer_list",
    guidance="Use it for the actual customers (names and ids) behind a segment; without subscription data, "
    "order_at_risk names the customers whose last order was 31-90 days ago.",
    build=customer_list,
    examples=(
        {"filter": "at_risk", "sort_by": "risk"},
        {"filter": "all", "sort_by": "name", "limit": 20},
        {"filter": "order_at_risk", "sort_by": "ltv"},
    ),
)
