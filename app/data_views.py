"""Data views: what CJ's tools can know about a merchant's business.

A *view* is a named, typed question ("daily briefing", "ticket metrics for 7 days") with a
pydantic argument model, a pydantic result model and a compact text rendering (what an LLM
reads). A :class:`DataProvider` answers every view; the DataAgent (synthetic worlds) and the
ProductionDataProvider (a real database) are two providers behind this one interface, so the
agent, its tools and the evaluation never know which one they talk to.

Every headline metric is a :class:`Trend` (``current``, ``previous``, ``change_pct``,
``direction``). Money is in dollars (exact cents), rates are fractions (0.0523 = 5.23%).

Missing data is never reported as zero. A merchant without subscriptions or tickets still gets
every view: a :class:`Trend` the data cannot support has ``current`` null and an
``unavailable`` reason; any other field the data cannot support is null (or an empty list) and
named in the view's ``unavailable`` mapping (field -> reason), which the JSON omits when empty.
The text rendering says ``not available: <reason>`` in its place.

Example:
    >>> from app.providers.data_agent import DataAgent
    >>> agent = DataAgent.create("growth_stall", "marcus_thompson", seed=1)
    >>> briefing = agent.daily_briefing()
    >>> briefing.mrr.direction in {"up", "down", "flat"}
    True
    >>> print(agent.get_view("ticket_metrics", time_range="7d").to_text())  # doctest: +SKIP
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, ValidationError, model_serializer

from app.errors import InvalidArgumentError, UnknownNameError
from app.formatting import count, hours, money, rate_pct, signed_pct
from app.models import TicketCategory

__all__ = [
    "not_available",
    "TimeRange",
    "WINDOW_DAYS",
    "Segment",
    "Trend",
    "ViewArgs",
    "ViewResult",
    "CategoryCount",
    "Alert",
    "TicketSnapshot",
    "TimelineEvent",
    "DailyBriefing",
    "TicketMetrics",
    "FinancialMetrics",
    "CustomerSummary",
    "CustomerSegment",
    "CrisisAnalysis",
    "Anomaly",
    "AnomalyReport",
    "CustomerList",
    "CustomerProfile",
    "TicketSummary",
    "TicketSearch",
    "BusinessTimeline",
    "ViewSpec",
    "VIEWS",
    "view_spec",
    "DataProvider",
]

TimeRange = Literal["24h", "3d", "7d", "30d", "60d", "90d"]
WINDOW_DAYS: dict[str, int] = {"24h": 1, "3d": 3, "7d": 7, "30d": 30, "60d": 60, "90d": 90}
"""Days in each time range; a window is the half-open interval ``(as_of - days, as_of]``."""

Segment = Literal["high_value", "at_risk", "new", "churned"]
CustomerFilter = Literal["all", "active", "high_value", "at_risk", "new", "churned"]
CrisisType = Literal["auto", "churn", "support", "shipping", "payment", "acquisition"]
AnomalyMetric = Literal[
    "new_subscribers", "cancellations", "tickets", "shipping_tickets", "failed_payments", "marketing_spend", "visitors"
]
Direction = Literal["up", "down", "flat"]
Severity = Literal["none", "low", "medium", "high", "critical"]

FLAT_BAND_PCT = 1.0
"""Changes within +/-1% count as flat."""


def not_available(reason: str) -> str:
    """How view text shows a value the data cannot support: ``not available: <reason>``."""
    return f"not available: {reason}"


# --------------------------------------------------------------------------- building blocks


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trend(_Model):
    """A metric now and over the previous same-length window.

    ``change_pct`` is in percent units, rounded to one decimal, and null when the previous value
    is zero or unknown. ``unavailable`` gives the reason when the data cannot support the metric
    (then ``current`` is null: an unknown is never reported as zero).
    """

    current: float | None
    previous: float | None
    change_pct: float | None
    direction: Direction
    unavailable: str | None = None

    @classmethod
    def of(cls, current: float | None, previous: float | None, unavailable: str | None = None) -> Trend:
        """Build a trend; direction is flat within the +/-1% band."""
        if current is None or previous is None:
            return cls(current=current, previous=previous, change_pct=None, direction="flat", unavailable=unavailable)
        if previous == 0:
            change = None
            direction: Direction = "up" if current > 0 else ("down" if current < 0 else "flat")
        else:
            change = round((current - previous) / abs(previous) * 100, 1)
            direction = "flat" if abs(change) <= FLAT_BAND_PCT else ("up" if change > 0 else "down")
        return cls(current=current, previous=previous, change_pct=change, direction=direction, unavailable=unavailable)

    @classmethod
    def missing(cls, reason: str) -> Trend:
        """A metric the data cannot support, with the reason."""
        return cls(current=None, previous=None, change_pct=None, direction="flat", unavailable=reason)

    def describe(self, fmt: Callable[[float | None], str], since: str = "prior period") -> str:
        """``$52,340 (down 1.2% vs prior period, was $52,980)``."""
        if self.unavailable:
            return not_available(self.unavailable)
        if self.current is None:
            return "n/a"
        if self.change_pct is None:
            return f"{fmt(self.current)} (was {fmt(self.previous)})"
        return f"{fmt(self.current)} ({self.direction} {abs(self.change_pct):.1f}% vs {since}, was {fmt(self.previous)})"


class ViewArgs(_Model):
    """Base of view argument models (strict: unknown arguments are errors)."""


class ViewResult(_Model):
    """Base of view results: JSON via ``model_dump(mode='json')``, text via :meth:`to_text`.

    ``unavailable`` names the fields the data cannot support (null or empty in this result) with
    the reason; Trends and the briefing's ticket snapshot carry their own ``unavailable``. The
    mapping is left out of the JSON when empty, so views of complete data keep their shape.
    """

    view: ClassVar[str]
    as_of: dt.date
    unavailable: dict[str, str] = Field(
        default_factory=dict, description="field -> why the data cannot support it (the field is null or empty)"
    )

    @model_serializer(mode="wrap")
    def _omit_empty_unavailable(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if not data.get("unavailable"):
            data.pop("unavailable", None)
        return data

    def missing(self, field: str) -> str | None:
        """Why ``field`` is not available (from the mapping or the field's own reason), or None."""
        if field in self.unavailable:
            return self.unavailable[field]
        return getattr(getattr(self, field, None), "unavailable", None)

    def _or_missing(self, field: str, text: str) -> str:
        reason = self.unavailable.get(field)
        return not_available(reason) if reason else text

    def to_text(self) -> str:
        """Compact text for an LLM; concrete views override this generic ``key: value`` rendering."""
        return "\n".join(f"{key}: {value}" for key, value in self.to_json().items())

    def to_json(self) -> dict[str, Any]:
        """JSON-compatible dict of the view (dates as ISO strings)."""
        return self.model_dump(mode="json")


class CategoryCount(_Model):
    category: str
    count: int
    share: float = Field(description="count / total, 4 decimals")


class Alert(_Model):
    severity: Literal["info", "warning", "critical"]
    metric: str
    message: str


class TicketSnapshot(_Model):
    created_24h: int | None
    open: int | None
    urgent: int | None = Field(description="open tickets with priority urgent")
    avg_first_response_hours: float | None = Field(description="over first responses in the last 7 days")
    unavailable: str | None = Field(default=None, description="why there are no ticket numbers (then all are null)")


class TimelineEvent(_Model):
    event_id: str
    day: dt.date
    days_from_as_of: int
    kind: str
    title: str
    impact: str


def _events_text(events: list[TimelineEvent]) -> list[str]:
    return [f"  {e.day} ({e.days_from_as_of:+d}d) [{e.kind}, {e.impact}] {e.title}" for e in events]


def _categories_text(items: list[CategoryCount]) -> str:
    return ", ".join(f"{c.category} {c.count} ({rate_pct(c.share, 0)})" for c in items) or "none"


# --------------------------------------------------------------------------- views


class NoArgs(ViewArgs):
    """The view takes no arguments."""


class DailyBriefing(ViewResult):
    """Morning summary: headline trends (30-day windows), support load, top issues, alerts."""

    view: ClassVar[str] = "daily_briefing"
    merchant: str
    mrr: Trend
    active_subscribers: Trend
    churn_rate: Trend
    new_subscribers: Trend
    csat: Trend
    tickets: TicketSnapshot
    top_ticket_categories: list[CategoryCount] = Field(description="tickets created in the last 7 days")
    alerts: list[Alert]
    recent_events: list[TimelineEvent] = Field(description="timeline events of the last 7 days")

    def to_text(self) -> str:
        t = self.tickets
        lines = [
            f"Daily briefing for {self.merchant}, as of {self.as_of} (changes vs the previous 30 days)",
            f"MRR: {self.mrr.describe(money)}",
            f"Active subscribers: {self.active_subscribers.describe(count)}",
            f"Churn rate (30d): {self.churn_rate.describe(rate_pct)}",
            f"New subscribers (30d): {self.new_subscribers.describe(count)}",
            f"CSAT (30d): {self.csat.describe(lambda v: 'n/a' if v is None else f'{v:.2f}')}",
            f"Tickets: {not_available(t.unavailable)}"
            if t.unavailable
            else f"Tickets: {t.created_24h} created in the last 24h, {t.open} open, {t.urgent} urgent open, "
            f"first response {hours(t.avg_first_response_hours)} (7d avg)",
            "Top ticket categories (7d): "
            + self._or_missing("top_ticket_categories", _categories_text(self.top_ticket_categories)),
        ]
        if self.alerts:
            lines.append("Alerts:")
            lines += [f"  [{a.severity}] {a.message}" for a in self.alerts]
        else:
            lines.append("Alerts: none")
        if self.recent_events:
            lines.append("Recent events:")
            lines += _events_text(self.recent_events)
        return "\n".join(lines)


class TicketMetricsArgs(ViewArgs):
    time_range: TimeRange = Field(default="7d", description="Window: 24h, 3d, 7d, 30d, 60d or 90d.")
    category: TicketCategory | None = Field(default=None, description="Only this ticket category.")


class TicketMetrics(ViewResult):
    """Support volume, speed and satisfaction over a window, vs the previous window."""

    view: ClassVar[str] = "ticket_metrics"
    time_range: TimeRange
    category: TicketCategory | None
    created: Trend
    open: int | None
    urgent: int | None
    avg_first_response_hours: Trend
    avg_resolution_hours: Trend
    csat: Trend
    ratings: int | None = Field(description="number of CSAT ratings behind csat.current")
    by_category: list[CategoryCount]
    by_priority: list[CategoryCount]
    sentiment: list[CategoryCount]

    def to_text(self) -> str:
        scope = f" ({self.category})" if self.category else ""
        since = "previous " + self.time_range
        ratings = "" if self.ratings is None or self.csat.unavailable else f" from {self.ratings} ratings"
        return "\n".join(
            [
                f"Ticket metrics{scope}, last {self.time_range} to {self.as_of}",
                f"Tickets created: {self.created.describe(count, since)}",
                f"Open now: {self._or_missing('open', f'{self.open} ({self.urgent} urgent)')}",
                f"Avg first response: {self.avg_first_response_hours.describe(hours, since)}",
                f"Avg resolution: {self.avg_resolution_hours.describe(hours, since)}",
                f"CSAT: {self.csat.describe(lambda v: 'n/a' if v is None else f'{v:.2f}', since)}{ratings}",
                f"By category: {self._or_missing('by_category', _categories_text(self.by_category))}",
                f"By priority: {self._or_missing('by_priority', _categories_text(self.by_priority))}",
                f"Sentiment: {self._or_missing('sentiment', _categories_text(self.sentiment))}",
            ]
        )


class FinancialMetricsArgs(ViewArgs):
    time_range: TimeRange = Field(default="30d", description="Window: 24h, 3d, 7d, 30d, 60d or 90d.")
    include_cohorts: bool = Field(default=False, description="Add monthly signup cohorts and their retention.")


class ReasonCount(_Model):
    reason: str
    count: int


class PlanBreakdown(_Model):
    plan: str
    active: int
    mrr: float


class Cohort(_Model):
    month: str = Field(description="YYYY-MM of the subscription start")
    started: int
    active: int
    retention: float = Field(description="active / started, 4 decimals")


class FinancialMetrics(ViewResult):
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
            f"MRR: {self.mrr.describe(money, self.time_range + ' ago')}",
            f"Active subscribers: {self.active_subscribers.describe(count, self.time_range + ' ago')}",
            f"Churn rate: {self.churn_rate.describe(rate_pct, since)}",
            f"New subscribers: {self.new_subscribers.describe(count, since)}",
            f"Cancellations: {self.cancellations.describe(count, since)}",
            f"Net growth: {self.net_growth.describe(count, since)}",
            f"CAC: {self.cac.describe(money, since)}",
            f"ARPU: {self.arpu.describe(money, self.time_range + ' ago')}",
            f"Marketing spend: {self.marketing_spend.describe(money, since)}",
            f"Order revenue: {self.revenue.describe(money, since)}",
            "Top cancel reasons: "
            + self._or_missing(
                "top_cancel_reasons",
                ", ".join(f"{r.reason.replace('_', ' ')} {r.count}" for r in self.top_cancel_reasons) or "none",
            ),
            "Plans: "
            + self._or_missing("plans", ", ".join(f"{p.plan} {p.active} active ({money(p.mrr)} MRR)" for p in self.plans)),
        ]
        if "cohorts" in self.unavailable:
            lines.append("Cohorts: " + not_available(self.unavailable["cohorts"]))
        if self.cohorts:
            lines.append("Cohorts (started -> still active):")
            lines += [f"  {c.month}: {c.started} -> {c.active} ({rate_pct(c.retention)})" for c in self.cohorts]
        return "\n".join(lines)


