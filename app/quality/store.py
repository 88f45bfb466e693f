"""Quality results kept per load: the ``data_quality_runs`` and ``data_quality_results`` tables.

Every load, import and refresh stores the report of its checks under its ``data_loads`` id (the
tables are created by source-schema migration 9), so the history shows how the data's quality
changed from one load to the next. Results are never updated: a new load adds a new set.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Column, Date, Float, Integer, MetaData, String, Table, Text, select
from sqlalchemy.engine import Connection

from app.quality.checks import day_of
from app.quality.results import CheckResult, QualityReport, verdict_of

__all__ = [
    "quality_metadata",
    "quality_runs",
    "quality_results",
    "QUALITY_TABLES",
    "save_report",
    "stored_report",
    "stored_loads",
]

quality_metadata = MetaData()

quality_runs = Table(
    "data_quality_runs",
    quality_metadata,
    Column("load_id", Integer, primary_key=True, autoincrement=False, doc="the data_loads entry checked"),
    Column("as_of", Date, nullable=False, doc="the date the checks ran at (the load's latest activity)"),
    Column("verdict", String(10), nullable=False, doc="ok, caveat or poor"),
    Column("tables", Text, nullable=False, doc="JSON: table -> checked, empty or absent"),
)

quality_results = Table(
    "data_quality_results",
    quality_metadata,
    Column("load_id", Integer, primary_key=True, autoincrement=False),
    Column("position", Integer, primary_key=True, autoincrement=False, doc="order of the check in its report"),
    Column("dimension", String(20), nullable=False),
    Column("table_name", String(40), nullable=False),
    Column("check_name", String(200), nullable=False),
    Column("total", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("ratio", Float, nullable=True),
    Column("newest", Date, nullable=True),
    Column("age_days", Integer, nullable=True),
    Column("threshold", Float, nullable=True),
    Column("examples", Text, nullable=False, doc="JSON list of offending keys"),
    Column("level", String(10), nullable=False),
    Column("warning", Text, nullable=True),
)

QUALITY_TABLES: tuple[Table, ...] = (quality_runs, quality_results)


def save_report(conn: Connection, load_id: int, report: QualityReport) -> None:
    """Store ``report`` as the quality of load ``load_id`` (inside the load's transaction)."""
    conn.execute(
        quality_runs.insert().values(
            load_id=load_id, as_of=report.as_of, verdict=report.verdict, tables=json.dumps(report.tables)
        )
    )
    rows = [
        {
            "load_id": load_id,
            "position": i,
            "dimension": c.dimension,
            "table_name": c.table,
            "check_name": c.check,
            "total": c.total,
            "failed": c.failed,
            "ratio": c.ratio,
            "newest": c.newest,
            "age_days": c.age_days,
            "threshold": c.threshold,
            "examples": json.dumps(c.examples),
            "level": c.level,
            "warning": c.warning,
        }
        for i, c in enumerate(report.checks)
    ]
    if rows:
        conn.execute(quality_results.insert(), rows)


def stored_loads(conn: Connection) -> list[tuple[int, dt.date, str]]:
    """(load id, as_of, verdict) of every stored report, oldest first."""
    r = quality_runs.c
    return [
        (int(i), day_of(d), str(v))
        for i, d, v in conn.execute(select(r.load_id, r.as_of, r.verdict).order_by(r.load_id))
    ]


def stored_report(conn: Connection, load_id: int | None = None) -> tuple[int, QualityReport] | None:
    """The stored report of ``load_id`` (default: the latest load with one), or None."""
    r = quality_runs.c
    stmt = select(r.load_id, r.as_of, r.verdict, r.tables)
    stmt = stmt.where(r.load_id == load_id) if load_id is not None else stmt.order_by(r.load_id.desc()).limit(1)
    run = conn.execute(stmt).first()
    if run is None:
        return None
    q = quality_results.c
    rows = conn.execute(select(quality_results).where(q.load_id == run[0]).order_by(q.position)).mappings()
    checks = [_check(row) for row in rows]
    verdict, reasons = verdict_of(checks)
    report = QualityReport(
        as_of=day_of(run[1]), tables=json.loads(run[3]), checks=checks, verdict=verdict, reasons=reasons
    )
    return int(run[0]), report


def _check(row: Any) -> CheckResult:
    return CheckResult(
        dimension=row["dimension"], table=row["table_name"], check=row["check_name"], total=row["total"],
        failed=row["failed"], ratio=row["ratio"], newest=day_of(row["newest"]) if row["newest"] else None,
        age_days=row["age_days"], threshold=row["threshold"], examples=json.loads(row["examples"]),
        level=row["level"], warning=row["warning"],
    )  # fmt: skip
