"""Business-metric views computed from the primitive queries (ratios in Python, see queries.py)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from app.data_views import (
    WINDOW_DAYS,
    Anomaly,
    AnomalyReport,
    CategoryCount,
    Cohort,
    CrisisAnalysis,
    CrisisAnalysisArgs,
    DailyBriefing,
    DetectAnomaliesArgs,
    FinancialMetrics,
    FinancialMetricsArgs,
    HistoricalPoint,
    Indicator,
    NoArgs,
    PlanBreakdown,
    ReasonCount,
    TicketMetrics,
    TicketMetricsArgs,
    TicketSnapshot,
    TimelineEvent,
    Trend,
)
from app.providers.alerts import briefing_alerts
from app.providers.recommendations import crisis_actions
from app.storage import queries as q
from app.storage.customer_frame import CustomerFacts
from app.storage.schema import marketing_daily, orders, subscriptions, support_tickets

__all__ = [
    "ViewContext",
    "gaps",
    "daily_briefing",
    "ticket_metrics",
    "financial_metrics",
    "crisis_analysis",
    "detect_anomalies",
    "timeline_events",
]


@dataclass
class ViewContext:
    """What a view builder needs: a connection, the date, the merchant and lazily built shared facts."""

    conn: Connection
    as_of: dt.date
    merchant: str
    frame_factory: Callable[[dt.date], CustomerFacts]
    _has: dict[str, bool] = field(default_factory=dict)

    def frame(self) -> CustomerFacts:
        return self.frame_factory(self.as_of)

    def has(self, table) -> bool:
        """Whether ``table`` holds any row (a merchant may have no tickets or subscriptions at all)."""
        if table.name not in self._has:
            self._has[table.name] = q.has_rows(self.conn, table)
        return self._has[table.name]


NO_SUBSCRIPTIONS = "no subscription data"
NO_TICKETS = "no support ticket data"
NO_MARKETING = "no marketing spend data in the window"
NO_ORDERS = "no order data"
NO_MARKETING_TABLE = "no marketing data"

_METRIC_SOURCES = {
    "new_subscribers": (subscriptions, NO_SUBSCRIPTIONS),
    "cancellations": (subscriptions, NO_SUBSCRIPTIONS),
    "tickets": (support_tickets, NO_TICKETS),
    "shipping_tickets": (support_tickets, NO_TICKETS),
    "failed_payments": (orders, NO_ORDERS),
    "marketing_spend": (marketing_daily, NO_MARKETING_TABLE),
    "visitors": (marketing_daily, NO_MARKETING_TABLE),
}
"""Daily metric -> (table it is counted from, why it is unavailable when that table is empty)."""


def missing_reason(ctx: ViewContext, metric: str) -> str | None:
    """Why a daily metric cannot be computed from this database, or None if it can."""
    table, reason = _METRIC_SOURCES[metric]
    return None if ctx.has(table) else reason


def gaps(ctx: ViewContext, needs: dict[str, tuple[Table, str]]) -> dict[str, str]:
    """``field -> reason`` for the fields whose source table is empty (a view's ``unavailable``).

    ``needs`` maps a field to (the table it is computed from, why it is unavailable without it):
    an empty table means the merchant does not record that data, so its counts are unknown, not zero.
    """
    return {name: reason for name, (table, reason) in needs.items() if not ctx.has(table)}


def dollars(cents: int | float) -> float:
    """Cents to dollars, exact to the cent."""
    return round(cents / 100, 2)


def ratio(num: float, den: float, digits: int = 4) -> float | None:
    return round(num / den, digits) if den else None


def avg_hours(stats: tuple[int, int]) -> float | None:
    """Mean duration in hours (two decimals) from (count, total microseconds)."""
    n, total_us = stats
    if not n:
        return None
    return round(total_us / 1_000_000 / n / 3600, 2)


def with_shares(counts: list[tuple[str, int]], top: int | None = None) -> list[CategoryCount]:
    total = sum(c for _, c in counts)
    items = [CategoryCount(category=k, count=c, share=round(c / total, 4)) for k, c in counts]
    return items[:top] if top else items


def timeline_events(ctx: ViewContext, lo: dt.date, hi: dt.date) -> list[TimelineEvent]:
    return [
        TimelineEvent(
            event_id=e["event_id"],
            day=q.as_date(e["day"]),
            days_from_as_of=(q.as_date(e["day"]) - ctx.as_of).days,
            kind=e["kind"],
            title=e["title"],
            impact=e["impact"],
        )
        for e in q.events_between(ctx.conn, lo, hi, ctx.as_of)
    ]


# --------------------------------------------------------------------------- subscription economics


@dataclass(frozen=True)
class _Economics:
    """Subscription facts of one window (computed once, shared by briefing and financial views)."""

    active: int
    mrr_cents: int
    active_at_start: int
    new: int
    cancelled: int


def _economics(conn: Connection, w: q.Window) -> _Economics:
    active, mrr = q.active_count_and_mrr(conn, w.hi)
    start_active, _ = q.active_count_and_mrr(conn, w.lo)
    return _Economics(active, mrr, start_active, q.started_count(conn, w), q.cancelled_count(conn, w))


def _subscription_trends(ctx: ViewContext, days: int) -> dict[str, Trend]:
    if not ctx.has(subscriptions):
        return {k: Trend.missing(NO_SUBSCRIPTIONS) for k in _SUB_KEYS}
    w = q.Window.ending(ctx.as_of, days)
    now, before = _economics(ctx.conn, w), _economics(ctx.conn, w.previous())
    return {
        "mrr": Trend.of(dollars(now.mrr_cents), dollars(before.mrr_cents)),
        "active_subscribers": Trend.of(now.active, before.active),
        "churn_rate": Trend.of(ratio(now.cancelled, now.active_at_start), ratio(before.cancelled, before.active_at_start)),
        "new_subscribers": Trend.of(now.new, before.new),
        "cancellations": Trend.of(now.cancelled, before.cancelled),
        "net_growth": Trend.of(now.new - now.cancelled, before.new - before.cancelled),
        "arpu": Trend.of(_arpu(now), _arpu(before)),
    }


_SUB_KEYS = ("mrr", "active_subscribers", "churn_rate", "new_subscribers", "cancellations", "net_growth", "arpu")


def _arpu(e: _Economics) -> float | None:
    return round(e.mrr_cents / e.active / 100, 2) if e.active else None


def _csat(ctx: ViewContext, w: q.Window, category: str | None = None) -> tuple[float | None, int]:
    total, n = q.csat_sum_count(ctx.conn, w, category)
    return (round(total / n, 2) if n else None), n


def _csat_trend(ctx: ViewContext, w: q.Window, category: str | None = None) -> tuple[Trend, int]:
    if not ctx.has(support_tickets):
        return Trend.missing(NO_TICKETS), 0
    now, n = _csat(ctx, w, category)
    before, _ = _csat(ctx, w.previous(), category)
    return Trend.of(now, before, None if now is not None else "no rated tickets resolved in the window"), n


# --------------------------------------------------------------------------- views


def daily_briefing(ctx: ViewContext, args: NoArgs) -> DailyBriefing:
    """Headline 30-day trends, today's support load and alerts."""
    subs = _subscription_trends(ctx, 30)
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
        csat=csat,
        tickets_3d_per_day=last3 / 3,
        tickets_baseline_per_day=baseline30 / 30,
        first_response_hours=frt_7d,
        urgent_open=urgent,
    )
    return DailyBriefing(
        as_of=as_of,
        merchant=ctx.merchant,
        mrr=subs["mrr"],
        active_subscribers=subs["active_subscribers"],
        churn_rate=subs["churn_rate"],
        new_subscribers=subs["new_subscribers"],
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


def ticket_metrics(ctx: ViewContext, args: TicketMetricsArgs) -> TicketMetrics:
    """Ticket volume, speed and CSAT over a window vs the previous window."""
    conn, cat = ctx.conn, (args.category.value if args.category else None)
    w = q.Window.ending(ctx.as_of, WINDOW_DAYS[args.time_range])
    if not ctx.has(support_tickets):
        missing = Trend.missing(NO_TICKETS)
        fields = ("open", "urgent", "ratings", "by_category", "by_priority", "sentiment")
        return TicketMetrics(
            as_of=ctx.as_of,
            time_range=args.time_range,
            category=args.category,
            created=missing,
            open=None,
            urgent=None,
            avg_first_response_hours=missing,
            avg_resolution_hours=missing,
            csat=missing,
            ratings=None,
            by_category=[],
            by_priority=[],
            sentiment=[],
            unavailable=dict.fromkeys(fields, NO_TICKETS),
        )
    p = w.previous()
    open_n, urgent = q.open_tickets(conn, ctx.as_of, cat)
    csat, ratings = _csat_trend(ctx, w, cat)
    return TicketMetrics(
        as_of=ctx.as_of,
        time_range=args.time_range,
        category=args.category,
        created=Trend.of(q.tickets_created(conn, w, cat), q.tickets_created(conn, p, cat)),
        open=open_n,
        urgent=urgent,
        avg_first_response_hours=_duration_trend(conn, w, "first_response_at", cat, "no first responses in the window"),
        avg_resolution_hours=_duration_trend(conn, w, "resolved_at", cat, "no tickets resolved in the window"),
        csat=csat,
        ratings=ratings,
        by_category=with_shares(q.ticket_counts_by(conn, w, "category", cat)),
        by_priority=with_shares(q.ticket_counts_by(conn, w, "priority", cat)),
        sentiment=with_shares(q.ticket_counts_by(conn, w, "sentiment", cat)),
    )


def _duration_trend(conn: Connection, w: q.Window, event: str, cat: str | None, empty: str) -> Trend:
    now = avg_hours(q.response_stats(conn, w, event, cat))
    before = avg_hours(q.response_stats(conn, w.previous(), event, cat))
    return Trend.of(now, before, None if now is not None else empty)


def financial_metrics(ctx: ViewContext, args: FinancialMetricsArgs) -> FinancialMetrics:
    """Subscriber economics over a window vs the previous window."""
    conn, days = ctx.conn, WINDOW_DAYS[args.time_range]
    w = q.Window.ending(ctx.as_of, days)
    subs = _subscription_trends(ctx, days)
    spend, _, spend_days = q.marketing(conn, w)
    prev_spend, _, prev_days = q.marketing(conn, w.previous())
    if spend_days:
        marketing = Trend.of(dollars(spend), dollars(prev_spend) if prev_days else None)
        new_now, new_before = subs["new_subscribers"].current, subs["new_subscribers"].previous
        cac_now = round(spend / new_now / 100, 2) if new_now else None
        cac_before = round(prev_spend / new_before / 100, 2) if new_before and prev_days else None
        cac = Trend.of(cac_now, cac_before, None if cac_now is not None else "no new subscribers in the window")
    else:
        marketing = cac = Trend.missing(NO_MARKETING)
    if not ctx.has(subscriptions):
        cac = Trend.missing(NO_SUBSCRIPTIONS)  # CAC divides by new subscribers
    revenue = Trend.of(dollars(q.paid_revenue(conn, w)), dollars(q.paid_revenue(conn, w.previous())))
    if not ctx.has(orders):
        revenue = Trend.missing(NO_ORDERS)
    cohorts = _cohorts(ctx) if args.include_cohorts else None
    needs = {"top_cancel_reasons": (subscriptions, NO_SUBSCRIPTIONS), "plans": (subscriptions, NO_SUBSCRIPTIONS)}
    if args.include_cohorts:
        needs["cohorts"] = (subscriptions, NO_SUBSCRIPTIONS)
    return FinancialMetrics(
        as_of=ctx.as_of,
        time_range=args.time_range,
        **subs,
        cac=cac,
        marketing_spend=marketing,
        revenue=revenue,
        top_cancel_reasons=[ReasonCount(reason=r, count=n) for r, n in q.cancel_reasons(conn, w)[:5]],
        plans=[PlanBreakdown(plan=p, active=n, mrr=dollars(m)) for p, n, m in q.plan_breakdown(conn, ctx.as_of)],
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


# --------------------------------------------------------------------------- crisis + anomalies

CRISIS_METRICS: dict[str, tuple[str, int]] = {
    "churn": ("cancellations", 7),
    "support": ("tickets", 3),
    "shipping": ("shipping_tickets", 3),
    "payment": ("failed_payments", 7),
    "acquisition": ("new_subscribers", 7),
}
"""Crisis type -> (daily metric, recent window days). Acquisition crises are drops, the rest spikes."""

CRISIS_BASELINE_DAYS = 30
CRISIS_BASELINE_LAG = 30
"""The baseline is the normal period of days 31-60 before as_of, so a crisis that has run for
weeks is still compared with how things were before it, not with itself."""
ONSET_RATIO = 1.5


def _severity(r: float | None) -> str:
    if r is None:
        return "none"
    for threshold, name in ((3.0, "critical"), (2.0, "high"), (1.5, "medium"), (1.2, "low")):
        if r >= threshold:
            return name
    return "none"


@dataclass
class _CrisisReading:
    crisis_type: str
    metric: str
    recent_days: int
    series: dict[dt.date, float]
    recent: float
    baseline: float

    @property
    def ratio(self) -> float | None:
        num, den = (self.baseline, self.recent) if self.crisis_type == "acquisition" else (self.recent, self.baseline)
        return round(num / den, 2) if den else None


def _crisis_reading(ctx: ViewContext, crisis_type: str) -> _CrisisReading:
    metric, rd = CRISIS_METRICS[crisis_type]
    span = q.Window.ending(ctx.as_of, CRISIS_BASELINE_LAG + CRISIS_BASELINE_DAYS)
    series = q.daily_counts(ctx.conn, metric, span)
    recent_lo = ctx.as_of - dt.timedelta(days=rd)
    baseline_hi = ctx.as_of - dt.timedelta(days=CRISIS_BASELINE_LAG)
    recent = sum(v for d, v in series.items() if d > recent_lo) / rd
    baseline = sum(v for d, v in series.items() if d <= baseline_hi) / CRISIS_BASELINE_DAYS
    return _CrisisReading(crisis_type, metric, rd, series, round(recent, 2), round(baseline, 2))


def _onset(reading: _CrisisReading, as_of: dt.date) -> dt.date | None:
    """First day of the run of days ending at ``as_of`` beyond 1.5x baseline (below 1/1.5 for acquisition).

    A single ordinary day inside the run does not end it (daily counts are noisy).
    """
    drop = reading.crisis_type == "acquisition"
    if reading.baseline == 0:
        return None

    def beyond(day: dt.date) -> bool:
        v = reading.series.get(day, 0.0)
        return v <= reading.baseline / ONSET_RATIO if drop else v >= reading.baseline * ONSET_RATIO

    start = None
    one_day = dt.timedelta(days=1)
    day = as_of
    for _ in range(CRISIS_BASELINE_LAG):
        if beyond(day):
            start = day
        elif not beyond(day - one_day):
            break
        day -= one_day
    return start


def crisis_analysis(ctx: ViewContext, args: CrisisAnalysisArgs) -> CrisisAnalysis:
    """Compare the recent daily rate of the crisis metric with its baseline (days 31-60 before as_of)."""
    if args.crisis_type == "auto":
        supported = [t for t in CRISIS_METRICS if missing_reason(ctx, CRISIS_METRICS[t][0]) is None]
        if not supported:
            reasons = sorted({missing_reason(ctx, CRISIS_METRICS[t][0]) or "" for t in CRISIS_METRICS})
            return _crisis_unavailable(ctx, args, "; ".join(reasons))
        readings = [_crisis_reading(ctx, t) for t in supported]
        reading = max(readings, key=lambda r: r.ratio or 0.0)
    else:
        reason = missing_reason(ctx, CRISIS_METRICS[args.crisis_type][0])
        if reason:
            return _crisis_unavailable(ctx, args, reason)
        reading = _crisis_reading(ctx, args.crisis_type)
    severity = _severity(reading.ratio)
    detected = severity in ("medium", "high", "critical")
    conn, as_of = ctx.conn, ctx.as_of
    recent_w = q.Window.ending(as_of, reading.recent_days)
    affected_ids = _affected_customers(ctx, reading.crisis_type, recent_w)
    if reading.crisis_type == "acquisition":
        missing = max(0.0, (reading.baseline - reading.recent) * reading.recent_days)
        active, mrr = q.active_count_and_mrr(conn, as_of)
        at_risk_mrr = round(missing * (mrr / active)) if active else 0
    elif reading.crisis_type == "churn":
        at_risk_mrr = q.cancelled_mrr_cents(conn, recent_w)
    else:
        at_risk_mrr = ctx.frame().mrr_cents_of(affected_ids)
    historical = None
    if args.include_historical:
        historical = _history(ctx, reading)
    ratio_text = "n/a" if reading.ratio is None else f"{reading.ratio:.1f}x"
    verdict = "looks like a crisis" if detected else "is within its normal range"
    summary = f"{reading.crisis_type.capitalize()} {verdict}: {reading.metric.replace('_', ' ')} {ratio_text} baseline"
    # MRR figures need subscriptions; the categories need tickets.
    unavailable = gaps(
        ctx, {"revenue_at_risk": (subscriptions, NO_SUBSCRIPTIONS), "top_categories": (support_tickets, NO_TICKETS)}
    )
    return CrisisAnalysis(
        as_of=as_of,
        crisis_type=reading.crisis_type,  # type: ignore[arg-type]
        detected=detected,
        severity=severity,  # type: ignore[arg-type]
        summary=summary,
        indicator=Indicator(
            metric=reading.metric,
            recent_per_day=reading.recent,
            baseline_per_day=reading.baseline,
            ratio=reading.ratio,
            recent_days=reading.recent_days,
        ),
        started_on=_onset(reading, as_of) if detected else None,
        affected_customers=len(affected_ids),
        revenue_at_risk=None if "revenue_at_risk" in unavailable else dollars(at_risk_mrr),
        top_categories=with_shares(q.ticket_counts_by(conn, recent_w, "category"), top=3),
        related_events=_negative_events(ctx),
        historical=historical,
        recommended_actions=crisis_actions(reading.crisis_type, severity),
        unavailable=unavailable,
    )


def _negative_events(ctx: ViewContext) -> list[TimelineEvent]:
    return [e for e in timeline_events(ctx, ctx.as_of - dt.timedelta(days=30), ctx.as_of) if e.impact == "negative"]


def _crisis_unavailable(ctx: ViewContext, args: CrisisAnalysisArgs, reason: str) -> CrisisAnalysis:
    """The crisis view when the data cannot support the crisis type: every reading is unavailable."""
    kind = args.crisis_type
    recent_days = CRISIS_METRICS[kind][1] if kind in CRISIS_METRICS else 7
    fields = ["detected", "severity", "indicator", "affected_customers", "revenue_at_risk", "recommended_actions"]
    if args.include_historical:
        fields.append("historical")
    unavailable = dict.fromkeys(fields, reason) | gaps(ctx, {"top_categories": (support_tickets, NO_TICKETS)})
    what = "Crisis analysis" if kind == "auto" else f"{kind.capitalize()} crisis analysis"
    return CrisisAnalysis(
        as_of=ctx.as_of,
        crisis_type=kind,  # type: ignore[arg-type]
        detected=None,
        severity=None,
        summary=f"{what} not available: {reason}",
        indicator=None,
        started_on=None,
        affected_customers=None,
        revenue_at_risk=None,
        top_categories=with_shares(q.ticket_counts_by(ctx.conn, q.Window.ending(ctx.as_of, recent_days), "category"), top=3),
        related_events=_negative_events(ctx),
        historical=[] if args.include_historical else None,
        recommended_actions=[],
        unavailable=unavailable,
    )


def _affected_customers(ctx: ViewContext, crisis_type: str, w: q.Window) -> set[str]:
    if crisis_type == "acquisition":
        return set()
    return q.affected_customer_ids(ctx.conn, crisis_type, w)


def _history(ctx: ViewContext, reading: _CrisisReading, periods: int = 6) -> list[HistoricalPoint]:
    rd = reading.recent_days
    span = q.Window.ending(ctx.as_of, rd * periods)
    series = q.daily_counts(ctx.conn, reading.metric, span)
    points = []
    for k in range(periods - 1, -1, -1):
        hi = ctx.as_of - dt.timedelta(days=rd * k)
        lo = hi - dt.timedelta(days=rd)
        points.append(HistoricalPoint(period_end=hi, per_day=round(sum(v for d, v in series.items() if lo < d <= hi) / rd, 2)))
    return points


ANOMALY_RECENT_DAYS = 7
ANOMALY_SPAN_DAYS = 60
ANOMALY_Z: dict[str, float] = {"high": 1.0, "medium": 1.5, "low": 2.5}
"""Sensitivity -> |z| needed, where z = (recent daily mean - baseline mean) / baseline daily sd."""
ANOMALY_MIN_CHANGE_PCT = 10.0


def detect_anomalies(ctx: ViewContext, args: DetectAnomaliesArgs) -> AnomalyReport:
    """Flag metrics whose last-7-day daily mean is far from the previous 53 days."""
    requested = list(dict.fromkeys(args.metrics)) if args.metrics else list(_ANOMALY_METRICS)
    unavailable = {m: reason for m in requested if (reason := missing_reason(ctx, m))}
    metrics = [m for m in requested if m not in unavailable]
    if not metrics:  # nothing to scan: "no anomalies" would be a claim the data cannot back
        unavailable["anomalies"] = "; ".join(dict.fromkeys(unavailable.values()))
    threshold = ANOMALY_Z[args.sensitivity]
    span = q.Window.ending(ctx.as_of, ANOMALY_SPAN_DAYS)
    days = [ctx.as_of - dt.timedelta(days=i) for i in range(ANOMALY_SPAN_DAYS - 1, -1, -1)]
    found = []
    for metric in metrics:
        series = q.daily_counts(ctx.conn, metric, span)
        values = [series.get(d, 0.0) for d in days]
        base, recent = values[:-ANOMALY_RECENT_DAYS], values[-ANOMALY_RECENT_DAYS:]
        mb, mr = sum(base) / len(base), sum(recent) / len(recent)
        sd = math.sqrt(sum((v - mb) ** 2 for v in base) / len(base))
        sd = max(sd, 0.1 * mb, 0.5)
        z = (mr - mb) / sd
        change = round((mr - mb) / mb * 100, 1) if mb else None
        big_enough = change is None or abs(change) >= ANOMALY_MIN_CHANGE_PCT
        if abs(z) >= threshold and big_enough and mr != mb:
            level = "high" if abs(z) >= 2 * threshold else ("medium" if abs(z) >= 1.5 * threshold else "low")
            found.append(
                Anomaly(
                    metric=metric,
                    recent_mean=round(mr, 2),
                    baseline_mean=round(mb, 2),
                    change_pct=change,
                    z_score=round(z, 2),
                    direction="up" if z > 0 else "down",
                    severity=level,  # type: ignore[arg-type]
                )
            )
    found.sort(key=lambda a: (-abs(a.z_score), a.metric))
    return AnomalyReport(
        as_of=ctx.as_of, sensitivity=args.sensitivity, metrics_checked=metrics, anomalies=found, unavailable=unavailable
    )


_ANOMALY_METRICS = (
    "new_subscribers",
    "cancellations",
    "tickets",
    "shipping_tickets",
    "failed_payments",
    "marketing_spend",
    "visitors",
)