class CustomerSummary(_Model):
    customer_id: str
    name: str
    plan: str | None
    status: Literal["active", "cancelled", "never_subscribed"] | None = Field(
        description="null when the database holds no subscription data"
    )
    lifetime_value: float = Field(description="paid order revenue to date, dollars")
    risk_score: float
    started_on: dt.date | None
    cancelled_on: dt.date | None = None
    cancel_reason: str | None = None

    def line(self) -> str:
        extra = f", cancelled {self.cancelled_on} ({self.cancel_reason})" if self.cancelled_on else ""
        if self.status is None:
            return f"  {self.customer_id} {self.name}: LTV {money(self.lifetime_value)}, risk {self.risk_score:.2f}"
        since = f", since {self.started_on}" if self.started_on else ""
        return (
            f"  {self.customer_id} {self.name}: {self.plan or 'no plan'}, LTV {money(self.lifetime_value)}, "
            f"risk {self.risk_score:.2f}{since}{extra}"
        )


class CustomerSegmentArgs(ViewArgs):
    segment: Segment = Field(description="high_value, at_risk, new or churned.")
    depth: Literal["summary", "detailed"] = Field(default="summary", description="detailed lists more customers.")


class SignalCount(_Model):
    signal_type: str
    count: int


class CustomerSegment(ViewResult):
    """A customer segment: size, value, risk, a sample of customers and what to do."""

    view: ClassVar[str] = "customer_segment"
    segment: Segment
    definition: str
    size: int | None
    share_of_active: float | None = Field(description="size / active subscribers (null for churned)")
    avg_ltv: float | None
    segment_mrr: float | None = Field(description="MRR of the segment's active subscriptions, dollars")
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
            f"Size: {self.size} customers{share}; MRR {money(self.segment_mrr)}",
            f"Avg LTV: {money(self.avg_ltv)}; avg churn risk {risk}; avg tenure {tenure}",
            "Top signals (60d): " + (", ".join(f"{s.signal_type} {s.count}" for s in self.top_signals) or "none"),
            f"Customers ({len(self.customers)} of {self.size}):",
            *[c.line() for c in self.customers],
            "Recommended actions:",
            *[f"  - {a}" for a in self.recommended_actions],
        ]
        return "\n".join(lines)


