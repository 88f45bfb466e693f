"""The daily briefing: headline trends, today's support load, top issues, alerts and recent events."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import Field

from app.formatting import count, hours, rate_pct
from app.storage import queries as q
from app.storage.schema import support_tickets
from app.views.alerts import briefing_alerts
from app.views.base import (
    Alert,
    CategoryCount,
    MoneyResult,
    NoArgs,
    TicketSnapshot,
    TimelineEvent,
    Trend,
    categories_text,
    events_text,
    not_available,
)
from app.views.common import (
    NO_TICKETS,
    ViewContext,
    _csat_trend,
    _subscription_trends,
    avg_hours,
    gaps,
    timeline_events,
    with_shares,
)
from app.views.orders import NO_REFUNDS, order_trends
from app.views.registry import ViewSpec


class DailyBriefing(MoneyResult):
    """Morning summary: headline trends (30-day windows), support load, top issues, alerts."""

    view: ClassVar[str] = "daily_briefing"
    merchant: str
    mrr: Trend
    active_subscribers: Trend
    churn_rate: Trend
    new_subscribers: Trend
    revenue: Trend = Field(
        description="net revenue (charged orders minus refunds), 30 days; gross when the data holds no refunds"
    )
    revenue_basis: Literal["net", "gross"] = Field(description="gross when the data holds no refund records")
    orders: Trend = Field(description="charged orders, 30 days")
    csat: Trend
    tickets: TicketSnapshot
    top_ticket_categories: list[CategoryCount] = Field(description="tickets created in the last 7 days")
    alerts: list[Alert]
    recent_events: list[TimelineEvent] = Field(description="timeline events of the last 7 days")

    def to_text(self) -> str:
        t = self.tickets
        lines = [
            f"Daily briefing for {self.merchant}, as of {self.as_of} (changes vs the previous 30 days)",
            f"MRR: {self.mrr.describe(self.money)}",
            f"Active subscribers: {self.active_subscribers.describe(count)}",
            f"Churn rate (30d): {self.churn_rate.describe(rate_pct)}",
            f"New subscribers (30d): {self.new_subscribers.describe(count)}",
            f"{self.revenue_basis.capitalize()} revenue (30d): {self.revenue.describe(self.money)}",
            f"Orders (30d): {self.orders.describe(count)}",
            f"CSAT (30d): {self.csat.describe(lambda v: 'n/a' if v is None else f'{v:.2f}')}",
            f"Tickets: {not_available(t.unavailable)}"
            if t.unavailable
            else f"Tickets: {t.created_24h} created in the last 24h, {t.open} open, {t.urgent} urgent open, "
            f"first response {hours(t.avg_first_response_hours)} (7d avg)",
            "Top ticket categories (7d): "
            + self._or_missing("top_ticket_categories", categories_text(self.top_ticket_categories)),
        ]
        if self.alerts:
            lines.append("Alerts:")
            lines += [f"  [{a.severity}] {a.message}" for a in self.alerts]
        else:
            lines.append("Alerts: none")
        if self.recent_events:
            lines.append("Recent events:")
            lines += events_text(self.recent_events)
        return "\n".join(lines)



def daily_briefing(ctx: ViewContext, args: NoArgs) -> DailyBriefing:
    """Headline 30-day trends, today's support load and alerts."""
    subs = _subscription_trends(ctx, 30)
    sales = order_trends(ctx, 30, customers=False)
    # Without refund records net revenue is unknown: the briefing shows gross revenue and says so.
    basis = "gross" if sales["net_revenue"].unavailable == NO_REFUNDS else "net"
    revenue = sales[f"{basis}_revenue"]
    w30 = q.Window.ending(ctx.as_of, 30)
    csat, _ = _csat_trend(ctx, w30)
    conn, as_of = ctx.conn, ctx.as_of
    has_tickets = ctx.has(support_tickets)
    open_n, urgent = q.open_tickets(conn, as_of)
    frt_7d = avg_hours(q.response_stats(conn, q.Window.ending(as_of, 7), "first_response_at"))
    last3 = q.tickets_created(conn, q.Window.ending(as_of, 3))
    baseline30 = q.tickets_created(conn, q.Window(as_of - dt.timedelta(days=33), as_of - dt.timedelta(days=3)))
    alerts = briefing_alerts(
        mrr=subs["mrr"],
        churn_rate=subs["churn_rate"],
        new_subscribers=subs["new_subscribers"],
        revenue=revenue,
        csat=csat,
        tickets_3d_per_day=last3 / 3,
        tickets_baseline_per_day=baseline30 / 30,
        first_response_hours=frt_7d,
        urgent_open=urgent,
    )
    return DailyBriefing(
        as_of=as_of,
        currency=ctx.currency,
        merchant=ctx.merchant,
        mrr=subs["mrr"],
        active_subscribers=subs["active_subscribers"],
        churn_rate=subs["churn_rate"],
        new_subscribers=subs["new_subscribers"],
        revenue=revenue,
        revenue_basis=basis,
        orders=sales["orders"],
        csat=csat,
        tickets=TicketSnapshot(
            created_24h=q.tickets_created(conn, q.Window.ending(as_of, 1)),
            open=open_n,
            urgent=urgent,
            avg_first_response_hours=frt_7d,
        )
        if has_tickets
        else TicketSnapshot(created_24h=None, open=None, urgent=None, avg_first_response_hours=None, unavailable=NO_TICKETS),
        top_ticket_categories=with_shares(q.ticket_counts_by(conn, q.Window.ending(as_of, 7), "category"), top=3),
        alerts=alerts,
        recent_events=timeline_events(ctx, as_of - dt.timedelta(days=6), as_of),
        unavailable=gaps(ctx, {"top_ticket_categories": (support_tickets, NO_TICKETS)}),
    )


DAILY_BRIEFING: ViewSpec[NoArgs, DailyBriefing] = ViewSpec(
    name="daily_briefing",
    args=NoArgs,
    result=DailyBriefing,
    description="Headline trends, support load, top issues and alerts.",
    tool="get_daily_briefing",
    guidance="Use it to open the day or when asked how the business is doing.",
    build=daily_briefing,
    examples=({},),
)
