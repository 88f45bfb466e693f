"""Materialising table rows into a database through the shared schema."""

from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from app.storage.bulk import bulk_insert, deferred_indexes, paused_gc
from app.storage.schema import DAILY_SUMMARY_TABLES, TABLES, metadata
from app.storage.summaries import summarize, write_rows
from app.world.world import Rows

__all__ = ["memory_engine", "sqlite_file_engine", "create_schema", "insert_rows"]


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


def memory_engine() -> Engine:
    """A private in-memory SQLite database shared by every connection of the engine."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    _sqlite_pragmas(engine)
    return engine


def sqlite_file_engine(path: str) -> Engine:
    """A SQLite file database (created if missing)."""
    engine = create_engine(f"sqlite:///{path}")
    _sqlite_pragmas(engine)
    return engine


def create_schema(engine: Engine) -> None:
    """Create every table and index that does not exist yet (idempotent)."""
    metadata.create_all(engine)


def insert_rows(engine: Engine | Connection, tables: Rows, *, summaries: bool = True) -> dict[str, int]:
    """Bulk-insert rows in dependency order, then their daily summaries, in one transaction: a
    fresh load, into empty tables, whose secondary indexes are built once the rows are in
    (:func:`~app.storage.bulk.deferred_indexes`).

    Accepts an engine (its own transaction) or a connection (the caller's transaction). Returns
    rows per base table.
    """
    if isinstance(engine, Connection):
        return _insert(engine, tables, summaries)
    with engine.begin() as conn:
        return _insert(conn, tables, summaries)


def _insert(conn: Connection, tables: Rows, summaries: bool) -> dict[str, int]:
    counts: dict[str, int] = {}
    # the summaries and the drivers' parameter rows are many small acyclic objects: no collection walks them
    with paused_gc(), deferred_indexes(conn, (*TABLES, *DAILY_SUMMARY_TABLES) if summaries else TABLES):
        for table in TABLES:
            rows = tables.get(table.name, [])
            bulk_insert(conn, table, rows)
            counts[table.name] = len(rows)
        if summaries:
            write_rows(conn, summarize(tables), bulk_insert)
    return counts
