"""The ``data_quality`` view: how trustworthy the source tables are at a date, and which views that touches.

It reports every check of :mod:`app.quality` (completeness, validity, consistency, uniqueness,
timeliness per table), the warnings, an overall verdict (``ok``, ``caveat`` or ``poor``) with its
reasons, and the views that read an affected table, so CJ knows which answers need a caveat.

A database loaded by cjsim stored the checks of its latest load at the load's date; asked at that
date the view reads them, at any other date it runs the checks (the same SQL, so both agree). An
import's rejected source rows count as a check of their own (table ``import``). A generated world
(the DataAgent) keeps no load log: its checks run on first use.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from app.errors import CJSimError
from app.quality import CheckResult, QualityReport, load_quality_settings, run_checks
from app.quality.checks import IMPORT_TABLE, with_import
from app.quality.results import Verdict
from app.quality.store import quality_runs, stored_report
from app.storage.migrations import data_loads
from app.storage.schema import TABLE_NAMES, metadata
from app.views.base import NoArgs, ViewResult
from app.views.common import ViewContext
from app.views.provider import DataProvider
from app.views.registry import VIEWS, ViewSpec

__all__ = ["DataQuality", "DATA_QUALITY", "VIEW_TABLES", "quality_at", "affected_views", "quality_verdict"]

VIEW_TABLES: dict[str, tuple[str, ...]] = {
    "daily_briefing": ("customers", "subscriptions", "orders", "refunds", "support_tickets", "marketing_daily"),
    "ticket_metrics": ("support_tickets",),
    "financial_metrics": ("subscriptions", "orders", "refunds", "marketing_daily"),
    "order_metrics": ("customers", "orders", "refunds"),
    "customer_segment": ("customers", "subscriptions", "orders", "support_tickets", "customer_signals"),
    "customer_list": ("customers", "subscriptions", "orders", "customer_signals"),
    "customer_profile": ("customers", "subscriptions", "orders", "refunds", "support_tickets", "customer_signals"),
    "search_tickets": ("support_tickets",),
    "business_timeline": ("timeline_events",),
    "get_notes": (),
    "data_quality": (),
}
"""Source tables each view reads. A view not listed (a newer one) counts as reading every table."""


def affected_views(tables: set[str], views: list[str]) -> list[str]:
    """The views among ``views`` that read one of ``tables`` (an import's rejects affect them all)."""
    if not tables:
        return []
    every = IMPORT_TABLE in tables
    return [v for v in views if every or set(VIEW_TABLES.get(v, TABLE_NAMES)) & tables]


class DataQuality(ViewResult):
    """Data-quality checks of the source tables at ``as_of`` with the verdict and what it affects."""

    view: ClassVar[str] = "data_quality"
    verdict: Verdict = Field(description="ok (no warning), caveat (warnings) or poor (a check far below its threshold)")
    reasons: list[str] = Field(description="the warnings, poor ones first")
    tables: dict[str, str] = Field(description="table -> checked, empty or absent (empty and absent are not failures)")
    affected_tables: list[str] = Field(description="tables with a warning")
    affected_views: list[str] = Field(description="views reading an affected table: answers from them need a caveat")
    checks: list[CheckResult]

    def to_text(self) -> str:
        head = f"Data quality as of {self.as_of}: {self.verdict}"
        warned = [c for c in self.checks if c.level != "ok"]
        head += f" ({len(warned)} warning{'s' if len(warned) != 1 else ''} from {len(self.checks)} checks)"
        lines = [head, *(f"  - {r}" for r in self.reasons)]
        if self.affected_views:
            lines.append("  Answers from these views need a caveat: " + ", ".join(self.affected_views))
        quiet = [f"{t} {s}" for t, s in self.tables.items() if s != "checked"]
        if quiet:
            lines.append("  Not checked (no rows, not a failure): " + ", ".join(quiet))
        return "\n".join(lines)


def _latest_load(conn: Connection) -> tuple[int, str, int | None, int | None] | None:
    d = data_loads.c
    row = conn.execute(select(d.load_id, d.kind, d.accepted, d.rejected).order_by(d.load_id.desc()).limit(1)).first()
    return None if row is None else (int(row[0]), str(row[1]), row[2], row[3])


def quality_at(conn: Connection, as_of: dt.date) -> QualityReport:
    """The quality report at ``as_of``: the latest load's stored one when it was taken at that date,
    else the checks run now (plus the latest import's rejected rows)."""
    names = set(inspect(conn).get_table_names())
    load = _latest_load(conn) if data_loads.name in names else None
    if load is not None and quality_runs.name in names:
        stored = stored_report(conn, load[0])
        if stored is not None and stored[1].as_of == as_of:
            return stored[1]
    settings = load_quality_settings()
    report = run_checks(conn, metadata.tables, as_of, settings, present=names)
    if load is not None and load[1] == "import" and load[2] is not None:
        report = with_import(report, load[2], load[3] or 0, settings)
    return report


def data_quality(ctx: ViewContext, args: NoArgs) -> DataQuality:
    """Build the view from :func:`quality_at`."""
    report = quality_at(ctx.conn, ctx.as_of)
    affected = set(report.affected_tables)
    return DataQuality(
        as_of=ctx.as_of, verdict=report.verdict, reasons=report.reasons, tables=dict(report.tables),
        affected_tables=sorted(affected), affected_views=affected_views(affected, list(VIEWS)), checks=report.checks,
    )  # fmt: skip


DATA_QUALITY = ViewSpec(
    name="data_quality",
    args=NoArgs,
    result=DataQuality,
    description="Data quality of the merchant's tables: completeness, validity, consistency, uniqueness, freshness.",
    tool="get_data_quality",
    guidance=(
        "Use it when the merchant asks whether the data can be trusted, or before answering when the data may be "
        "poor; when the verdict is not ok, say so in answers that use the affected views, naming the problem."
    ),
    build=data_quality,
)


def quality_verdict(provider: DataProvider) -> str:
    """The provider's data_quality verdict at its default date, or ``unknown`` when it cannot tell
    (a provider without source tables, a database it cannot read)."""
    try:
        return provider.get(DATA_QUALITY).verdict
    except CJSimError:
        return "unknown"
