"""Customer health as registered views: ``customer_health`` (one customer, components and evidence)
and ``health_overview`` (distribution, components, the worst customers, movement since last week and
the model's monitoring). The model lives in :mod:`app.health` (docs/health.md).

Health is read from the rows a load materialised when the database holds the date, else computed
in memory (the DataAgent always does); both give the same answer. Views that show alert status or
feedback read the operations store, so they are never cached.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field
from sqlalchemy.engine import Connection

from app.errors import DataUnavailableError
from app.health.feedback import FeedbackSummary, feedback_summary, statuses
from app.health.frame import HealthRow, HealthSet
from app.health.model import Factor
from app.health.monitor import Monitoring, monitoring
from app.health.settings import COMPONENTS, HealthSettings, load_health_settings
from app.health.store import health_at
from app.storage import order_queries as oq
from app.storage import queries as q
from app.views.base import ViewModel, ViewResult
from app.views.common import ViewContext
from app.views.registry import ViewSpec
from app.views.retention_ops import DateArgs, day_within

__all__ = [
    "CustomerHealthArgs",
    "FactorView",
    "ComponentView",
    "AlertSummary",
    "CustomerHealthView",
    "HealthOverview",
    "CUSTOMER_HEALTH",
    "HEALTH_OVERVIEW",
    "health_set",
    "factor_views",
    "alert_summary",
]

WORST = 10


class CustomerHealthArgs(DateArgs):
    customer_id: str | None = Field(default=None, min_length=1, max_length=32,
                                    description="The customer; default: the riskiest customer at the date.")  # fmt: skip


class FactorView(ViewModel):
    name: str
    component: str
    evidence: str
    count: int


class ComponentView(ViewModel):
    name: str
    score: float | None = Field(description="0-1, 1 healthy; null: no data for it (unavailable, not 0)")
    weight: float


class AlertSummary(ViewModel):
    alert_id: str
    alert_type: str
    severity: str
    urgency: str
    score: float
    status: str
    assignee: str | None
    suggested_actions: list[str]


class CustomerHealthView(ViewResult):
    """One customer's health at ``date``: components, overall score, risk, evidence and alert."""

    view: ClassVar[str] = "customer_health"
    date: dt.date
    customer_id: str
    name: str
    model_version: str
    overall_score: float
    risk: float
    confidence_score: float = Field(description="available weight / total weight")
    components: list[ComponentView]
    risk_factors: list[FactorView]
    opportunities: list[FactorView]
    alert: AlertSummary | None

    def to_text(self) -> str:
        comps = ", ".join(f"{c.name} {c.score:.2f}" if c.score is not None else f"{c.name} n/a" for c in self.components)
        lines = [
            f"Health of {self.name} ({self.customer_id}) on {self.date}: overall {self.overall_score:.2f}, "
            f"risk {self.risk:.2f}, confidence {self.confidence_score:.0%} (model {self.model_version})",
            f"Components: {comps}",
            "Risk factors: " + ("; ".join(f"{f.name} ({f.evidence})" for f in self.risk_factors) or "none"),
            "Opportunities: " + ("; ".join(f"{f.name} ({f.evidence})" for f in self.opportunities) or "none"),
        ]
        if self.alert:
            a = self.alert
            lines.append(f"Alert {a.alert_id}: {a.severity} {a.alert_type} ({a.urgency}), {a.status}"
                         f"{' - ' + a.assignee if a.assignee else ''}; next: " + "; ".join(a.suggested_actions))  # fmt: skip
        else:
            lines.append("No alert.")
        return "\n".join(lines)


class BandCount(ViewModel):
    low: float
    high: float
    customers: int


class ComponentStat(ViewModel):
    name: str
    available: int = Field(description="customers with data for it")
    mean: float | None


class WorstCustomer(ViewModel):
    customer_id: str
    name: str
    overall_score: float
    risk: float
    severity: str | None
    top_factor: str | None


class AlertCount(ViewModel):
    alert_type: str
    severity: str
    count: int


class Movement(ViewModel):
    baseline_date: dt.date
    mean_overall_before: float | None
    mean_overall_change: float | None
    alerts_before: dict[str, int] = Field(description="severity -> alerts at the baseline date")
    alerts_now: dict[str, int]


