"""Building blocks of every view: trends, argument and result bases, and shared small models.

Every headline metric is a :class:`Trend` (``current``, ``previous``, ``change_pct``,
``direction``). Money is in major units of the merchant's currency (:class:`MoneyResult`), rates are fractions (0.0523 = 5.23%).

Missing data is never reported as zero. A merchant without subscriptions or tickets still gets
every view: a :class:`Trend` the data cannot support has ``current`` null and an
``unavailable`` reason; any other field the data cannot support is null (or an empty list) and
named in the view's ``unavailable`` mapping (field -> reason), which the JSON omits when empty.
The text rendering says ``not available: <reason>`` in its place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from app.formatting import DEFAULT_CURRENCY, money, points, rate_pct

__all__ = [
    "not_available",
    "TimeRange",
    "WINDOW_DAYS",
    "Segment",
    "CustomerFilter",
    "CrisisType",
    "AnomalyMetric",
    "Direction",
    "Severity",
    "FLAT_BAND_PCT",
    "ViewModel",
    "Trend",
    "ViewArgs",
    "NoArgs",
    "ViewResult",
    "MoneyResult",
    "CategoryCount",
    "Alert",
    "TicketSnapshot",
    "TimelineEvent",
    "events_text",
    "categories_text",
]

TimeRange = Literal["24h", "3d", "7d", "30d", "60d", "90d"]
WINDOW_DAYS: dict[str, int] = {"24h": 1, "3d": 3, "7d": 7, "30d": 30, "60d": 60, "90d": 90}
"""Days in each time range; a window is the half-open interval ``(as_of - days, as_of]``."""

Segment = Literal["high_value", "at_risk", "new", "churned"]
CustomerFilter = Literal[
    "all", "active", "high_value", "at_risk", "new", "churned", "order_active", "order_at_risk", "order_inactive"
]
CrisisType = Literal["auto", "churn", "support", "shipping", "payment", "acquisition", "orders", "refunds"]
AnomalyMetric = Literal[
    "new_subscribers",
    "cancellations",
    "tickets",
    "shipping_tickets",
    "failed_payments",
    "orders",
    "refunds",
    "marketing_spend",
    "visitors",
]
Direction = Literal["up", "down", "flat"]
Severity = Literal["none", "low", "medium", "high", "critical"]

FLAT_BAND_PCT = 1.0
"""Changes within +/-1% count as flat."""


def not_available(reason: str) -> str:
    """How view text shows a value the data cannot support: ``not available: <reason>``."""
    return f"not available: {reason}"


class ViewModel(BaseModel):
    """Base of every model inside a view: strict (unknown fields are errors) and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Trend(ViewModel):
    """A metric now and over the previous same-length window, read the way an analyst states it.

    ``change_pct`` is the relative change in percent units, rounded to one decimal; it is null
    when a percentage is meaningless: the previous value is zero or unknown, or the sign changed
    (``net growth -100, was +6``, never "down 1766.7%"). A rate (a fraction such as churn or the
    repeat-purchase rate, built with ``Trend.of(..., rate=True)``) also carries ``change_points``,
    the change in percentage points, and its text uses them ("up 10.4 points"), not "up 248%".
    ``unavailable`` gives the reason when the data cannot support the metric (then ``current`` is
    null: an unknown is never reported as zero).
    """

    current: float | None
    previous: float | None
    change_pct: float | None
    direction: Direction
    change_points: float | None = Field(default=None, description="for rates: current - previous in percentage points")
    unavailable: str | None = None

    @classmethod
    def of(
        cls, current: float | None, previous: float | None, unavailable: str | None = None, *, rate: bool = False
    ) -> Trend:
        """Build a trend; direction is flat within the +/-1% band (by sign when no percentage applies)."""
        if current is None or previous is None:
            return cls(current=current, previous=previous, change_pct=None, direction="flat", unavailable=unavailable)
        points = round((current - previous) * 100, 1) if rate else None
        if previous == 0 or current * previous < 0:
            change = None
            delta = current - previous
            direction: Direction = "up" if delta > 0 else ("down" if delta < 0 else "flat")
        else:
            change = round((current - previous) / abs(previous) * 100, 1)
            direction = "flat" if abs(change) <= FLAT_BAND_PCT else ("up" if change > 0 else "down")
        return cls(
            current=current,
            previous=previous,
            change_pct=change,
            direction=direction,
            change_points=points,
            unavailable=unavailable,
        )

    @classmethod
    def missing(cls, reason: str) -> Trend:
        """A metric the data cannot support, with the reason."""
        return cls(current=None, previous=None, change_pct=None, direction="flat", unavailable=reason)

    def describe(self, fmt: Callable[[float | None], str], since: str = "prior period") -> str:
        """``$52,340 (down 1.2% vs prior period, was $52,980)``; rates in points, sign changes as two values."""
        if self.unavailable:
            return not_available(self.unavailable)
        if self.current is None:
            return "n/a"
        if self.previous is None:
            return f"{fmt(self.current)} (no earlier figure to compare)"
        if self.change_points is not None:
            if self.direction == "flat" and self.change_points == 0:
                return f"{fmt(self.current)} (unchanged vs {since})"
            move = self.direction if self.direction != "flat" else ("up" if self.change_points > 0 else "down")
            return f"{fmt(self.current)} ({move} {points(self.change_points)} vs {since}, was {fmt(self.previous)})"
        if self.change_pct is None:
            return f"{fmt(self.current)} (was {fmt(self.previous)})"
        return f"{fmt(self.current)} ({self.direction} {abs(self.change_pct):.1f}% vs {since}, was {fmt(self.previous)})"


class ViewArgs(ViewModel):
    """Base of view argument models (strict: unknown arguments are errors)."""


class ViewResult(ViewModel):
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


class MoneyResult(ViewResult):
    """A view result holding money: amounts are in major units of ``currency`` (ISO 4217)."""

    currency: str = Field(default=DEFAULT_CURRENCY, description="ISO 4217 code of every money amount in this result")

    def money(self, value: float | None) -> str:
        """An amount of this result written in its currency (``£1,234``, ``¥4,500``)."""
        return money(value, self.currency)


class CategoryCount(ViewModel):
    category: str
    count: int
    share: float = Field(description="count / total, 4 decimals")


class Alert(ViewModel):
    severity: Literal["info", "warning", "critical"]
    metric: str
    message: str


class TicketSnapshot(ViewModel):
    created_24h: int | None
    open: int | None
    urgent: int | None = Field(description="open tickets with priority urgent")
    avg_first_response_hours: float | None = Field(description="over first responses in the last 7 days")
    unavailable: str | None = Field(default=None, description="why there are no ticket numbers (then all are null)")


class TimelineEvent(ViewModel):
    event_id: str
    day: dt.date
    days_from_as_of: int
    kind: str
    title: str
    impact: str


def events_text(events: list[TimelineEvent]) -> list[str]:
    return [f"  {e.day} ({e.days_from_as_of:+d}d) [{e.kind}, {e.impact}] {e.title}" for e in events]


def categories_text(items: list[CategoryCount]) -> str:
    return ", ".join(f"{c.category} {c.count} ({rate_pct(c.share, 0)})" for c in items) or "none"


# --------------------------------------------------------------------------- views


class NoArgs(ViewArgs):
    """The view takes no arguments."""
