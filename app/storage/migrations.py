"""Schema management of production databases: an append-only list of migrations.

Each migration has a version number; the versions applied to a database are recorded in its
``schema_version`` table. ``cjsim db init`` applies the missing ones (it is idempotent). A
provider refuses a database whose schema is missing or older (run ``cjsim db init``) or newer
than this cjsim knows (upgrade cjsim).

Rules for changing the schema: never edit or reorder a released migration; append a new one
that brings an existing database from the previous version to the new one.

The ``data_loads`` table logs every load, import and refresh (when, what, how many rows, and the
base-table row counts the summaries were computed from): its latest time is the data's *load
time*, which invalidates provider caches, and the row counts reveal summaries left stale by a
writer that bypassed cjsim.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, func, inspect, select
from sqlalchemy.engine import Connection

from app.errors import ProviderError
from app.quality.store import QUALITY_TABLES
from app.storage.health_tables import HEALTH_TABLES
from app.storage.schema import (
    DAILY_SUMMARY_TABLES,
    FACT_TABLES,
    ORDER_DAY_TABLES,
    ORDER_SUMMARY_TABLES,
    TABLES,
    customer_facts,
    refunds,
)

__all__ = [
    "Migration",
    "MIGRATIONS",
    "LATEST_VERSION",
    "admin_metadata",
    "schema_version",
    "data_loads",
    "current_version",
    "apply_migrations",
    "check_schema",
    "record_load",
    "version_table",
    "load_stamp",
    "base_row_counts",
    "stale_summaries",
]

admin_metadata = MetaData()

def version_table(name: str, metadata: MetaData) -> Table:
    """A table of applied migrations (version, description, applied_at), for any append-only schema."""
    return Table(
        name,
        metadata,
        Column("version", Integer, primary_key=True),
        Column("description", String(200), nullable=False),
        Column("applied_at", DateTime, nullable=False),
    )


schema_version = version_table("schema_version", admin_metadata)

data_loads = Table(
    "data_loads",
    admin_metadata,
    Column("load_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False, doc="load, import or refresh"),
    Column("source", Text, nullable=False, doc="what was loaded (scenario/merchant/seed or file names)"),
    Column("loaded_at", DateTime, nullable=False, doc="wall-clock time (UTC) the transaction ran"),
    Column("rows", Integer, nullable=False, doc="rows written to base tables"),
    Column("base_rows", Text, nullable=False, doc="JSON row counts of the base tables after the load"),
    Column("accepted", Integer, nullable=True, doc="imports: rows written to base tables (null for loads and refreshes)"),
    Column("rejected", Integer, nullable=True, doc="imports: source rows rejected with a reason"),
)


@dataclass(frozen=True)
class Migration:
    """One schema step: ``apply(conn)`` runs inside the migration transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _create(*tables: Table) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        for table in tables:
            table.create(conn, checkfirst=True)

    return apply


def _add_currency_and_refunds(conn: Connection) -> None:
    # Databases made by version 1 lack both; a fresh database got them from the current tables.
    if "currency" not in {c["name"] for c in inspect(conn).get_columns("merchants")}:
        conn.exec_driver_sql("ALTER TABLE merchants ADD COLUMN currency VARCHAR(3) NOT NULL DEFAULT 'USD'")
    refunds.create(conn, checkfirst=True)


def _add_import_counts(conn: Connection) -> None:
    # A database made before version 6 has data_loads without these; a fresh one got them in version 4.
    present = {c["name"] for c in inspect(conn).get_columns("data_loads")}
    for column in ("accepted", "rejected"):
        if column not in present:
            conn.exec_driver_sql(f"ALTER TABLE data_loads ADD COLUMN {column} INTEGER")


def _add_order_summaries(conn: Connection) -> None:
    # Filled at once from the orders already stored, so an existing database needs no refresh.
    from app.storage.summaries import refresh_order_summaries

    _create(*ORDER_SUMMARY_TABLES)(conn)
    refresh_order_summaries(conn)


def _add_order_days(conn: Connection) -> None:
    # Filled at once from the orders already stored (as version 7), so the retention facts of an
    # existing database read it without a `cjsim db refresh`.
    from app.storage.bulk import bulk_insert
    from app.storage.summaries import refresh_order_days

    _create(*ORDER_DAY_TABLES)(conn)
    refresh_order_days(conn, bulk_insert)


