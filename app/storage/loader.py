"""Materialising table rows into a database through the shared schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from app.storage.schema import TABLES, metadata
from app.storage.summaries import summarize, write_rows
from app.world.world import Rows

__all__ = ["memory_engine", "sqlite_file_engine", "create_schema", "insert_rows", "insert_table"]

BATCH = 20_000


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


def insert_table(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Bulk-insert rows into one table: ``COPY`` on PostgreSQL (psycopg 3), batched executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        columns = [c.name for c in table.columns]
        raw: Any = conn.connection.dbapi_connection  # psycopg's own connection, for COPY
        with raw.cursor() as cur:
            names = ", ".join(f'"{c}"' for c in columns)
            with cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for r in rows:
                    copy.write_row([r[c] for c in columns])
        return
    for i in range(0, len(rows), BATCH):
        conn.execute(table.insert(), rows[i : i + BATCH])


def insert_rows(engine: Engine | Connection, tables: Rows, *, summaries: bool = True) -> dict[str, int]:
    """Bulk-insert rows in dependency order, then their daily summaries, in one transaction.

    Accepts an engine (its own transaction) or a connection (the caller's transaction). Returns
    rows per base table.
    """
    if isinstance(engine, Connection):
        return _insert(engine, tables, summaries)
    with engine.begin() as conn:
        return _insert(conn, tables, summaries)


def _insert(conn: Connection, tables: Rows, summaries: bool) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in TABLES:
        rows = tables.get(table.name, [])
        insert_table(conn, table, rows)
        counts[table.name] = len(rows)
    if summaries:
        write_rows(conn, summarize(tables), insert_table)
    return counts
