"""Orders and revenue: what any merchant with orders can know, with or without subscriptions.

Gross revenue is the amount of charged orders (status paid or refunded) placed in the window,
refunds are the refunds issued in it, net revenue the difference. Customers are counted from
their charged orders: *new* in a window when their first order falls in it, *returning* when they
ordered in it and had ordered before; the repeat-purchase rate at a day is the share of customers
with an order by then who have two or more. Retention status follows days since the last order:
ACTIVE <= 30, AT_RISK 31-90, INACTIVE > 90 (docs/metrics.md).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

from pydantic import Field

from app.formatting import count, counted, rate_pct
from app.storage import order_queries as oq
from app.storage import queries as q
from app.storage.customer_frame import RETENTION_DAYS
from app.storage.schema import orders, refunds
from app.views.base import WINDOW_DAYS, MoneyResult, TimeRange, Trend, ViewArgs, ViewModel
from app.views.common import NO_ORDERS, NO_REFUNDS, ViewContext, gaps, ratio
from app.views.registry import ViewSpec

__all__ = [
    "OrderMetrics",
    "ORDER_METRICS",
    "order_trends",
    "NO_REFUNDS",
    "RETENTION_DAYS",
    "NO_RISK",
    "retention_status",
    "OrderHistory",
    "order_histories",
]

TOP_CUSTOMERS = 5
NO_RISK = (
    "no subscription data: the risk score comes from subscription signals (failed payments, skipped boxes, "
    "tickets, engagement); see days since the last order and retention status instead"
)
"""Why an orders-only merchant's customers have no risk score."""

RetentionStatus = Literal["ACTIVE", "AT_RISK", "INACTIVE"]


def retention_status(days_since_last_order: int) -> RetentionStatus:
    """ACTIVE, AT_RISK or INACTIVE from the days since a customer's last charged order (DESIGN.md 9)."""
    active_days, risk_days = RETENTION_DAYS
    if days_since_last_order <= active_days:
        return "ACTIVE"
    return "AT_RISK" if days_since_last_order <= risk_days else "INACTIVE"


class OrderHistory(ViewModel):
    """One customer's charged orders at ``as_of``: what an orders-only merchant knows about them."""

    orders: int = Field(description="charged orders (paid or refunded) on or before as_of")
    net_revenue: float = Field(description="their amount minus refunds issued to the customer by as_of, in the currency")
    last_order_on: dt.date
    days_since_last_order: int
    retention_status: RetentionStatus = Field(description="ACTIVE <= 30 days since the last order, AT_RISK 31-90, INACTIVE > 90")

    def text(self, money: Callable[[float | None], str]) -> str:
        return (
            f"{self.orders} orders, net revenue {money(self.net_revenue)}, last order {self.last_order_on} "
            f"({self.days_since_last_order} days ago, {self.retention_status})"
        )


def order_histories(ctx: ViewContext, ids: Sequence[str]) -> dict[str, OrderHistory]:
    """Customer id -> :class:`OrderHistory` of the given customers (those without a charged order omitted)."""
    out = {}
    for cid, c in oq.customer_orders(ctx.conn, ctx.as_of, ids).items():
        days = (ctx.as_of - c.last).days
        out[cid] = OrderHistory(
            orders=c.orders,
            net_revenue=ctx.major(c.charged - c.refunded),
            last_order_on=c.last,
            days_since_last_order=days,
            retention_status=retention_status(days),
        )
    return out


class OrderMetricsArgs(ViewArgs):
    time_range: TimeRange = Field(default="30d", description="Window: 24h, 3d, 7d, 30d, 60d or 90d.")


class RetentionCounts(ViewModel):
    """Customers with an order by ``as_of``, by days since their last order."""

    active: int = Field(description="last order at most 30 days ago")
    at_risk: int = Field(description="last order 31-90 days ago")
    inactive: int = Field(description="last order more than 90 days ago")


class TopCustomer(ViewModel):
    customer_id: str
    name: str
    orders: int
    amount: float = Field(description="charged in the window")


class RefundReason(ViewModel):
    reason: str | None = Field(description="null when the record does not say")
    count: int = Field(description="refunds with this reason")
    amount: float