def _add_last_order(conn: Connection) -> None:
    # Facts materialised before version 8 get the column filled from their orders, so the order
    # retention filters answer on them without a `cjsim db refresh`; a fresh table has it already.
    from app.storage.customer_facts import fill_last_orders

    if "last_order_on" not in {c["name"] for c in inspect(conn).get_columns(customer_facts.name)}:
        conn.exec_driver_sql(f"ALTER TABLE {customer_facts.name} ADD COLUMN last_order_on DATE")
        fill_last_orders(conn)
    for index in customer_facts.indexes:
        if index.name == "ix_customer_facts_last_order":
            index.create(conn, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "base tables: merchants, customers, subscriptions, orders, tickets, marketing, signals, timeline",
              _create(*TABLES)),
    Migration(2, "summary tables: subscription_daily, order_daily, ticket_daily, ticket_search", _create(*DAILY_SUMMARY_TABLES)),
    Migration(3, "customer facts: customer_facts, segment_facts, segment_signal_facts", _create(*FACT_TABLES)),
    Migration(4, "load log: data_loads", _create(data_loads)),
    Migration(5, "merchant currency (ISO 4217, default USD) and the refunds table", _add_currency_and_refunds),
    Migration(6, "load log: accepted and rejected rows of imports", _add_import_counts),
    Migration(7, "customers' first and second orders per day: order_customer_daily", _add_order_summaries),
    Migration(8, "customer facts: last charged order (order retention filters)", _add_last_order),
    Migration(9, "data quality per load: data_quality_runs, data_quality_results", _create(*QUALITY_TABLES)),
    Migration(10, "customers' order days with running totals (retention facts): customer_order_days", _add_order_days),
    Migration(11, "customer health per materialised date: customer_health", _create(*HEALTH_TABLES)),
)
"""Every migration, oldest first. Append only."""

LATEST_VERSION = MIGRATIONS[-1].version

assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1)), "versions must be 1..n"


def current_version(conn: Connection) -> int | None:
    """The highest applied version, or None if the database has no ``schema_version`` table."""
    if not inspect(conn).has_table(schema_version.name):
        return None
    return conn.execute(select(func.max(schema_version.c.version))).scalar() or 0


def apply_migrations(conn: Connection) -> list[Migration]:
    """Apply every missing migration inside the caller's transaction; returns those applied.

    Raises:
        ProviderError: the database has a newer schema than this cjsim knows.
    """
    schema_version.create(conn, checkfirst=True)
    version = current_version(conn) or 0
    if version > LATEST_VERSION:
        raise ProviderError(_newer(version))
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= version:
            continue
        migration.apply(conn)
        conn.execute(
            schema_version.insert().values(
                version=migration.version, description=migration.description, applied_at=_now()
            )
        )
        applied.append(migration)
    return applied


def _newer(version: int) -> str:
    return (
        f"the database has schema version {version}, newer than the {LATEST_VERSION} this cjsim supports; "
        "upgrade cjsim (pip install -U cjsim)"
    )


def check_schema(conn: Connection, display_url: str) -> int:
    """The schema version, or a :class:`ProviderError` naming the command that fixes the schema."""
    version = current_version(conn)
    init = f"`cjsim db init --url {display_url}`"
    if version is None:
        raise ProviderError(f"database {display_url} has no cjsim schema (no schema_version table); run {init}")
    if version > LATEST_VERSION:
        raise ProviderError(f"database {display_url}: {_newer(version)}")
    if version < LATEST_VERSION:
        raise ProviderError(
            f"database {display_url} has schema version {version}, older than the {LATEST_VERSION} this cjsim "
            f"needs; run {init} to migrate it"
        )
    return version


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def base_row_counts(conn: Connection) -> dict[str, int]:
    """Rows in every base table."""
    return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in TABLES}


def record_load(
    conn: Connection, kind: str, source: str, rows: int, *, accepted: int | None = None, rejected: int | None = None
) -> dt.datetime:
    """Log a load/import/refresh with the base row counts the summaries now reflect; returns its time.

    Imports also record the rows they accepted and rejected (``cjsim db info`` shows them).
    """
    now = _now()
    last = load_stamp(conn)
    if last is not None and last[1] >= now:
        now = last[1] + dt.timedelta(seconds=1)  # keep stamps strictly increasing
    conn.execute(
        data_loads.insert().values(
            kind=kind,
            source=source,
            loaded_at=now,
            rows=rows,
            base_rows=json.dumps(base_row_counts(conn)),
            accepted=accepted,
            rejected=rejected,
        )
    )
    return now


def load_stamp(conn: Connection) -> tuple[int, dt.datetime] | None:
    """(id, time) of the latest load/import/refresh, or None if the data was never loaded by cjsim."""
    row = conn.execute(
        select(data_loads.c.load_id, data_loads.c.loaded_at).order_by(data_loads.c.load_id.desc()).limit(1)
    ).first()
    return None if row is None else (int(row[0]), row[1])


def stale_summaries(conn: Connection) -> str | None:
    """Why the summary tables do not reflect the base tables, or None if they do."""
    counts = base_row_counts(conn)
    row = conn.execute(select(data_loads.c.base_rows).order_by(data_loads.c.load_id.desc()).limit(1)).first()
    if row is None:
        if any(counts.values()):
            return "the base tables hold data that cjsim never summarised"
        return None
    recorded = json.loads(row[0])
    changed = [f"{name}: {recorded.get(name, 0)} -> {n}" for name, n in counts.items() if recorded.get(name, 0) != n]
    if changed:
        return "rows changed since the last refresh (" + ", ".join(changed) + ")"
    return None
