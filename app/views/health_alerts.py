"""Health alerts as registered capabilities: the ``alerts`` view (filter by severity, type, status)
and the actions ``acknowledge_alert`` and ``record_alert_feedback``, which write the alert's status
and the merchant's feedback to the operations store (audited and idempotent like every action).

An alert is derived from the health of its date (its id names the date, the customer and the type),
so acting on one first checks that the date's health still raises it.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from app.errors import DataUnavailableError, InvalidArgumentError
from app.health.alerts import ALERT_TYPES, STATUSES, parse_alert_id
from app.health.feedback import (
    Accuracy,
    AlertRef,
    Effectiveness,
    FeedbackRecord,
    Relevance,
    StatusChange,
    record_feedback,
    set_status,
    statuses,
)
from app.health.settings import Severity, load_health_settings
from app.health.store import health_at
from app.storage import order_queries as oq
from app.views.actions import ActionContext
from app.views.base import ViewArgs, ViewModel, ViewResult
from app.views.common import ViewContext
from app.views.health import AlertSummary, FactorView, alert_summary, factor_views, health_set
from app.views.registry import ActionSpec, ViewSpec
from app.views.retention_ops import DateArgs, day_within

__all__ = ["AlertsArgs", "AlertItem", "AlertList", "AcknowledgeArgs", "FeedbackArgs", "ALERTS", "ACKNOWLEDGE_ALERT",
           "RECORD_ALERT_FEEDBACK", "alert_ref"]  # fmt: skip

AlertType = Literal["churn_risk", "usage_decline", "upsell_opportunity"]
Status = Literal["open", "acknowledged", "in_progress", "resolved"]
_ID_HELP = "The alert id, HA-<yyyymmdd>-<customer id>-<type>, as the alerts view lists it."


class AlertsArgs(DateArgs):
    severity: list[Severity] = Field(default_factory=list, description="Only these severities (critical, high, "
                                     "medium, low); default: all.")  # fmt: skip
    alert_type: list[AlertType] = Field(default_factory=list, description="Only these types (churn_risk, "
                                        "usage_decline, upsell_opportunity); default: all.")  # fmt: skip
    status: Status | None = Field(default=None, description="Only alerts with this status; default: any.")
    limit: int = Field(default=20, ge=1, le=500, description="How many alerts to list (1-500), riskiest first.")


class AlertItem(ViewModel):
    customer_id: str
    name: str
    alert: AlertSummary
    risk_factors: list[FactorView]


class AlertList(ViewResult):
    """Health alerts of ``date``, riskiest first, with their status in the operations store."""

    view: ClassVar[str] = "alerts"
    date: dt.date
    total: int = Field(description="alerts matching the filters")
    by_severity: dict[str, int] = Field(description="severity -> alerts of the date (all types and statuses)")
    alerts: list[AlertItem]

    def to_text(self) -> str:
        head = f"Health alerts on {self.date}: {self.total} matching; all alerts by severity {self.by_severity}"
        lines = [head]
        for item in self.alerts:
            a = item.alert
            why = "; ".join(f.evidence for f in item.risk_factors[:2]) or "no risk factor"
            lines.append(f"  {a.alert_id} {a.severity} {a.alert_type} ({a.urgency}, {a.status}) {item.name}: "
                         f"score {a.score:.2f} - {why}; next: {a.suggested_actions[0] if a.suggested_actions else '-'}")  # fmt: skip
        return "\n".join(lines if self.alerts else [head, "  (none)"])


def list_alerts(ctx: ViewContext, args: AlertsArgs) -> AlertList:
    day = day_within(ctx.as_of, ctx.data_start, args.date)
    hs = health_set(ctx, day, load_health_settings())
    stored = ctx.ops.read(lambda c: statuses(c, day=day)) if ctx.ops is not None else {}
    # an alert's status is per id; one customer has at most one alert per date
    by_customer = {parse_alert_id(i)[1]: st for i, st in stored.items()}
    only, skip = None, frozenset[str]()
    if args.status == "open":
        skip = frozenset(by_customer)
    elif args.status is not None:
        only = {c for c, (st, _) in by_customer.items() if st == args.status}
    total, rows = hs.alerts(list(args.severity), list(args.alert_type), args.limit, only, skip)
    names = oq.customer_names(ctx.conn, [r.customer_id for r in rows]) if rows else {}
    items = []
    for r in rows:
        summary = alert_summary(r, stored.get(r.alert_id or ""))
        assert summary is not None
        items.append(AlertItem(customer_id=r.customer_id, name=names.get(r.customer_id, r.customer_id), alert=summary,
                               risk_factors=factor_views(r.risk_factors)))  # fmt: skip
    by_severity: dict[str, int] = {}
    for (_t, sev), n in sorted(hs.alert_counts().items()):
        by_severity[sev] = by_severity.get(sev, 0) + n
    return AlertList(as_of=ctx.as_of, date=day, total=total, by_severity=by_severity, alerts=items)


class _AlertIdArgs(ViewArgs):
    alert_id: str = Field(min_length=1, max_length=80, description=_ID_HELP)

    @field_validator("alert_id")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        try:
            parse_alert_id(value)
        except InvalidArgumentError as exc:
            raise ValueError(str(exc)) from None
        return value


class AcknowledgeArgs(_AlertIdArgs):
    status: Literal["acknowledged", "in_progress", "resolved"] = Field(
        default="acknowledged", description="The new status: acknowledged, in_progress or resolved (forward only)."
    )
    assignee: str | None = Field(default=None, min_length=1, max_length=120, description="Who handles it.")


class FeedbackArgs(_AlertIdArgs):
    alert_accuracy: Accuracy | None = Field(default=None, description="accurate, somewhat_accurate or inaccurate.")
    alert_relevance: Relevance | None = Field(default=None, description="very_relevant, relevant or not_relevant.")
    action_effectiveness: Effectiveness | None = Field(default=None,
                                                       description="very_effective, effective or not_effective.")  # fmt: skip
    priority_rating: int | None = Field(default=None, ge=1, le=5, description="1 (lowest) to 5 (highest).")
    comment: str | None = Field(default=None, max_length=2000, description="Free text.")


def alert_ref(ctx: ActionContext, alert_id: str) -> AlertRef:
    """The alert an id names, checked against the health of its date (which must lie within the data)."""
    day, customer_id, kind = parse_alert_id(alert_id)
    bounds = ctx.provider.data_range() if ctx.provider is not None else None
    day_within(ctx.day, bounds[0] if bounds else None, day)
    s = load_health_settings()
    memo = ctx.provider.source_memo if ctx.provider is not None else None
    row = ctx.read_source(lambda c: health_at(c, day, s, memo).one(customer_id))
    if row is None or row.alert is None or row.alert.alert_type != kind:
        raise DataUnavailableError(f"no alert {alert_id} on {day}: the customer's health raises "
                                   f"{'no alert' if row is None or row.alert is None else row.alert_id}; "
                                   "list the date's alerts with the alerts view")  # fmt: skip
    return AlertRef(alert_id=alert_id, day=day, customer_id=customer_id, alert_type=kind, severity=row.alert.severity)


def acknowledge_alert(ctx: ActionContext, args: AcknowledgeArgs) -> StatusChange:
    return set_status(ctx.conn, alert_ref(ctx, args.alert_id), args.status, args.assignee, now=ctx.now, actor=ctx.actor)


def record_alert_feedback(ctx: ActionContext, args: FeedbackArgs) -> FeedbackRecord:
    given = args.model_dump(exclude={"alert_id"})
    return record_feedback(ctx.conn, alert_ref(ctx, args.alert_id), given, now=ctx.now, actor=ctx.actor)


ALERTS: ViewSpec[AlertsArgs, AlertList] = ViewSpec(
    name="alerts",
    args=AlertsArgs,
    result=AlertList,
    description="Customer health alerts of a date (churn_risk, usage_decline, upsell_opportunity; critical > 0.8 "
    "risk, high > 0.6, medium > 0.4), riskiest first, with risk factors, suggested actions and status.",
    tool="get_health_alerts",
    guidance="Use it when the merchant asks which customers need attention today; filter by severity, type or status.",
    build=list_alerts,
    cacheable=False,
    examples=({}, {"severity": ["critical", "high"]}, {"alert_type": ["upsell_opportunity"], "limit": 5},
              {"status": "open", "limit": 10}),
)

ACKNOWLEDGE_ALERT: ActionSpec[AcknowledgeArgs, StatusChange] = ActionSpec(
    name="acknowledge_alert",
    args=AcknowledgeArgs,
    result=StatusChange,
    description="Move a health alert forward (open -> acknowledged -> in_progress -> resolved) and optionally "
    "assign it.",
    tool="acknowledge_alert",
    guidance="Use it when the merchant takes an alert on, starts working it or closes it.",
    run=acknowledge_alert,
    side_effect="inserts or updates the alert's row of ops_alert_status",
    examples=({"alert_id": "HA-20250318-C000706-churn_risk"},
              {"alert_id": "HA-20250318-C000706-churn_risk", "status": "in_progress", "assignee": "Sarah"}),
)

RECORD_ALERT_FEEDBACK: ActionSpec[FeedbackArgs, FeedbackRecord] = ActionSpec(
    name="record_alert_feedback",
    args=FeedbackArgs,
    result=FeedbackRecord,
    description="Record the merchant's feedback on a health alert: accuracy, relevance, action effectiveness, "
    "priority 1-5.",
    tool="record_alert_feedback",
    guidance="Use it when the merchant says whether an alert was right, useful or well prioritised.",
    run=record_alert_feedback,
    side_effect="inserts or updates the alert's row of ops_alert_feedback",
    examples=({"alert_id": "HA-20250318-C000706-churn_risk", "alert_accuracy": "accurate", "priority_rating": 4},),
)

assert set(ALERT_TYPES) == set(AlertType.__args__) and set(STATUSES) == set(Status.__args__)  # type: ignore[attr-defined]
