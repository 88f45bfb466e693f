"""The business timeline: dated events around a day."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field

from app.views.base import TimelineEvent, ViewArgs, ViewResult, events_text
from app.views.common import ViewContext, timeline_events
from app.views.registry import ViewSpec


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
        return "\n".join([head, *(events_text(self.events) or ["  (no events)"])])



def business_timeline(ctx: ViewContext, args: BusinessTimelineArgs) -> BusinessTimeline:
    """Events from ``days_before`` before to ``days_after`` after ``as_of`` (future ones only if planned)."""
    lo = ctx.as_of - dt.timedelta(days=args.days_before)
    hi = ctx.as_of + dt.timedelta(days=args.days_after)
    return BusinessTimeline(
        as_of=ctx.as_of,
        days_before=args.days_before,
        days_after=args.days_after,
        events=timeline_events(ctx, lo, hi),
    )


BUSINESS_TIMELINE: ViewSpec[BusinessTimelineArgs, BusinessTimeline] = ViewSpec(
    name="business_timeline",
    args=BusinessTimelineArgs,
    result=BusinessTimeline,
    description="Dated business events.",
    tool="get_business_timeline",
    guidance="Use it for dated events (launches, outages, promotions) around today.",
    build=business_timeline,
    examples=({"days_before": 90, "days_after": 30},),
)
