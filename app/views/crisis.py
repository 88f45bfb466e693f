"""Crisis analysis and anomaly detection: what is going wrong now, and since when."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

from pydantic import Field

from app.formatting import signed_pct
from app.storage import queries as q
from app.storage.schema import subscriptions, support_tickets
from app.views.base import (
    AnomalyMetric,
    CategoryCount,
    CrisisType,
    MoneyResult,
    Severity,
    TimelineEvent,
    ViewArgs,
    ViewModel,
    ViewResult,
    categories_text,
    events_text,
    not_available,
)
from app.views.common import (
    NO_SUBSCRIPTIONS,
    NO_TICKETS,
    ViewContext,
    daily_series,
    gaps,
    missing_reason,
    timeline_events,
    with_shares,
)
from app.views.recommendations import crisis_actions
from app.views.registry import ViewSpec


class CrisisAnalysisArgs(ViewArgs):
    crisis_type: CrisisType = Field(
        default="auto", description="auto, churn, support, shipping, payment or acquisition."
    )
    include_historical: bool = Field(default=False, description="Add the same indicator for earlier periods.")


class Indicator(ViewModel):
    metric: str
    recent_per_day: float = Field(description="daily average over the recent window")
    baseline_per_day: float = Field(description="daily average over days 31-60 before as_of (the normal period)")
    ratio: float | None = Field(description="recent / baseline (baseline / recent for acquisition)")
    recent_days: int


class HistoricalPoint(ViewModel):
    period_end: dt.date
    per_day: float


class CrisisAnalysis(MoneyResult):
    """Is there a crisis, how bad, since when, who and how much revenue it touches."""

    view: ClassVar[str] = "crisis_analysis"
    crisis_type: CrisisType = Field(
        description="the type analysed ('auto' only when the data supports none)"
    )
    detected: bool | None
    severity: Severity | None
    summary: str
    indicator: Indicator | None
    started_on: dt.date | None = Field(description="first day of the current run above 1.5x baseline")
    affected_customers: int | None
    revenue_at_risk: float | None = Field(
        description="MRR touched, in the currency: lost to cancellations (churn), of affected active customers "
        "(support, shipping, payment), or missing new subscribers x ARPU (acquisition)"
    )
    top_categories: list[CategoryCount]
    related_events: list[TimelineEvent]
    historical: list[HistoricalPoint] | None = None
    recommended_actions: list[str]

    def to_text(self) -> str:
        ind = self.indicator
        if ind is None:
            lines = [f"Crisis analysis ({self.crisis_type}) as of {self.as_of}: {self.summary}"]
        else:
            ratio = "n/a" if ind.ratio is None else f"{ind.ratio:.1f}x"
            affected = self._or_missing("affected_customers", str(self.affected_customers))
            at_risk = self._or_missing("revenue_at_risk", f"{self.money(self.revenue_at_risk)} MRR")
            lines = [
                f"Crisis analysis ({self.crisis_type}) as of {self.as_of}: "
                f"{'DETECTED' if self.detected else 'no crisis detected'}, severity {self.severity}",
                f"{ind.metric}: {ind.recent_per_day:.1f}/day over the last {ind.recent_days} days vs "
                f"{ind.baseline_per_day:.1f}/day baseline ({ratio})",
                f"Started: {self.started_on or 'n/a'}; affected customers {affected}; revenue at risk {at_risk}",
            ]
        lines.append(f"Top ticket categories: {self._or_missing('top_categories', categories_text(self.top_categories))}")
        if self.related_events:
            lines.append("Related events:")
            lines += events_text(self.related_events)
        if self.historical:
            lines.append(
                "History (per day): " + ", ".join(f"{h.period_end} {h.per_day:.1f}" for h in self.historical)
            )
        if self.recommended_actions:
            lines.append("Recommended actions:")
            lines += [f"  - {a}" for a in self.recommended_actions]
        return "\n".join(lines)


class DetectAnomaliesArgs(ViewArgs):
    metrics: list[AnomalyMetric] | None = Field(default=None, description="Metrics to scan; all when omitted.")
    sensitivity: Literal["low", "medium", "high"] = Field(
        default="medium", description="high flags smaller deviations (z >= 2), low only large ones (z >= 4)."
    )


class Anomaly(ViewModel):
    metric: str
    recent_mean: float = Field(description="daily mean over the last 7 days")
    baseline_mean: float = Field(description="daily mean over the 53 days before")
    change_pct: float | None
    z_score: float
    direction: Literal["up", "down"]
    severity: Literal["low", "medium", "high"]


class AnomalyReport(ViewResult):
    """Metrics whose last 7 days deviate from their daily baseline.

    ``unavailable`` maps each requested metric the data cannot support to the reason (and
    ``anomalies`` when none can be scanned); only ``metrics_checked`` were scanned.
    """

    view: ClassVar[str] = "detect_anomalies"
    sensitivity: Literal["low", "medium", "high"]
    metrics_checked: list[str]
    anomalies: list[Anomaly]

    def to_text(self) -> str:
        head = f"Anomaly scan as of {self.as_of} (sensitivity {self.sensitivity}): "
        skipped = [f"{m} ({reason})" for m, reason in self.unavailable.items() if m != "anomalies"]
        if not self.metrics_checked:
            return head + not_available("; ".join(skipped))
        lines = [head + f"{len(self.anomalies)} found"]
        for a in self.anomalies:
            lines.append(
                f"  [{a.severity}] {a.metric} {a.direction}: {a.recent_mean:.1f}/day vs {a.baseline_mean:.1f}/day "
                f"({signed_pct(a.change_pct)}, z={a.z_score:.1f})"
            )
        lines.append("Checked: " + ", ".join(self.metrics_checked))
        if skipped:
            lines.append("Not checked, " + not_available(", ".join(skipped)))
        return "\n".join(lines)



# --------------------------------------------------------------------------- crisis + anomalies

CRISIS_METRICS: dict[str, tuple[str, int]] = {
    "churn": ("cancellations", 7),
    "support": ("tickets", 3),
    "shipping": ("shipping_tickets", 3),
    "payment": ("failed_payments", 7),
    "acquisition": ("new_subscribers", 7),
    "orders": ("orders", 7),
    "refunds": ("refunds", 7),
}
"""Crisis type -> (daily metric, recent window days). Acquisition and orders crises are drops, the rest spikes."""

DROP_TYPES = ("acquisition", "orders")
ORDER_TYPES = ("orders", "refunds")
"""Crisis types of any business with orders; ``auto`` weighs them only when there are no subscriptions
(a subscription business's orders follow its subscriptions, whose churn and acquisition types
describe the same movement at its source)."""

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
        num, den = (self.baseline, self.recent) if self.crisis_type in DROP_TYPES else (self.recent, self.baseline)
        return round(num / den, 2) if den else None


def _crisis_reading(ctx: ViewContext, crisis_type: str) -> _CrisisReading:
    metric, rd = CRISIS_METRICS[crisis_type]
    span = q.Window.ending(ctx.as_of, CRISIS_BASELINE_LAG + CRISIS_BASELINE_DAYS)
    series = daily_series(ctx, metric, span)
    recent_lo = ctx.as_of - dt.timedelta(days=rd)
    baseline_hi = ctx.as_of - dt.timedelta(days=CRISIS_BASELINE_LAG)
    recent = sum(v for d, v in series.items() if d > recent_lo) / rd
    baseline = sum(v for d, v in series.items() if d <= baseline_hi) / CRISIS_BASELINE_DAYS
    return _CrisisReading(crisis_type, metric, rd, series, round(recent, 2), round(baseline, 2))


def _onset(reading: _CrisisReading, as_of: dt.date) -> dt.date | None:
    """First day of the run of days ending at ``as_of`` beyond 1.5x baseline (below 1/1.5 for acquisition).

    A single ordinary day inside the run does not end it (daily counts are noisy).
    """
    drop = reading.crisis_type in DROP_TYPES
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
        candidates = [t for t in CRISIS_METRICS if t not in ORDER_TYPES or not ctx.has(subscriptions)]
        supported = [t for t in candidates if missing_reason(ctx, CRISIS_METRICS[t][0]) is None]
        # A type whose indicator had no event at all in the last 60 days has nothing to compare.
        readings = [r for r in (_crisis_reading(ctx, t) for t in supported) if r.series]
        if not readings:
            reasons = sorted({missing_reason(ctx, CRISIS_METRICS[t][0]) or "" for t in candidates} - {""})
            quiet = [CRISIS_METRICS[t][0].replace("_", " ") for t in supported]
            if quiet:
                reasons.append(f"no {', '.join(quiet)} in the last {CRISIS_BASELINE_LAG + CRISIS_BASELINE_DAYS} days")
            return _crisis_unavailable(ctx, args, "; ".join(reasons))
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
    if reading.crisis_type == "orders":
        at_risk_mrr = 0  # orders carry no MRR: the field is unavailable below
    elif reading.crisis_type == "acquisition":
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
    if reading.crisis_type == "orders":
        unavailable.setdefault("revenue_at_risk", "a drop in orders puts no subscription revenue (MRR) at risk")
    return CrisisAnalysis(
        as_of=as_of,
        currency=ctx.currency,
        crisis_type=reading.crisis_type,
        detected=detected,
        severity=severity,
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
        revenue_at_risk=None if "revenue_at_risk" in unavailable else ctx.major(at_risk_mrr),
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
        currency=ctx.currency,
        crisis_type=kind,
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
    if crisis_type in DROP_TYPES:
        return set()
    return q.affected_customer_ids(ctx.conn, crisis_type, w)


def _history(ctx: ViewContext, reading: _CrisisReading, periods: int = 6) -> list[HistoricalPoint]:
    rd = reading.recent_days
    span = q.Window.ending(ctx.as_of, rd * periods)
    series = daily_series(ctx, reading.metric, span)
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
    unavailable: dict[str, str] = {m: reason for m in requested if (reason := missing_reason(ctx, m))}
    metrics = [m for m in requested if m not in unavailable]
    if not metrics:  # nothing to scan: "no anomalies" would be a claim the data cannot back
        unavailable["anomalies"] = "; ".join(dict.fromkeys(unavailable.values()))
    threshold = ANOMALY_Z[args.sensitivity]
    span = q.Window.ending(ctx.as_of, ANOMALY_SPAN_DAYS)
    days = [ctx.as_of - dt.timedelta(days=i) for i in range(ANOMALY_SPAN_DAYS - 1, -1, -1)]
    found = []
    for metric in metrics:
        series = daily_series(ctx, metric, span)
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
                    severity=level,
                )
            )
    found.sort(key=lambda a: (-abs(a.z_score), a.metric))
    return AnomalyReport(
        as_of=ctx.as_of, sensitivity=args.sensitivity, metrics_checked=metrics, anomalies=found, unavailable=unavailable
    )


_ANOMALY_METRICS: tuple[AnomalyMetric, ...] = get_args(AnomalyMetric)


CRISIS_ANALYSIS: ViewSpec[CrisisAnalysisArgs, CrisisAnalysis] = ViewSpec(
    name="crisis_analysis",
    args=CrisisAnalysisArgs,
    result=CrisisAnalysis,
    description="Crisis detection, severity and impact.",
    tool="get_crisis_analysis",
    guidance="Use it when something is going wrong now: severity, onset, affected customers.",
    build=crisis_analysis,
    examples=({"crisis_type": "auto", "include_historical": True}, {"crisis_type": "acquisition"}),
)


DETECT_ANOMALIES: ViewSpec[DetectAnomaliesArgs, AnomalyReport] = ViewSpec(
    name="detect_anomalies",
    args=DetectAnomaliesArgs,
    result=AnomalyReport,
    description="Metrics deviating from their baseline.",
    tool="detect_anomalies",
    guidance="Use it to find metrics that recently moved away from their normal range.",
    build=detect_anomalies,
    examples=({"sensitivity": "high"}, {"metrics": ["tickets"], "sensitivity": "low"}),
)
