"""Bulk writing for loads and imports: many rows, fast, inside the caller's one transaction.

* :func:`bulk_insert` (:func:`bulk_insert_columns`, :func:`bulk_writer`) writes rows with the
  driver's fastest path: ``COPY ... FROM STDIN`` on PostgreSQL (psycopg 3), a plain
  ``executemany`` of tuples on SQLite. Values are converted as
  the dialect's own bind processors convert them, so the stored text (SQLite dates and
  timestamps) is exactly what a SQLAlchemy insert writes and every query reads it back the same
  way.
* :func:`deferred_indexes` drops the secondary indexes (and, on PostgreSQL, the foreign keys)
  of empty tables and recreates them afterwards: building an index once from all rows is much
  cheaper than maintaining it row by row, and a foreign key re-added to a filled table is
  validated by one join instead of a trigger per row. Both are DDL inside the transaction, so a
  failed load still leaves the database as it was.
* :func:`tune_sqlite_for_load` sets per-connection pragmas for a writable SQLite connection.
* :func:`paused_gc` pauses the cyclic garbage collector while a derived table's rows are built.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter, methodcaller
from typing import Any

from sqlalchemy import Column, Table, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import ColumnDefault, CreateIndex, DropIndex

__all__ = ["bulk_insert", "bulk_insert_columns", "bulk_writer", "deferred_indexes", "tune_sqlite_for_load", "paused_gc"]

SQLITE_LOAD_PRAGMAS = (
    "PRAGMA cache_size=-262144",  # 256 MiB page cache: index builds and the facts sort stay in memory
    "PRAGMA temp_store=MEMORY",
    "PRAGMA synchronous=NORMAL",
)
"""Pragmas of writable SQLite connections. The rollback journal stays on: a load is one
transaction and must be able to roll back."""


PG_INDEX_BUILD_MEMORY = "256MB"
"""Sort memory of the load transaction's index builds and foreign-key checks on PostgreSQL
(``SET LOCAL``: this transaction only), so 1M-row indexes sort in memory."""


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside the block (restored after it).

    Building hundreds of thousands of small objects (one row each) triggers a collection every few
    hundred allocations, and each full one walks the whole heap: at 100k customers that is more than
    half the time of materialising health. The objects made in the block hold no reference cycles
    worth collecting early; reference counting still frees them.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def tune_sqlite_for_load(dbapi_conn: Any) -> None:
    """Apply :data:`SQLITE_LOAD_PRAGMAS` to a raw sqlite3 connection (writable engines only)."""
    cur = dbapi_conn.cursor()
    for pragma in SQLITE_LOAD_PRAGMAS:
        cur.execute(pragma)
    cur.close()


_DAY, _MOMENT, _WHOLE_SECOND = dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5, 6), dt.datetime(2024, 1, 2, 3, 4, 5)
_FAST: tuple[tuple[Callable[[Any], Any], tuple[Any, ...]], ...] = (
    (dt.date.isoformat, (_DAY, _MOMENT)),  # a DATE keeps the date part of a datetime, as SQLAlchemy's does
    (methodcaller("isoformat", " ", "microseconds"), (_MOMENT, _WHOLE_SECOND)),
    (int, (True, False)),
)
"""C-level stand-ins for bind processors, each with the values it must convert exactly like the
processor; one is used only when it does."""


def _fast_equivalent(proc: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
    for fast, samples in _FAST:
        try:
            if all(type(fast(v)) is type(proc(v)) and fast(v) == proc(v) for v in samples):
                return fast
        except (TypeError, ValueError, AttributeError):
            continue
    return None


def _apply(proc: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    if None in values:
        return [None if v is None else proc(v) for v in values]
    return list(map(proc, values))


def _convert(conn: Connection, column: Column, values: list[Any]) -> Sequence[Any]:
    """One column's values as the database driver should receive them."""
    proc = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if proc is None:
        return values
    fast = _fast_equivalent(proc)
    if fast is not None:
        try:
            return _apply(fast, values)
        except (TypeError, ValueError, AttributeError):
            pass  # a value of another type (a date in a timestamp column): the processor handles it
    return _apply(proc, values)


def _column(rows: Sequence[Mapping[str, Any]], column: Column[Any]) -> list[Any]:
    try:
        return list(map(itemgetter(column.name), rows))
    except KeyError:  # a column left out of the row dicts takes its default (else NULL), as in an insert()
        default = column.default.arg if isinstance(column.default, ColumnDefault) and column.default.is_scalar else None
        return [r.get(column.name, default) for r in rows]


