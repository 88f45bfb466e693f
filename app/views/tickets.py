"""Support views: ticket metrics over a window, and ticket search."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import Field, field_validator
from sqlalchemy.engine import Connection

from app.formatting import count, hours
from app.models import TicketCategory
from app.storage import queries as q
from app.storage.schema import support_tickets
from app.storage.schema import support_tickets as tix
from app.views.base import (
    WINDOW_DAYS,
    CategoryCount,
    TimeRange,
    Trend,
    ViewArgs,
    ViewModel,
    ViewResult,
    categories_text,
    not_available,
)
from app.views.common import NO_TICKETS, ViewContext, _csat_trend, avg_hours, with_shares
from app.views.registry import ViewSpec
from app.world.world import end_of_day


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
                f"By category: {self._or_missing('by_category', categories_text(self.by_category))}",
                f"By priority: {self._or_missing('by_priority', categories_text(self.by_priority))}",
                f"Sentiment: {self._or_missing('sentiment', categories_text(self.sentiment))}",
            ]
        )



class TicketSummary(ViewModel):
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



def _search_words(query: str) -> list[str]:
    # '_' separates words as in category names (shipping_delay), so "shipping_delay" finds both words
    return query.lower().replace("_", " ").split()


class SearchTicketsArgs(ViewArgs):
    query: str = Field(min_length=1, max_length=200, description="Words to find in ticket subjects or categories.")
    limit: int = Field(default=10, ge=1, le=50, description="How many tickets (1-50).")

    @field_validator("query")
    @classmethod
    def _has_a_word(cls, query: str) -> str:
        if not _search_words(query):
            raise ValueError("give at least one word to search for; a blank query or lone '_' would match every ticket")
        return query

    def words(self) -> list[str]:
        """The lower-cased words every matching ticket contains, literally (``%`` and ``_`` included)."""
        return _search_words(self.query)


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




def ticket_summary(row: dict, as_of: dt.date) -> TicketSummary:
    """A ticket as known at the end of ``as_of`` (later responses and resolutions are hidden)."""
    cutoff = end_of_day(as_of)
    created = q.as_datetime(row["created_at"])
    first = row["first_response_at"] and q.as_datetime(row["first_response_at"])
    resolved = row["resolved_at"] and q.as_datetime(row["resolved_at"])
    first = first if first and first < cutoff else None
    resolved = resolved if resolved and resolved < cutoff else None
    status = "resolved" if resolved else ("pending" if first else "open")
    return TicketSummary(
        ticket_id=row["ticket_id"],
        customer_id=row["customer_id"],
        customer_name=row["customer_name"],
        created_at=created,
        category=row["category"],
        priority=row["priority"],
        status=status,
        subject=row["subject"],
        sentiment=row["sentiment"],
        first_response_hours=round((first - created).total_seconds() / 3600, 2) if first else None,
        csat_rating=row["csat_rating"] if resolved else None,
    )




def search_tickets(ctx: ViewContext, args: SearchTicketsArgs) -> TicketSearch:
    """Tickets up to ``as_of`` whose subject or category contains every query word, newest first."""
    if not ctx.has(tix):
        return TicketSearch(
            as_of=ctx.as_of,
            query=args.query,
            total=None,
            tickets=[],
            unavailable={"total": NO_TICKETS, "tickets": NO_TICKETS},
        )
    total, rows = q.search_ticket_rows(ctx.conn, args.words(), end_of_day(ctx.as_of), args.limit)
    return TicketSearch(
        as_of=ctx.as_of, query=args.query, total=total, tickets=[ticket_summary(r, ctx.as_of) for r in rows]
    )


TICKET_METRICS: ViewSpec[TicketMetricsArgs, TicketMetrics] = ViewSpec(
    name="ticket_metrics",
    args=TicketMetricsArgs,
    result=TicketMetrics,
    description="Ticket volume, speed, CSAT and mix.",
    tool="get_ticket_metrics",
    guidance="Use it for support volume, response times, CSAT and ticket categories.",
    build=ticket_metrics,
    examples=({"time_range": "7d"}, {"time_range": "24h"}, {"time_range": "30d", "category": "billing"}),
)


SEARCH_TICKETS: ViewSpec[SearchTicketsArgs, TicketSearch] = ViewSpec(
    name="search_tickets",
    args=SearchTicketsArgs,
    result=TicketSearch,
    description="Tickets matching words, newest first.",
    tool="search_tickets",
    guidance="Use it to find support tickets about a topic.",
    build=search_tickets,
    examples=({"query": "box"}, {"query": "billing", "limit": 3}),
)
