"""Materialising table rows into a database through the shared schema."""

from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from app.world.schema import TABLES, metadata
from app.world.world import Rows

__all__ = ["memory_engine", "sqlite_file_engine", "create_schema", "insert_rows"]

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


def insert_rows(engine: Engine, tables: Rows) -> dict[str, int]:
    """Bulk-insert rows in dependency order in one transaction; returns rows per table."""
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        for table in TABLES:
            rows = tables.get(table.name, [])
            for i in range(0, len(rows), BATCH):
                conn.execute(table.insert(), rows[i : i + BATCH])
            counts[table.name] = len(rows)
    return counts