def bulk_insert(conn: Connection, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert row dicts (schema column names as keys) into ``table`` in the caller's transaction."""
    rows = rows if isinstance(rows, Sequence) else list(rows)
    if rows:
        bulk_insert_columns(conn, table, {c.name: _column(rows, c) for c in table.columns})


def bulk_insert_columns(conn: Connection, table: Table, columns: Mapping[str, list[Any]]) -> None:
    """Insert rows given column by column (every column of ``table``, equal lengths).

    Values are converted a whole column at a time and zipped into row tuples in C, so the cost
    per row stays in the driver.
    """
    if columns[next(iter(table.columns)).name]:  # equal lengths: no rows, no statement
        with bulk_writer(conn, table) as write:
            write(columns)


@contextmanager
def bulk_writer(conn: Connection, table: Table) -> Iterator[Callable[[Mapping[str, list[Any]]], None]]:
    """A function inserting rows given column by column (as :func:`bulk_insert_columns`), batch after
    batch, through one statement: on PostgreSQL one ``COPY`` stays open across the batches and a
    thread sends the rows, so the server stores (and indexes) a batch while the caller computes the
    next. Nothing else may run on ``conn`` inside the block; the rows are all written when it ends.
    """
    names = [c.name for c in table.columns]
    quoted = ", ".join(f'"{c}"' for c in names)
    copy = conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
    if copy:
        statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    else:
        statement = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join("?" * len(names))})'
    raw: Any = conn.connection.dbapi_connection  # the driver's own connection (COPY is psycopg's)

    def rows(columns: Mapping[str, list[Any]]) -> Iterator[tuple[Any, ...]]:
        values = [_convert(conn, table.c[name], columns[name]) for name in names]
        return zip(*values, strict=True)

    dbapi = conn.dialect.loaded_dbapi
    try:
        if copy:
            from psycopg.copy import QueuedLibpqWriter  # a COPY connection is psycopg's

            # a thread sends the rows, so the caller formats (or computes) more while the server stores them
            with raw.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as stream:
                def write_copy(columns: Mapping[str, list[Any]]) -> None:
                    for row in rows(columns):
                        stream.write_row(row)

                yield write_copy
            return

        def write_many(columns: Mapping[str, list[Any]]) -> None:
            if columns[names[0]]:
                cur = raw.cursor()
                try:
                    cur.executemany(statement, rows(columns))
                finally:
                    cur.close()

        yield write_many
    except dbapi.Error as exc:  # raised by the raw driver: give callers SQLAlchemy's error, as an insert() would
        raise DBAPIError.instance(statement, None, exc, dbapi.Error, dialect=conn.dialect) from exc


@contextmanager
def deferred_indexes(conn: Connection, tables: Sequence[Table]) -> Iterator[None]:
    """Without the secondary indexes (and PostgreSQL foreign keys) of ``tables`` while inside.

    Meant for tables that are empty on entry. On exit the indexes are created and the foreign
    keys re-added (validating every row); on an exception nothing is recreated, since the
    caller's transaction is rolled back anyway.
    """
    indexes = [idx for table in tables for idx in sorted(table.indexes, key=lambda i: i.name or "")]
    foreign_keys = []
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{PG_INDEX_BUILD_MEMORY}'")
        foreign_keys = _drop_foreign_keys(conn, tables)
    for idx in indexes:
        conn.execute(DropIndex(idx, if_exists=True))
    yield
    for idx in indexes:
        conn.execute(CreateIndex(idx))
    for statement in foreign_keys:
        conn.exec_driver_sql(statement)


def _drop_foreign_keys(conn: Connection, tables: Sequence[Table]) -> list[str]:
    """Drop the foreign keys of ``tables`` as the database has them; returns the statements re-adding them."""
    insp = inspect(conn)
    prep = conn.dialect.identifier_preparer
    re_add = []
    for table in tables:
        for fk in insp.get_foreign_keys(table.name):
            name = prep.quote(str(fk["name"]))
            conn.exec_driver_sql(f"ALTER TABLE {prep.quote(table.name)} DROP CONSTRAINT {name}")
            cols = ", ".join(prep.quote(c) for c in fk["constrained_columns"])
            ref_cols = ", ".join(prep.quote(c) for c in fk["referred_columns"])
            re_add.append(
                f"ALTER TABLE {prep.quote(table.name)} ADD CONSTRAINT {name} FOREIGN KEY ({cols}) "
                f"REFERENCES {prep.quote(fk['referred_table'])} ({ref_cols})"
            )
    return re_add