class OrderMetrics(MoneyResult):
    """Revenue, refunds, orders and customers over a window, vs the previous window."""

    view: ClassVar[str] = "order_metrics"
    time_range: TimeRange
    gross_revenue: Trend
    refunds: Trend
    net_revenue: Trend
    refund_rate: Trend = Field(description="refunded amount / gross revenue (a rate: change_points)")
    orders: Trend
    avg_order_value: Trend
    customers: Trend = Field(description="customers with an order in the window")
    new_customers: Trend
    returning_customers: Trend
    repeat_purchase_rate: Trend = Field(description="customers with 2+ orders / customers with an order, at the window end")
    retention: RetentionCounts | None
    top_customers: list[TopCustomer]
    refunds_by_reason: list[RefundReason]

    def to_text(self) -> str:
        since = "previous " + self.time_range
        m = self.money
        r = self.retention
        retention = (
            f"{count(r.active)} active (ordered in the last 30 days), {count(r.at_risk)} at risk (31-90 days), "
            f"{count(r.inactive)} inactive (over 90 days)"
            if r
            else "none"
        )
        reasons = ", ".join(
            f"{(x.reason or 'unspecified').replace('_', ' ')} {x.count} ({m(x.amount)})" for x in self.refunds_by_reason
        )
        lines = [
            f"Orders and revenue, last {self.time_range} to {self.as_of} ({self.currency})",
            f"Gross revenue: {self.gross_revenue.describe(m, since)}",
            f"Refunds: {self.refunds.describe(m, since)}",
            f"Net revenue: {self.net_revenue.describe(m, since)}",
            f"Refund rate: {self.refund_rate.describe(rate_pct, since)}",
            f"Orders: {self.orders.describe(count, since)}",
            f"Average order value: {self.avg_order_value.describe(m, since)}",
            f"Customers ordering: {self.customers.describe(count, since)}",
            f"New customers: {self.new_customers.describe(count, since)}",
            f"Returning customers: {self.returning_customers.describe(count, since)}",
            f"Repeat-purchase rate: {self.repeat_purchase_rate.describe(rate_pct, self.time_range + ' ago')}",
            "Customers by last order: " + self._or_missing("retention", retention),
            "Top customers: "
            + self._or_missing(
                "top_customers",
                "; ".join(f"{_who(c.name, c.customer_id)} {m(c.amount)} over {counted(c.orders, 'order')}" for c in self.top_customers)
                or "none",
            ),
            "Refunds by reason: " + self._or_missing("refunds_by_reason", reasons or "none"),
        ]
        return "\n".join(lines)


_TREND_KEYS = (
    "gross_revenue",
    "refunds",
    "net_revenue",
    "refund_rate",
    "orders",
    "avg_order_value",
    "customers",
    "new_customers",
    "returning_customers",
    "repeat_purchase_rate",
)


_CUSTOMER_KEYS = ("customers", "new_customers", "returning_customers", "repeat_purchase_rate")


def _figures(
    ctx: ViewContext, windows: list[q.Window], customers: bool, ordering_now: int | None
) -> list[dict[str, float | None]]:
    """Every figure of each window (a few queries for all windows); customer figures when ``customers``
    (``ordering_now``: customers ordering in the first window, when the caller counted them already)."""
    charged = oq.charged_totals(ctx.conn, windows)
    refunded = oq.refund_totals(ctx.conn, windows)
    out: list[dict[str, float | None]] = []
    for (n, gross), (_, back) in zip(charged, refunded, strict=True):
        out.append(
            {
                "gross_revenue": ctx.major(gross),
                "refunds": ctx.major(back),
                "net_revenue": ctx.major(gross - back),
                "refund_rate": ratio(back, gross),
                "orders": n,
                "avg_order_value": ctx.major(gross / n) if n else None,
            }
        )
    if customers:
        # customers by each window's start and end: new = first orders in the window
        by = dict(zip([w.lo for w in windows] + [w.hi for w in windows],
                      oq.customers_by(ctx.conn, [w.lo for w in windows] + [w.hi for w in windows]), strict=True))  # fmt: skip
        for k, (w, figures) in enumerate(zip(windows, out, strict=True)):
            if k == 0 and ordering_now is not None:
                ordering = ordering_now
            else:
                (ordering,) = oq.customers_ordering(ctx.conn, w.hi, [w.lo])
            (pop_lo, _), (pop_hi, repeat) = by[w.lo], by[w.hi]
            new = pop_hi - pop_lo
            figures |= {
                "customers": ordering,
                "new_customers": new,
                "returning_customers": ordering - new,
                "repeat_purchase_rate": ratio(repeat, pop_hi),
            }
    return out