class HealthOverview(ViewResult):
    """Health of every scored customer at ``date``: distribution, components, alerts, worst, movement."""

    view: ClassVar[str] = "health_overview"
    date: dt.date
    model_version: str
    scored: int
    mean_overall: float | None
    mean_confidence: float | None
    distribution: list[BandCount] = Field(description="customers per band of the overall score")
    components: list[ComponentStat]
    alerts: list[AlertCount]
    worst: list[WorstCustomer]
    movement: Movement | None = Field(description="against monitoring.baseline_days before (null: no data then)")
    monitoring: Monitoring
    feedback: list[FeedbackSummary]

    def to_text(self) -> str:
        dist = ", ".join(f"{b.low:.1f}-{b.high:.1f}: {b.customers}" for b in self.distribution)
        comps = ", ".join(f"{c.name} {c.mean:.2f}" if c.mean is not None else f"{c.name} n/a" for c in self.components)
        alerts = ", ".join(f"{a.count} {a.severity} {a.alert_type}" for a in self.alerts) or "none"
        lines = [
            f"Customer health on {self.date} ({self.scored} customers scored, model {self.model_version}): mean "
            f"{self.mean_overall if self.mean_overall is not None else 'n/a'}, confidence "
            f"{self.mean_confidence if self.mean_confidence is not None else 'n/a'}",
            f"Distribution of overall scores: {dist}",
            f"Components (mean where available): {comps}",
            f"Alerts: {alerts}",
            "Worst: " + ("; ".join(f"{w.name} ({w.customer_id}) risk {w.risk:.2f}"
                                   f"{' - ' + w.top_factor if w.top_factor else ''}" for w in self.worst) or "none"),
        ]  # fmt: skip
        if self.movement:
            m = self.movement
            change = f"{m.mean_overall_change:+.3f}" if m.mean_overall_change is not None else "n/a"
            lines.append(f"Since {m.baseline_date}: mean overall {change}; alerts {m.alerts_before} -> {m.alerts_now}")
        lines.append(self.monitoring.to_text())
        return "\n".join(lines)


def health_set(ctx: ViewContext, day: dt.date, s: HealthSettings) -> HealthSet:
    """The health of every scored customer at ``day`` on the view's connection."""
    return health_at(ctx.conn, day, s, ctx.memo)


def factor_views(items: list[Factor]) -> list[FactorView]:
    return [FactorView(name=f.name, component=f.component, evidence=f.evidence, count=f.count) for f in items]


def alert_summary(row: HealthRow, status: tuple[str, str | None] | None) -> AlertSummary | None:
    """The alert of a health row with its status (open when the store holds none)."""
    if row.alert is None or row.alert_id is None:
        return None
    st, who = status or ("open", None)
    a = row.alert
    return AlertSummary(alert_id=row.alert_id, alert_type=a.alert_type, severity=a.severity, urgency=a.urgency,
                        score=a.score, status=st, assignee=who, suggested_actions=row.actions)  # fmt: skip


def _ops_read(ctx: ViewContext, query, empty):
    return ctx.ops.read(query) if ctx.ops is not None else empty


def customer_health(ctx: ViewContext, args: CustomerHealthArgs) -> CustomerHealthView:
    day = day_within(ctx.as_of, ctx.data_start, args.date)
    s = load_health_settings()
    hs = health_set(ctx, day, s)
    if args.customer_id is None:
        worst = hs.worst(1)
        if not worst:
            raise DataUnavailableError(f"no customer is scored on {day}: no active subscriber or recent buyer")
        row = worst[0]
    else:
        found = hs.one(args.customer_id)
        if found is None:
            raise DataUnavailableError(_not_scored(ctx.conn, args.customer_id, day))
        row = found
    status = _ops_read(ctx, lambda c: statuses(c, [row.alert_id]), {}) if row.alert_id else {}
    return CustomerHealthView(
        as_of=ctx.as_of, date=day, customer_id=row.customer_id,
        name=oq.customer_names(ctx.conn, [row.customer_id]).get(row.customer_id, row.customer_id),
        model_version=s.model_version, overall_score=row.overall, risk=row.risk, confidence_score=row.confidence,
        components=[ComponentView(name=c, score=row.components[c], weight=s.weights.of(c)) for c in COMPONENTS],
        risk_factors=factor_views(row.risk_factors), opportunities=factor_views(row.opportunities),
        alert=alert_summary(row, status.get(row.alert_id or "")),
    )  # fmt: skip


