"""Retention operations as registered capabilities, with the tool names and arguments of the
retention-ops design: the views ``get_alert_decision(date)``, ``get_operational_context(date)`` and
``generate_brief(date, format)``, and the actions ``build_priority_queue(date)`` and
``export_audience(date, tier, destination, limit)``.

The rules live in :mod:`app.retention` (docs/retention_ops.md). ``date`` defaults to the provider's
current day and must lie within the data: not after that day, not before the first one.

Why the brief is a view: it writes nothing. It reads the alert decision and context from the
source and the queue (when built) from the operations store, so it is never cached; rendering text
is not a side effect. The queue build and the export are actions: one writes ``customer_priority``,
the other writes a file, and both leave an audit row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import ClassVar

from pydantic import Field, field_validator
from sqlalchemy.engine import Connection

from app.errors import InvalidArgumentError
from app.retention.brief import BriefData, BriefFormat, brief_data, render_brief
from app.retention.decision import AlertDecision, OperationalContext, alert_decision, operational_context
from app.retention.export import ExportResult, check_destination, export_audience
from app.retention.facts import Memo, RetentionFacts, remembered, retention_facts
from app.retention.queue import QUEUE_ACTION, QueueCounts, priority_queue, queue_counts, source_currency, write_queue
from app.retention.settings import RetentionOpsSettings, Tier, load_settings
from app.views.actions import ActionContext
from app.views.base import ViewArgs, ViewResult
from app.views.common import ViewContext
from app.views.registry import ActionSpec, ViewSpec

__all__ = [
    "DateArgs",
    "BriefArgs",
    "ExportArgs",
    "AlertDecisionView",
    "OperationalContextView",
    "BriefView",
    "GET_ALERT_DECISION",
    "GET_OPERATIONAL_CONTEXT",
    "GENERATE_BRIEF",
    "BUILD_PRIORITY_QUEUE",
    "EXPORT_AUDIENCE",
    "day_within",
]

SourceRead = Callable[[Callable[[Connection], RetentionFacts]], RetentionFacts]
"""Runs a query function on the source data (a view's connection or an action's ``read_source``)."""

_DATE_HELP = "The day (YYYY-MM-DD); default: the data's current day."


class DateArgs(ViewArgs):
    date: dt.date | None = Field(default=None, description=_DATE_HELP)


class BriefArgs(DateArgs):
    format: BriefFormat = Field(default="slack", description="slack, email or markdown.")


class ExportArgs(DateArgs):
    tier: Tier = Field(description="Which tier of the priority queue: P1, P2 or P3.")
    destination: str = Field(default="csv", description="Where to export: only 'csv' is supported.")
    limit: int | None = Field(default=None, ge=1, le=100_000, description="At most this many customers (default 2000).")

    @field_validator("destination")
    @classmethod
    def _supported(cls, value: str) -> str:
        try:
            return check_destination(value)
        except InvalidArgumentError as exc:
            raise ValueError(str(exc)) from None


def _day(latest: dt.date, first: dt.date | None, asked: dt.date | None) -> dt.date:
    """The date asked for (default ``latest``), refused outside ``first .. latest``."""
    day = asked or latest
    if day > latest:
        raise InvalidArgumentError(
            f"date {day} is after the data's current day {latest}; choose a date on or before it"
        )
    if first is not None and day < first:
        raise InvalidArgumentError(f"date {day} is before the data's first day {first}; choose a date from {first} on")
    return day


day_within = _day
"""The date a view or action was asked for (default: the data's current day), refused outside the data."""


class AlertDecisionView(AlertDecision, ViewResult):
    """The alert decision at ``alert_date`` (AT_RISK share against its 7-day baseline)."""

    view: ClassVar[str] = "get_alert_decision"


class OperationalContextView(OperationalContext, ViewResult):
    """Status distribution and AT_RISK customers by churn risk level at ``date``."""

    view: ClassVar[str] = "get_operational_context"


class BriefView(ViewResult):
    """The brief of a date rendered in one format, with the numbers it states."""

    view: ClassVar[str] = "generate_brief"
    date: dt.date
    format: BriefFormat
    text: str
    brief: BriefData

    def to_text(self) -> str:
        return self.text


def _facts(memo: Memo | None, read: SourceRead, day: dt.date, settings: RetentionOpsSettings) -> RetentionFacts:
    """The date's facts, computed once per provider and data (``read`` runs a query on the source)."""
    return remembered(memo, "retention_facts", day, settings, lambda: read(lambda c: retention_facts(c, day, settings)))


def _alert(ctx: ViewContext, day: dt.date, settings: RetentionOpsSettings) -> AlertDecision:
    return remembered(ctx.memo, "alert_decision", day, settings, lambda: alert_decision(ctx.conn, day, settings))


def _view_read(ctx: ViewContext) -> SourceRead:
    return lambda query: query(ctx.conn)


def get_alert_decision(ctx: ViewContext, args: DateArgs) -> AlertDecisionView:
    day = _day(ctx.as_of, ctx.data_start, args.date)
    decision = _alert(ctx, day, load_settings())
    return AlertDecisionView(as_of=ctx.as_of, **decision.model_dump())


def get_operational_context(ctx: ViewContext, args: DateArgs) -> OperationalContextView:
    day = _day(ctx.as_of, ctx.data_start, args.date)
    context = operational_context(_facts(ctx.memo, _view_read(ctx), day, load_settings()))
    return OperationalContextView(as_of=ctx.as_of, **context.model_dump())


def _build_audit_id(ctx: ViewContext, day: dt.date) -> int | None:
    """The latest succeeded queue build for ``day`` in the operations store."""
    if ctx.ops is None:
        return None
    found = None
    for row in ctx.ops.audit(action=QUEUE_ACTION, status="succeeded"):
        asked = row.arguments.get("date")
        if (dt.date.fromisoformat(asked) if asked else row.day) == day:
            found = row.audit_id
    return found


def generate_brief(ctx: ViewContext, args: BriefArgs) -> BriefView:
    day = _day(ctx.as_of, ctx.data_start, args.date)
    settings = load_settings()
    audit_id = _build_audit_id(ctx, day)

    facts = _facts(ctx.memo, _view_read(ctx), day, settings)
    alert = _alert(ctx, day, settings)

    def gather(ops: Connection | None) -> BriefData:
        return brief_data(
            ctx.conn, ops, day, ctx.currency, audit_id=audit_id, settings=settings, facts=facts, alert=alert
        )

    data = ctx.ops.read(gather) if ctx.ops is not None else gather(None)
    return BriefView(as_of=ctx.as_of, date=day, format=args.format, text=render_brief(data, args.format), brief=data)


def _action_day(ctx: ActionContext, asked: dt.date | None) -> dt.date:
    bounds = ctx.provider.data_range() if ctx.provider is not None else None
    return _day(ctx.day, bounds[0] if bounds else None, asked)


def build_priority_queue(ctx: ActionContext, args: DateArgs) -> QueueCounts:
    """Compute the queue at the date from the source and replace that run date's rows."""
    return _build(ctx, _action_day(ctx, args.date))


def _build(ctx: ActionContext, day: dt.date) -> QueueCounts:
    settings = load_settings()

    memo = ctx.provider.source_memo if ctx.provider is not None else None
    facts = _facts(memo, ctx.read_source, day, settings)
    currency = ctx.read_source(source_currency)
    entries = priority_queue(facts, currency, settings)
    return write_queue(ctx.conn, facts, entries, currency=currency, now=ctx.now, settings=settings)


def run_export(ctx: ActionContext, args: ExportArgs) -> ExportResult:
    """Write the tier's audience of the date's queue to a CSV file, building the queue first (in the
    same transaction) when the store holds none for the date."""
    day = _action_day(ctx, args.date)
    built = queue_counts(ctx.conn, day) is None
    if built:
        _build(ctx, day)
    result = export_audience(ctx.conn, day, args.tier, args.destination, args.limit, load_settings())
    return result.model_copy(update={"queue_built": built})


GET_ALERT_DECISION: ViewSpec[DateArgs, AlertDecisionView] = ViewSpec(
    name="get_alert_decision",
    args=DateArgs,
    result=AlertDecisionView,
    description="Retention alert decision at a date: the AT_RISK share of customers against its 7-day baseline, "
    "severity INFO, WARNING or CRITICAL.",
    tool="get_alert_decision",
    guidance="Use it first in a retention operations run, or when the merchant asks whether retention needs action today.",
    build=get_alert_decision,
    examples=({},),
)

GET_OPERATIONAL_CONTEXT: ViewSpec[DateArgs, OperationalContextView] = ViewSpec(
    name="get_operational_context",
    args=DateArgs,
    result=OperationalContextView,
    description="Customers by orders-based retention status (ACTIVE, AT_RISK, INACTIVE) and the AT_RISK ones by "
    "churn risk level at a date.",
    tool="get_operational_context",
    guidance="Use it after the alert decision to size the problem before building the priority queue.",
    build=get_operational_context,
    examples=({},),
)

GENERATE_BRIEF: ViewSpec[BriefArgs, BriefView] = ViewSpec(
    name="generate_brief",
    args=BriefArgs,
    result=BriefView,
    description="Manager-ready retention brief of a date (slack, email or markdown): alert, status distribution, "
    "risk breakdown, P1/P2/P3 counts with top customers, export and audit links.",
    tool="generate_brief",
    guidance="Use it after building the priority queue, to draft the message the team acts on.",
    build=generate_brief,
    cacheable=False,
    examples=({}, {"format": "markdown"}, {"format": "email"}),
)

BUILD_PRIORITY_QUEUE: ActionSpec[DateArgs, QueueCounts] = ActionSpec(
    name=QUEUE_ACTION,
    args=DateArgs,
    result=QueueCounts,
    description="Build the P1/P2/P3 retention priority queue of a date into customer_priority; returns tier counts.",
    tool="build_priority_queue",
    guidance="Use it when retention needs action (after the alert decision and context); rebuilding a date replaces "
    "its rows.",
    run=build_priority_queue,
    side_effect="replaces the run date's rows of customer_priority in the operations store",
    examples=({},),
)

EXPORT_AUDIENCE: ActionSpec[ExportArgs, ExportResult] = ActionSpec(
    name="export_audience",
    args=ExportArgs,
    result=ExportResult,
    description="Export one tier of a date's priority queue as a CSV audience file (building the queue first when "
    "none exists for the date).",
    tool="export_audience",
    guidance="Use it after building the priority queue, when the merchant wants the customers of a tier to act on.",
    run=run_export,
    side_effect="writes audience_<date>_<tier>.csv in the export folder",
    examples=({"tier": "P1"}, {"tier": "P2", "limit": 50}),
)
