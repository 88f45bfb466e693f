"""Writing side of production databases: init, store rows, refresh, info.

These are the library functions behind ``cjsim db ...`` (loading a generated world, which needs
the catalog, is :func:`app.providers.loading.load_world` above this layer). Each runs in one
transaction: a load,
import or refresh either completes (base rows, summaries, customer facts and the load-log entry
together) or leaves the database as it was.

A load writes through :mod:`app.storage.bulk`: COPY or plain executemany, secondary indexes
built once after the rows are in, daily summaries computed from the rows in memory (the same
code a refresh runs over the stored rows). On PostgreSQL the tables it writes are locked until
it commits, so views wait for a load instead of reading a half-built index.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ProviderError
from app.quality import load_quality_settings, run_checks
from app.quality.checks import with_import
from app.quality.store import save_report
from app.storage import queries as q
from app.storage.bulk import bulk_insert, deferred_indexes
from app.storage.customer_facts import drop_facts, fact_dates, materialize_facts
from app.storage.derived import DERIVED
from app.storage.health_tables import HEALTH_TABLES
from app.storage.migrations import (
    LATEST_VERSION,
    Migration,
    apply_migrations,
    check_schema,
    current_version,
    data_loads,
    load_stamp,
    record_load,
    stale_summaries,
)
from app.storage.schema import DAILY_SUMMARY_TABLES, FACT_TABLES, SUMMARY_TABLES, TABLES, customers, metadata
from app.storage.summaries import refresh_daily_summaries, summarize, write_rows
from app.storage.url import connection_error, make_engine, mask_url, parse_url
from app.world.world import Rows

__all__ = [
    "LoadReport",
    "writable_connection",
    "init_database",
    "store_rows",
    "prepare_target",
    "finish_load",
    "refresh_database",
    "database_info",
]


@dataclass
class LoadReport:
    """What a load, import or refresh wrote and how long it took."""

    kind: str
    source: str
    url: str
    rows: dict[str, int] = field(default_factory=dict)
    insert_seconds: float = 0.0
    """Writing the base rows."""
    summary_seconds: float = 0.0
    """Everything after: indexes, daily summaries, customer facts, load log, planner statistics."""
    total_seconds: float = 0.0
    facts_as_of: list[dt.date] = field(default_factory=list)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)
    """Imports: source lines read per file."""
    filtered: dict[str, int] = field(default_factory=dict)
    """Imports: lines a section's filter left out, per table."""
    reject_summary: str = ""
    """Imports: rejected rows counted by reason, with examples."""

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def lines_per_second(self) -> float:
        """Imports: source lines read per second of the whole command."""
        return sum(self.read.values()) / self.total_seconds if self.total_seconds else 0.0

    @property
    def rows_per_second(self) -> float:
        """Base rows per second of the base-row inserts alone."""
        return self.total_rows / self.insert_seconds if self.insert_seconds else 0.0

    @property
    def load_rows_per_second(self) -> float:
        """Base rows per second of the whole load, derived tables included."""
        return self.total_rows / self.total_seconds if self.total_seconds else 0.0


@contextmanager
def writable_connection(url: str | URL, *, create: bool = False, check: bool = True) -> Iterator[Connection]:
    """A connection in one transaction on a writable engine, errors as :class:`ProviderError`.

    Args:
        create: allow creating a new SQLite file (``db init``); otherwise the file must exist.
        check: require the current schema version.
    """
    parsed = parse_url(url)
    display = mask_url(parsed)
    if parsed.drivername == "sqlite" and not create and not Path(parsed.database or "").is_file():
        raise ProviderError(f"no SQLite database file at {parsed.database}; create it with `cjsim db init --url {display}`")
    engine = make_engine(parsed, read_only=False)
    try:
        try:
            conn = engine.connect()
        except SQLAlchemyError as exc:
            raise connection_error(exc, display) from None
        with conn:
            try:
                with conn.begin():
                    if check:
                        check_schema(conn, display)
                    yield conn
            except SQLAlchemyError as exc:
                raise connection_error(exc, display) from None
    finally:
        engine.dispose()


