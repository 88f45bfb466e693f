"""Writing side of production databases: init, load a synthetic world, refresh, info.

These are the library functions behind ``cjsim db ...``. Each runs in one transaction: a load,
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ProviderError
from app.models import BusinessStage, StressLevel
from app.storage import queries as q
from app.storage.bulk import bulk_insert, deferred_indexes
from app.storage.customer_facts import drop_facts, fact_dates, materialize_facts
from app.storage.migrations import (
    LATEST_VERSION,
    Migration,
    apply_migrations,
    check_schema,
    current_version,
    data_loads,
    record_load,
    stale_summaries,
)
from app.storage.schema import DAILY_SUMMARY_TABLES, FACT_TABLES, SUMMARY_TABLES, TABLES, customers
from app.storage.summaries import refresh_daily_summaries, summarize, write_rows
from app.storage.url import connection_error, make_engine, mask_url, parse_url
from app.world.world import Rows

if TYPE_CHECKING:
    from app.catalog import Catalog

__all__ = [
    "LoadReport",
    "writable_connection",
    "init_database",
    "load_world",
    "store_rows",
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

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

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
) -> LoadReport:
    """Insert base rows and everything derived from them into an initialised database.

    Inside the caller's transaction: refuses a database that already holds data unless
    ``replace``; writes base rows and daily summaries, materialises customer facts at the latest
    activity date (plus ``facts_as_of``), and logs the load.
    """
    if _has_data(conn):
        if not replace:
            n = q.count_where(conn, customers, [])
            raise ProviderError(
                f"database {url} already holds data ({n:,} customers); pass --replace to overwrite it"
            )
        _clear(conn)
    report = LoadReport(kind=kind, source=source, url=url)
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
    report.facts_as_of = _materialize(conn, facts_as_of)
    record_load(conn, kind, source, report.total_rows)
    _analyze(conn)
    report.total_seconds = time.perf_counter() - t0
    report.summary_seconds = report.total_seconds - report.insert_seconds
    return report


def _analyze(conn: Connection) -> None:
    """Refresh the query planner's statistics of cjsim's tables after bulk writes.

    Table by table: a bare ``ANALYZE`` would also scan every other table (and schema) of the
    database, and two of them running at once on PostgreSQL can deadlock on the system catalogs.
    """
    prep = conn.dialect.identifier_preparer
    for table in (*TABLES, *SUMMARY_TABLES):
        conn.execute(text(f"ANALYZE {prep.quote(table.name)}"))


def _materialize(conn: Connection, extra: list[dt.date] | None) -> list[dt.date]:
    """Store customer facts at the latest activity date and ``extra`` dates (replacing all stored facts)."""
    dates = set(extra or [])
    latest = q.latest_activity(conn)
    if latest is not None:
        dates.add(latest)
    drop_facts(conn)
    with deferred_indexes(conn, FACT_TABLES):
        for day in sorted(dates):
            materialize_facts(conn, day)
    return sorted(dates)


def load_world(
    url: str | URL,
    scenario: str,
    merchant: str,
    *,
    seed: int = 0,
    stage: BusinessStage | str | None = None,
    stress: StressLevel | str | None = None,
    subscribers: int | None = None,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
    catalog: Catalog | None = None,
) -> LoadReport:
    """Generate a synthetic world and store it as a database exported at its ``as_of`` would hold it.

    ``scenario`` and ``merchant`` are names in ``catalog`` (default: ``Catalog.default()``).
    """
    from app.catalog import Catalog
    from app.errors import InvalidArgumentError
    from app.world.context import resolve_context
    from app.world.generator import generate_world
    from app.world.world import WorldSpec

    catalog = catalog or Catalog.default()
    sc, persona = catalog.scenarios.get(scenario), catalog.personas.get(merchant)
    if seed < 0:
        raise InvalidArgumentError(f"seed must be a non-negative integer, got {seed}")
    if subscribers is not None and not 50 <= subscribers <= 1_000_000:
        raise InvalidArgumentError(f"subscribers must be between 50 and 1,000,000, got {subscribers}")
    context = resolve_context(persona, sc, {"business_stage": stage, "stress_level": stress})
    t0 = time.perf_counter()
    world = generate_world(WorldSpec(scenario=sc, persona=persona, context=context, seed=seed, subscribers=subscribers))
    generated = time.perf_counter() - t0
    if progress:
        progress(f"generated {sum(len(r) for r in world.tables.values()):,} rows in {generated:.1f}s")
    source = f"scenario={sc.id} merchant={persona.id} seed={seed}"
    if subscribers:
        source += f" subscribers={subscribers}"
    display = mask_url(parse_url(url))
    with writable_connection(url) as conn:
        return store_rows(conn, world.snapshot(), kind="load", source=source, url=display, replace=replace)


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
    loads = conn.execute(
        select(data_loads.c.kind, data_loads.c.source, data_loads.c.loaded_at, data_loads.c.rows)
        .order_by(data_loads.c.load_id.desc())
        .limit(5)
    ).all()
    info["loads"] = [{"kind": k, "source": s, "loaded_at": t, "rows": n} for k, s, t, n in loads]
    info["load_time"] = loads[0][2] if loads else None
    return info