def _not_scored(conn: Connection, customer_id: str, day: dt.date) -> str:
    if q.customer_row(conn, customer_id, day) is None:
        return f"no customer {customer_id!r} as of {day}; use customer_list or the alerts view to find ids"
    return (f"customer {customer_id} is not scored on {day}: health covers active subscribers and buyers whose last "
            "order is recent (a cancelled or lapsed customer has left already); see customer_profile")  # fmt: skip


def _by_severity(counts: dict[tuple[str, str], int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for (_kind, severity), n in sorted(counts.items()):
        out[severity] = out.get(severity, 0) + n
    return out


def health_overview(ctx: ViewContext, args: DateArgs) -> HealthOverview:
    day = day_within(ctx.as_of, ctx.data_start, args.date)
    s = load_health_settings()
    hs = health_set(ctx, day, s)
    base_day = day - dt.timedelta(days=s.monitoring.baseline_days)
    before = health_set(ctx, base_day, s) if ctx.data_start is None or base_day >= ctx.data_start else None
    edges = s.monitoring.psi_bins
    now = hs.summary(edges)
    then = before.summary(edges) if before is not None else None
    counts = hs.alert_counts()
    worst = [r for r in hs.worst(WORST) if r.alert is not None and r.alert.alert_type != "upsell_opportunity"]
    names = oq.customer_names(ctx.conn, [r.customer_id for r in worst]) if worst else {}
    movement = None
    if before is not None and then is not None:
        prev, mean = then.mean("overall"), now.mean("overall")
        movement = Movement(baseline_date=base_day, mean_overall_before=prev,
                            mean_overall_change=round(mean - prev, 4) if mean is not None and prev is not None else None,
                            alerts_before=_by_severity(before.alert_counts()), alerts_now=_by_severity(counts))  # fmt: skip
    feedback = _ops_read(ctx, feedback_summary, [])
    return HealthOverview(
        as_of=ctx.as_of, date=day, model_version=s.model_version, scored=now.size,
        mean_overall=now.mean("overall"), mean_confidence=now.mean("confidence"),
        distribution=[BandCount(low=lo, high=hi, customers=n)
                      for lo, hi, n in zip(edges, edges[1:], now.bands["overall"], strict=False)],
        components=[ComponentStat(name=c, available=now.sums[c][0], mean=now.mean(c)) for c in COMPONENTS],
        alerts=[AlertCount(alert_type=t, severity=sev, count=n) for (t, sev), n in sorted(counts.items())],
        worst=[WorstCustomer(customer_id=r.customer_id, name=names.get(r.customer_id, r.customer_id),
                             overall_score=r.overall, risk=r.risk, severity=r.alert.severity if r.alert else None,
                             top_factor=r.risk_factors[0].name if r.risk_factors else None) for r in worst],
        movement=movement, monitoring=monitoring(now, then, base_day, feedback, s), feedback=feedback,
    )  # fmt: skip


CUSTOMER_HEALTH: ViewSpec[CustomerHealthArgs, CustomerHealthView] = ViewSpec(
    name="customer_health",
    args=CustomerHealthArgs,
    result=CustomerHealthView,
    description="One customer's health at a date: usage, engagement, support, financial and relationship components "
    "(0-1, 1 healthy, null when no data), overall score, risk, confidence, risk factors and opportunities with "
    "evidence, and the alert it raises.",
    tool="get_customer_health",
    guidance="Use it when the merchant asks why a customer is unhealthy or what to do about one customer.",
    build=customer_health,
    cacheable=False,
    examples=({},),
)

HEALTH_OVERVIEW: ViewSpec[DateArgs, HealthOverview] = ViewSpec(
    name="health_overview",
    args=DateArgs,
    result=HealthOverview,
    description="Customer health across the base at a date: score distribution, component means, alerts by type "
    "and severity, the worst customers, movement since last week, and whether the model needs retraining.",
    tool="get_health_overview",
    guidance="Use it when the merchant asks how healthy the customer base is or how it changed this week.",
    build=health_overview,
    cacheable=False,
    examples=({},),
)
