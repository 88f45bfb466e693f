"""Subscription economics: MRR, subscribers, churn, CAC, ARPU, plans and cohorts."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field

from app.formatting import count, rate_pct
from app.storage import queries as q
from app.storage.schema import orders, subscriptions
from app.views.base import WINDOW_DAYS, MoneyResult, TimeRange, Trend, ViewArgs, ViewModel, not_available
from app.views.common import NO_MARKETING, NO_ORDERS, NO_SUBSCRIPTIONS, ViewContext, _subscription_trends, gaps
from app.views.registry import ViewSpec


class FinancialMetricsArgs(ViewArgs):
    time_range: TimeRange = Field(default="30d", description="Window: 24h, 3d, 7d, 30d, 60d or 90d.")
    include_cohorts: bool = Field(default=False, description="Add monthly signup cohorts and their retention.")


class ReasonCount(ViewModel):
    reason: str
    count: int


class PlanBreakdown(ViewModel):
    plan: str
    active: int
    mrr: float


class Cohort(ViewModel):
    month: str = Field(description="YYYY-MM of the subscription start")
    started: int
    active: int
    retention: float = Field(description="active / started, 4 decimals")


class FinancialMetrics(MoneyResult):
    """Revenue and subscriber economics over a window, vs the previous window."""

    view: ClassVar[str] = "financial_metrics"
    time_range: TimeRange
    mrr: Trend
    active_subscribers: Trend
    churn_rate: Trend
    new_subscribers: Trend
    cancellations: Trend
    net_growth: Trend
    cac: Trend
    arpu: Trend
    marketing_spend: Trend
    revenue: Trend
    top_cancel_reasons: list[ReasonCount]
    plans: list[PlanBreakdown]
    cohorts: list[Cohort] | None = None

    def to_text(self) -> str:
        since = "previous " + self.time_range
        lines = [
            f"Financial metrics, last {self.time_range} to {self.as_of}",
            f"MRR: {self.mrr.describe(self.money, self.time_range + ' ago')}",
            f"Active subscribers: {self.active_subscribers.describe(count, self.time_range + ' ago')}",
            f"Churn rate: {self.churn_rate.describe(rate_pct, since)}",
            f"New subscribers: {self.new_subscribers.describe(count, since)}",
            f"Cancellations: {self.cancellations.describe(count, since)}",
            f"Net growth: {self.net_growth.describe(count, since)}",
            f"CAC: {self.cac.describe(self.money, since)}",
            f"ARPU: {self.arpu.describe(self.money, self.time_range + ' ago')}",
            f"Marketing spend: {self.marketing_spend.describe(self.money, since)}",
            f"Order revenue: {self.revenue.describe(self.money, since)}",
            "Top cancel reasons: "
            + self._or_missing(
                "top_cancel_reasons",
                ", ".join(f"{r.reason.replace('_', ' ')} {r.count}" for r in self.top_cancel_reasons) or "none",
            ),
            "Plans: "
            + self._or_missing("plans", ", ".join(f"{p.plan} {p.active} active ({self.money(p.mrr)} MRR)" for p in self.plans)),
        ]
        if "cohorts" in self.unavailable:
            lines.append("Cohorts: " + not_available(self.unavailable["cohorts"]))
        if self.cohorts:
            lines.append("Cohorts (started -> still active):")
            lines += [f"  {c.month}: {c.started} -> {c.active} ({rate_pct(c.retention)})" for c in self.cohorts]
        return "\n".join(lines)



def financial_metrics(ctx: ViewContext, args: FinancialMetricsArgs) -> FinancialMetrics:
    """Subscriber economics over a window vs the previous window."""
    conn, days = ctx.conn, WINDOW_DAYS[args.time_range]
    w = q.Window.ending(ctx.as_of, days)
    subs = _subscription_trends(ctx, days)
    spend, _, spend_days = q.marketing(conn, w)
    prev_spend, _, prev_days = q.marketing(conn, w.previous())
    if spend_days:
        marketing = Trend.of(ctx.major(spend), ctx.major(prev_spend) if prev_days else None)
        new_now, new_before = subs["new_subscribers"].current, subs["new_subscribers"].previous
        cac_now = ctx.major(spend / new_now) if new_now else None
        cac_before = ctx.major(prev_spend / new_before) if new_before and prev_days else None
        cac = Trend.of(cac_now, cac_before, None if cac_now is not None else "no new subscribers in the window")
    else:
        marketing = cac = Trend.missing(NO_MARKETING)
    if not ctx.has(subscriptions):
        cac = Trend.missing(NO_SUBSCRIPTIONS)  # CAC divides by new subscribers
    revenue = Trend.of(
        ctx.major(q.paid_revenue(conn, w)), ctx.major(q.paid_revenue(conn, w.previous())) if ctx.covers(w.previous()) else None
    )
    if not ctx.has(orders):
        revenue = Trend.missing(NO_ORDERS)
    cohorts = _cohorts(ctx) if args.include_cohorts else None
    needs = {"top_cancel_reasons": (subscriptions, NO_SUBSCRIPTIONS), "plans": (subscriptions, NO_SUBSCRIPTIONS)}
    if args.include_cohorts:
        needs["cohorts"] = (subscriptions, NO_SUBSCRIPTIONS)
    return FinancialMetrics(
        as_of=ctx.as_of,
        currency=ctx.currency,
        time_range=args.time_range,
        **subs,
        cac=cac,
        marketing_spend=marketing,
        revenue=revenue,
        top_cancel_reasons=[ReasonCount(reason=r, count=n) for r, n in q.cancel_reasons(conn, w)[:5]],
        plans=[PlanBreakdown(plan=p, active=n, mrr=ctx.major(m)) for p, n, m in q.plan_breakdown(conn, ctx.as_of)],
        cohorts=cohorts,
        unavailable=gaps(ctx, needs),
    )


def _cohorts(ctx: ViewContext, months: int = 6) -> list[Cohort]:
    """Monthly start cohorts of the last ``months`` calendar months and how many are still active."""
    first = ctx.as_of.replace(day=1)
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    starts = q.cohort_counts(ctx.conn, q.Window(first - dt.timedelta(days=1), ctx.as_of), ctx.as_of)
    cohorts: dict[str, list[int]] = {}
    for started, n, still_active in starts:
        entry = cohorts.setdefault(started.strftime("%Y-%m"), [0, 0])
        entry[0] += n
        entry[1] += still_active
    return [Cohort(month=k, started=s, active=a, retention=round(a / s, 4)) for k, (s, a) in sorted(cohorts.items())]


FINANCIAL_METRICS: ViewSpec[FinancialMetricsArgs, FinancialMetrics] = ViewSpec(
    name="financial_metrics",
    args=FinancialMetricsArgs,
    result=FinancialMetrics,
    description="MRR, subscribers, churn, CAC, ARPU.",
    tool="get_financial_metrics",
    guidance="Use it for MRR, subscribers, churn, new subscribers, CAC and ARPU.",
    build=financial_metrics,
    examples=({"time_range": "30d", "include_cohorts": True}, {"time_range": "90d"}),
)