def init_database(url: str | URL) -> tuple[list[Migration], int]:
    """Create or migrate the schema (idempotent); returns the migrations applied and the version."""
    with writable_connection(url, create=True, check=False) as conn:
        applied = apply_migrations(conn)
    return applied, LATEST_VERSION


def _clear(conn: Connection) -> None:
    for table in (*reversed(SUMMARY_TABLES), *reversed(TABLES)):
        conn.execute(delete(table))


def _has_data(conn: Connection) -> bool:
    return q.has_rows(conn, customers)


def store_rows(
    conn: Connection,
    rows: Rows,
    *,
    kind: str,
    source: str,
    url: str,
    replace: bool = False,
    facts_as_of: list[dt.date] | None = None,
    rejected: int = 0,
) -> LoadReport:
    """Insert base rows and everything derived from them into an initialised database.

    Inside the caller's transaction: refuses a database that already holds data unless
    ``replace``; writes base rows and daily summaries, materialises customer facts at the latest
    activity date (plus ``facts_as_of``), and logs the load.
    """
    prepare_target(conn, url, replace=replace)
    report = LoadReport(kind=kind, source=source, url=url, rejected=rejected)
    t0 = time.perf_counter()
    for table in DAILY_SUMMARY_TABLES:
        conn.execute(delete(table))
    # Base-table indexes are back before customer facts are computed: those queries then run
    # with the same plans (and row order) as on any loaded database.
    with deferred_indexes(conn, (*TABLES, *DAILY_SUMMARY_TABLES)):
        for table in TABLES:
            table_rows = rows.get(table.name, [])
            bulk_insert(conn, table, table_rows)
            report.rows[table.name] = len(table_rows)
        report.insert_seconds = time.perf_counter() - t0
        write_rows(conn, summarize(rows), bulk_insert)
    finish_load(conn, report, facts_as_of)
    report.total_seconds = time.perf_counter() - t0
    report.summary_seconds = report.total_seconds - report.insert_seconds
    return report


def prepare_target(conn: Connection, url: str, *, replace: bool) -> None:
    """Refuse a database that already holds data (unless ``replace``: then empty it).

    Imports call this before opening any file, so a wrong target costs nothing.
    """
    if _has_data(conn):
        if not replace:
            n = q.count_where(conn, customers, [])
            raise ProviderError(
                f"database {url} already holds data ({n:,} customers); pass --replace to overwrite it"
            )
        _clear(conn)


def finish_load(conn: Connection, report: LoadReport, facts_as_of: list[dt.date] | None = None) -> None:
    """After the base rows are in: customer facts, the load-log entry and planner statistics."""
    report.facts_as_of = _materialize(conn, facts_as_of)
    accepted = report.total_rows if report.kind == "import" else None
    rejected = report.rejected if report.kind == "import" else None
    record_load(conn, report.kind, report.source, report.total_rows, accepted=accepted, rejected=rejected)
    _analyze(conn)
    _check_quality(conn, accepted, rejected)


def _check_quality(conn: Connection, accepted: int | None = None, rejected: int | None = None) -> None:
    """Run the data-quality checks at the data's latest day and store them under the load just logged.

    After ``ANALYZE``, so the checks' scans get the same plans a later query would.
    """
    stamp = load_stamp(conn)
    latest = q.latest_activity(conn)
    if stamp is None or latest is None:
        return
    settings = load_quality_settings()
    present = {t.name for t in TABLES}
    report = run_checks(conn, metadata.tables, latest, settings, present=present)
    if accepted is not None:
        report = with_import(report, accepted, rejected or 0, settings)
    save_report(conn, stamp[0], report)