class CrisisAnalysisArgs(ViewArgs):
    crisis_type: CrisisType = Field(
        default="auto", description="auto, churn, support, shipping, payment or acquisition."
    )
    include_historical: bool = Field(default=False, description="Add the same indicator for earlier periods.")


class Indicator(_Model):
    metric: str
    recent_per_day: float = Field(description="daily average over the recent window")
    baseline_per_day: float = Field(description="daily average over days 31-60 before as_of (the normal period)")
    ratio: float | None = Field(description="recent / baseline (baseline / recent for acquisition)")
    recent_days: int


class HistoricalPoint(_Model):
    period_end: dt.date
    per_day: float


class CrisisAnalysis(ViewResult):
    """Is there a crisis, how bad, since when, who and how much revenue it touches."""

    view: ClassVar[str] = "crisis_analysis"
    crisis_type: Literal["churn", "support", "shipping", "payment", "acquisition", "auto"] = Field(
        description="the type analysed ('auto' only when the data supports none)"
    )
    detected: bool | None
    severity: Severity | None
    summary: str
    indicator: Indicator | None
    started_on: dt.date | None = Field(description="first day of the current run above 1.5x baseline")
    affected_customers: int | None
    revenue_at_risk: float | None = Field(
        description="MRR touched, dollars: lost to cancellations (churn), of affected active customers "
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
            at_risk = self._or_missing("revenue_at_risk", f"{money(self.revenue_at_risk)} MRR")
            lines = [
                f"Crisis analysis ({self.crisis_type}) as of {self.as_of}: "
                f"{'DETECTED' if self.detected else 'no crisis detected'}, severity {self.severity}",
                f"{ind.metric}: {ind.recent_per_day:.1f}/day over the last {ind.recent_days} days vs "
                f"{ind.baseline_per_day:.1f}/day baseline ({ratio})",
                f"Started: {self.started_on or 'n/a'}; affected customers {affected}; revenue at risk {at_risk}",
            ]
        lines.append(f"Top ticket categories: {self._or_missing('top_categories', _categories_text(self.top_categories))}")
        if self.related_events:
            lines.append("Related events:")
            lines += _events_text(self.related_events)
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


class Anomaly(_Model):
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


class CustomerListArgs(ViewArgs):
    filter: CustomerFilter = Field(default="active", description="all, active, high_value, at_risk, new or churned.")
    limit: int = Field(default=10, ge=1, le=100, description="How many customers (1-100).")
    sort_by: Literal["ltv", "risk", "tenure", "recent", "name"] = Field(
        default="ltv", description="ltv, risk, tenure (longest first), recent (newest first) or name."
    )


class CustomerList(ViewResult):
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
        lines = [head + f"{len(self.customers)} of {self.total}", *[c.line() for c in self.customers]]
        if "customers.status" in self.unavailable:
            lines.append("Plan and subscription status: " + not_available(self.unavailable["customers.status"]))
        return "\n".join(lines)


class CustomerProfileArgs(ViewArgs):
    customer_id: str = Field(min_length=1, max_length=32, description="Customer id, e.g. C000123.")


class SubscriptionInfo(_Model):
    subscription_id: str
    plan: str
    monthly_price: float
    started_on: dt.date
    cancelled_on: dt.date | None
    cancel_reason: str | None


class SignalInfo(_Model):
    signal_type: str
    strength: float
    detected_on: dt.date


class TicketSummary(_Model):
    ticket_id: str
    customer_id: str
    customer_name: str
    created_at: dt.datetime
    category: str
    priority: str
    status: Literal["open", "pending", "resolved"]
    subject: str
    sentiment: str
    first_response_hours: float | None
    csat_rating: int | None

    def line(self) -> str:
        rating = f", CSAT {self.csat_rating}" if self.csat_rating is not None else ""
        return (
            f"  {self.ticket_id} {self.created_at:%Y-%m-%d %H:%M} [{self.category}, {self.priority}, {self.status}] "
            f"{self.customer_name} ({self.customer_id}): {self.subject}{rating}"
        )


class CustomerProfile(ViewResult):
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
    risk_score: float
    segments: list[str]

    def to_text(self) -> str:
        subs = "; ".join(
            f"{s.plan} {money(s.monthly_price)}/mo since {s.started_on}"
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
            f"LTV {money(self.lifetime_value)} over {self.orders} orders; {self.failed_payments} failed payments; "
            f"last order {self.last_order_on or 'n/a'}",
            f"Risk score {self.risk_score:.2f}; signals (60d): "
            + (", ".join(f"{s.signal_type} {s.strength:.2f} on {s.detected_on}" for s in self.signals) or "none"),
            f"Tickets: {self._or_missing('tickets', f'{self.tickets} total, {self.open_tickets} open')}",
            *[t.line() for t in self.recent_tickets],
        ]
        return "\n".join(lines)


class SearchTicketsArgs(ViewArgs):
    query: str = Field(min_length=1, max_length=200, description="Words to find in ticket subjects or categories.")
    limit: int = Field(default=10, ge=1, le=50, description="How many tickets (1-50).")


class TicketSearch(ViewResult):
    """Tickets whose subject or category contains every word of the query, newest first."""

    view: ClassVar[str] = "search_tickets"
    query: str
    total: int | None
    tickets: list[TicketSummary]

    def to_text(self) -> str:
        head = f"Tickets matching {self.query!r} as of {self.as_of}: "
        if "total" in self.unavailable:
            return head + not_available(self.unavailable["total"])
        return "\n".join([head + f"{len(self.tickets)} of {self.total}", *[t.line() for t in self.tickets]])


class BusinessTimelineArgs(ViewArgs):
    days_before: int = Field(default=30, ge=0, le=365, description="Days of history to include.")
    days_after: int = Field(default=0, ge=0, le=90, description="Days of planned events ahead to include.")


class BusinessTimeline(ViewResult):
    """Dated business events around ``as_of`` (future ones only if planned)."""

    view: ClassVar[str] = "business_timeline"
    days_before: int
    days_after: int
    events: list[TimelineEvent]

    def to_text(self) -> str:
        head = f"Business timeline from {self.days_before} days before to {self.days_after} days after {self.as_of}:"
        return "\n".join([head, *(_events_text(self.events) or ["  (no events)"])])


# --------------------------------------------------------------------------- registry + interface


@dataclass(frozen=True)
class ViewSpec:
    """A view's name, argument model, result model, one-line description and example arguments."""

    name: str
    args: type[ViewArgs]
    result: type[ViewResult]
    description: str
    examples: tuple[dict[str, Any], ...] = ({},)

    def parse_args(self, raw: dict[str, Any]) -> ViewArgs:
        """Validate raw arguments; errors name the view, the argument and the valid values."""
        try:
            return self.args.model_validate(raw)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "arguments"
                msg = "unknown argument" if err["type"] == "extra_forbidden" else err["msg"]
                problems.append(f"{field}: {msg}")
            valid = ", ".join(self.args.model_fields) or "none"
            raise InvalidArgumentError(
                f"bad arguments for view {self.name!r}: {'; '.join(problems)} (arguments: {valid})"
            ) from None


VIEWS: dict[str, ViewSpec] = {
    spec.name: spec
    for spec in (
        ViewSpec(
            "daily_briefing", NoArgs, DailyBriefing, "Headline trends, support load, top issues and alerts.", ({},)
        ),
        ViewSpec(
            "ticket_metrics",
            TicketMetricsArgs,
            TicketMetrics,
            "Ticket volume, speed, CSAT and mix.",
            ({"time_range": "7d"}, {"time_range": "24h"}, {"time_range": "30d", "category": "billing"}),
        ),
        ViewSpec(
            "financial_metrics",
            FinancialMetricsArgs,
            FinancialMetrics,
            "MRR, subscribers, churn, CAC, ARPU.",
            ({"time_range": "30d", "include_cohorts": True}, {"time_range": "90d"}),
        ),
        ViewSpec(
            "customer_segment",
            CustomerSegmentArgs,
            CustomerSegment,
            "A segment's size, value, risk, actions.",
            tuple({"segment": s, "depth": "detailed"} for s in ("at_risk", "high_value", "new", "churned")),
        ),
        ViewSpec(
            "crisis_analysis",
            CrisisAnalysisArgs,
            CrisisAnalysis,
            "Crisis detection, severity and impact.",
            ({"crisis_type": "auto", "include_historical": True}, {"crisis_type": "acquisition"}),
        ),
        ViewSpec(
            "detect_anomalies",
            DetectAnomaliesArgs,
            AnomalyReport,
            "Metrics deviating from their baseline.",
            ({"sensitivity": "high"}, {"metrics": ["tickets"], "sensitivity": "low"}),
        ),
        ViewSpec(
            "customer_list",
            CustomerListArgs,
            CustomerList,
            "Customers matching a filter, sorted.",
            ({"filter": "at_risk", "sort_by": "risk"}, {"filter": "all", "sort_by": "name", "limit": 20}),
        ),
        ViewSpec(
            "customer_profile",
            CustomerProfileArgs,
            CustomerProfile,
            "One customer's full profile.",
            ({"customer_id": "C000001"},),
        ),
        ViewSpec(
            "search_tickets",
            SearchTicketsArgs,
            TicketSearch,
            "Tickets matching words, newest first.",
            ({"query": "box"}, {"query": "billing", "limit": 3}),
        ),
        ViewSpec(
            "business_timeline",
            BusinessTimelineArgs,
            BusinessTimeline,
            "Dated business events.",
            ({"days_before": 90, "days_after": 30},),
        ),
    )
}
"""Every view by name, in display order."""


def view_spec(name: str) -> ViewSpec:
    """The view called ``name``; raises :class:`UnknownNameError` listing the views."""
    try:
        return VIEWS[name]
    except KeyError:
        raise UnknownNameError("view", name, VIEWS) from None


class DataProvider(abc.ABC):
    """The one interface behind CJ's tools: one method per view.

    Every method takes ``as_of`` (the provider's default when omitted: the simulation clock for
    the DataAgent, the latest activity date for a production database). Implementations must
    honour the metric definitions in ``docs/metrics.md``; the conformance tests hold every
    provider to the same answers.
    """

    name: str = "provider"

    @abc.abstractmethod
    def default_as_of(self) -> dt.date:
        """The date views describe when ``as_of`` is omitted."""

    @abc.abstractmethod
    def _compute(self, view: str, args: ViewArgs, as_of: dt.date) -> ViewResult:
        """Compute one view (arguments already validated)."""

    def get_view(self, name: str, as_of: dt.date | None = None, **args: Any) -> ViewResult:
        """Answer the view ``name`` with keyword arguments validated by its argument model."""
        spec = view_spec(name)
        return self._compute(name, spec.parse_args(args), as_of or self.default_as_of())

    def daily_briefing(self, *, as_of: dt.date | None = None) -> DailyBriefing:
        """Morning summary of the business."""
        return self.get_view("daily_briefing", as_of)  # type: ignore[return-value]

    def ticket_metrics(
        self, time_range: TimeRange = "7d", category: str | None = None, *, as_of: dt.date | None = None
    ) -> TicketMetrics:
        """Support metrics over ``time_range``, optionally for one category."""
        return self.get_view("ticket_metrics", as_of, time_range=time_range, category=category)  # type: ignore[return-value]

    def financial_metrics(
        self, time_range: TimeRange = "30d", include_cohorts: bool = False, *, as_of: dt.date | None = None
    ) -> FinancialMetrics:
        """Revenue and subscriber economics over ``time_range``."""
        return self.get_view(  # type: ignore[return-value]
            "financial_metrics", as_of, time_range=time_range, include_cohorts=include_cohorts
        )

    def customer_segment(
        self, segment: str, depth: str = "summary", *, as_of: dt.date | None = None
    ) -> CustomerSegment:
        """One of the high_value, at_risk, new, churned segments."""
        return self.get_view("customer_segment", as_of, segment=segment, depth=depth)  # type: ignore[return-value]

    def crisis_analysis(
        self, crisis_type: str = "auto", include_historical: bool = False, *, as_of: dt.date | None = None
    ) -> CrisisAnalysis:
        """Crisis detection and impact."""
        return self.get_view(  # type: ignore[return-value]
            "crisis_analysis", as_of, crisis_type=crisis_type, include_historical=include_historical
        )

    def detect_anomalies(
        self, metrics: list[str] | None = None, sensitivity: str = "medium", *, as_of: dt.date | None = None
    ) -> AnomalyReport:
        """Metrics whose last week deviates from baseline."""
        return self.get_view("detect_anomalies", as_of, metrics=metrics, sensitivity=sensitivity)  # type: ignore[return-value]

    def customer_list(
        self, filter: str = "active", limit: int = 10, sort_by: str = "ltv", *, as_of: dt.date | None = None
    ) -> CustomerList:
        """Customers matching ``filter`` sorted by ``sort_by``."""
        return self.get_view("customer_list", as_of, filter=filter, limit=limit, sort_by=sort_by)  # type: ignore[return-value]

    def customer_profile(self, customer_id: str, *, as_of: dt.date | None = None) -> CustomerProfile:
        """One customer's profile."""
        return self.get_view("customer_profile", as_of, customer_id=customer_id)  # type: ignore[return-value]

    def search_tickets(self, query: str, limit: int = 10, *, as_of: dt.date | None = None) -> TicketSearch:
        """Tickets matching ``query``."""
        return self.get_view("search_tickets", as_of, query=query, limit=limit)  # type: ignore[return-value]

    def business_timeline(
        self, days_before: int = 30, days_after: int = 0, *, as_of: dt.date | None = None
    ) -> BusinessTimeline:
        """Business events around ``as_of``."""
        return self.get_view(  # type: ignore[return-value]
            "business_timeline", as_of, days_before=days_before, days_after=days_after
        )