def order_trends(
    ctx: ViewContext, days: int, customers: bool = True, ordering_now: int | None = None
) -> dict[str, Trend]:
    """The order trends of a ``days``-long window ending at ``as_of`` vs the window before.

    ``customers=False`` leaves out the customer trends (the briefing needs money and orders only).
    Refund-based trends are unavailable without any refund records; every trend is unavailable
    without orders. A previous window before the data's first day has no figures (not zeros).
    """
    keys = _TREND_KEYS if customers else tuple(k for k in _TREND_KEYS if k not in _CUSTOMER_KEYS)
    if not ctx.has(orders):
        return {k: Trend.missing(NO_ORDERS) for k in keys}
    w = q.Window.ending(ctx.as_of, days)
    windows = [w, w.previous()] if ctx.covers(w.previous()) else [w]
    figures = _figures(ctx, windows, customers, ordering_now)
    now, before = figures[0], (figures[1] if len(figures) > 1 else None)
    no_refunds = not ctx.has(refunds)
    out: dict[str, Trend] = {}
    for key in keys:
        if no_refunds and key in ("refunds", "net_revenue", "refund_rate"):
            out[key] = Trend.missing(NO_REFUNDS)
            continue
        empty = None if now[key] is not None else _EMPTY.get(key)
        out[key] = Trend.of(now[key], before[key] if before else None, empty, rate=key in _RATES)
    return out


_RATES = ("refund_rate", "repeat_purchase_rate")
_EMPTY = {
    "refund_rate": "no orders in the window",
    "avg_order_value": "no orders in the window",
    "repeat_purchase_rate": "no customer has ordered yet",
}


def _retention(ctx: ViewContext, recent: list[oq.RecentCustomer]) -> RetentionCounts | None:
    """Customers by days since their last charged order at ``as_of`` (None when nobody has ordered).

    ``recent``: the customers who ordered in at least the last 91 days (:func:`oq.recent_customers`).
    """
    ((population, _),) = oq.customers_by(ctx.conn, [ctx.as_of])
    if not population:
        return None
    status = Counter(retention_status((ctx.as_of - r.last).days) for r in recent)
    active, at_risk = status["ACTIVE"], status["AT_RISK"]
    return RetentionCounts(active=active, at_risk=at_risk, inactive=population - active - at_risk)


def order_metrics(ctx: ViewContext, args: OrderMetricsArgs) -> OrderMetrics:
    """Revenue, refunds, orders and customers over a window vs the previous window."""
    days = WINDOW_DAYS[args.time_range]
    w = q.Window.ending(ctx.as_of, days)
    has_orders = ctx.has(orders)
    unavailable = gaps(
        ctx,
        {
            "retention": (orders, NO_ORDERS),
            "top_customers": (orders, NO_ORDERS),
            "refunds_by_reason": (refunds, NO_REFUNDS),
        },
    )
    # one scan of the recent orders: customers in the window, the top ones and days since each one's last order
    recent = oq.recent_customers(ctx.conn, w, ctx.as_of - dt.timedelta(days=RETENTION_DAYS[1] + 1)) if has_orders else []
    in_window = [r for r in recent if r.orders]
    top = sorted(in_window, key=lambda r: (-r.amount, r.customer_id))[:TOP_CUSTOMERS]
    names = oq.customer_names(ctx.conn, [r.customer_id for r in top]) if top else {}
    return OrderMetrics(
        as_of=ctx.as_of,
        currency=ctx.currency,
        time_range=args.time_range,
        **order_trends(ctx, days, ordering_now=len(in_window)),
        retention=_retention(ctx, recent) if has_orders else None,
        top_customers=[
            TopCustomer(
                customer_id=r.customer_id,
                name=names.get(r.customer_id, r.customer_id),
                orders=r.orders,
                amount=ctx.major(r.amount),
            )
            for r in top
        ],
        refunds_by_reason=[
            RefundReason(reason=r, count=k, amount=ctx.major(a)) for r, k, a in oq.refunds_by_reason(ctx.conn, w)
        ],
        unavailable=unavailable,
    )


ORDER_METRICS: ViewSpec[OrderMetricsArgs, OrderMetrics] = ViewSpec(
    name="order_metrics",
    args=OrderMetricsArgs,
    result=OrderMetrics,
    description="Revenue (gross, refunds, net), orders, average order value, new vs returning customers, "
    "repeat-purchase rate, customers by days since their last order, top customers, refunds by reason.",
    tool="get_order_metrics",
    guidance="Use it for revenue, sales, orders, refunds, order value and repeat customers; it works for any "
    "merchant with orders, with or without subscriptions.",
    build=order_metrics,
    examples=({"time_range": "30d"}, {"time_range": "90d"}, {"time_range": "7d"}),
)


def _who(name: str, customer_id: str) -> str:
    # Exports without names (UCI's) name a customer by its id: say it once.
    return customer_id if name == customer_id else f"{name} ({customer_id})"