def _analyze(conn: Connection) -> None:
    """Refresh the query planner's statistics of cjsim's tables after bulk writes.

    Table by table: a bare ``ANALYZE`` would also scan every other table (and schema) of the
    database, and two of them running at once on PostgreSQL can deadlock on the system catalogs.
    """
    prep = conn.dialect.identifier_preparer
    for table in (*TABLES, *SUMMARY_TABLES, *HEALTH_TABLES):
        conn.execute(text(f"ANALYZE {prep.quote(table.name)}"))


def _materialize(conn: Connection, extra: list[dt.date] | None) -> list[dt.date]:
    """Store customer facts at the latest activity date and ``extra`` dates (replacing all stored facts),
    then every registered derived family (:mod:`app.storage.derived`: customer health)."""
    dates = set(extra or [])
    latest = q.latest_activity(conn)
    if latest is not None:
        dates.add(latest)
    drop_facts(conn)
    for derived in DERIVED.values():
        derived.drop(conn)
    with deferred_indexes(conn, (*FACT_TABLES, *HEALTH_TABLES)):
        for day in sorted(dates):
            materialize_facts(conn, day)
        if latest is not None:
            first = q.earliest_activity(conn)
            for derived in DERIVED.values():
                derived.materialize(conn, latest, first)
    return sorted(dates)


def refresh_database(url: str | URL, as_of: list[dt.date] | None = None) -> LoadReport:
    """Recompute the daily summaries and customer facts from the base tables."""
    display = mask_url(parse_url(url))
    report = LoadReport(kind="refresh", source="base tables", url=display)
    with writable_connection(url) as conn:
        t0 = time.perf_counter()
        report.rows = refresh_daily_summaries(conn, bulk_insert)
        previous = fact_dates(conn)
        report.facts_as_of = _materialize(conn, as_of)
        record_load(conn, "refresh", "base tables", 0)
        _analyze(conn)
        _check_quality(conn)
        report.summary_seconds = report.total_seconds = time.perf_counter() - t0
        report.problems = [f"dropped customer facts of {d}" for d in sorted(previous - set(report.facts_as_of))]
    return report


def database_info(url: str | URL) -> dict[str, Any]:
    """Schema version, row counts, date range, fact dates and recent loads of a database."""
    display = mask_url(parse_url(url))
    engine = make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            return _info(conn, display)
    except SQLAlchemyError as exc:
        raise connection_error(exc, display) from None
    finally:
        engine.dispose()


def _info(conn: Connection, display: str) -> dict[str, Any]:
    """The info dict of one connection (see :func:`database_info`)."""
    version = current_version(conn)
    info: dict[str, Any] = {
        "url": display,
        "backend": conn.dialect.name,
        "schema_version": version,
        "latest_schema_version": LATEST_VERSION,
    }
    if version is None:
        info["problem"] = f"no cjsim schema; run `cjsim db init --url {display}`"
        return info
    if version != LATEST_VERSION:
        try:
            check_schema(conn, display)
        except ProviderError as exc:
            info["problem"] = str(exc)
            return info
    names = set(inspect(conn).get_table_names())
    info["row_counts"] = {
        t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
        for t in (*TABLES, *SUMMARY_TABLES)
        if t.name in names
    }
    earliest, latest = q.earliest_activity(conn), q.latest_activity(conn)
    info["date_range"] = {"first": earliest, "last": latest}
    info["default_as_of"] = latest
    info["facts_as_of"] = sorted(fact_dates(conn))
    stale = stale_summaries(conn)
    if stale:
        info["problem"] = f"summary tables are out of date ({stale}); run `cjsim db refresh --url {display}`"
    d = data_loads.c
    loads = conn.execute(
        select(d.kind, d.source, d.loaded_at, d.rows, d.accepted, d.rejected).order_by(d.load_id.desc()).limit(5)
    ).all()
    info["loads"] = [
        {"kind": k, "source": s, "loaded_at": t, "rows": n, "accepted": a, "rejected": r} for k, s, t, n, a, r in loads
    ]
    imports = [entry for entry in info["loads"] if entry["kind"] == "import"]
    info["last_import"] = imports[0] if imports else None
    info["load_time"] = loads[0][2] if loads else None
    return info
