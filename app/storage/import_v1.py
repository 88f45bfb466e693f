"""Version-1 mappings through the staged pipeline: rows converted in Python, linked and written from DuckDB.

Each file is read once, streaming; every record is converted by :mod:`app.storage.csv_reader`
(version 1's cell grammar: renames, date formats, money with currency symbols and accounting
negatives, value maps, defaults, the row rules) and appended to a staging file, so no file is
ever held in memory. DuckDB then loads the converted rows (``o_<table>``), makes ids unique,
checks references (subscriptions, orders and tickets to customers, orders to subscriptions),
derives customers from activity (``f_customers``), and the rows reach the target through the
same batched writer as version 2 (:func:`app.storage.import_v2.write_staged`).

Rejected rows keep version 1's reasons, line numbers and order: conversion problems file by
file, then duplicates, unknown references and customers without activity.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, Integer

from app.errors import DataFileError, InvalidArgumentError
from app.storage.csv_reader import convert_rows
from app.storage.expressions import sql_text
from app.storage.import_plan import KEY_COLUMN
from app.storage.import_problems import Reject, RejectLog
from app.storage.mapping import FILE_OPTIONS, IMPORT_TABLES, ImportMapping
from app.storage.schema import metadata

__all__ = ["stage_v1"]

def _sql_type(column: Any) -> str:
    t = column.type
    if isinstance(t, DateTime):
        return "TIMESTAMP"
    if isinstance(t, Date):
        return "DATE"
    if isinstance(t, Integer | BigInteger):
        return "BIGINT"
    return "VARCHAR"


def stage_v1(
    duck: Any, workdir: Path, mapping: ImportMapping, mapping_path: Path, files: dict[str, Path], log: RejectLog
) -> dict[str, int]:
    """Convert, stage and link the files (table -> CSV) of a version-1 import; returns rows read per table.

    Leaves ``f_customers`` and ``o_<table>`` of every other given table in ``duck``, ready for
    :func:`app.storage.import_v2.final_selects`. Rejected rows go to ``log``.

    Raises:
        DataFileError: a mapping or file mistake (before the file's first row is converted).
        InvalidArgumentError: a file no section maps, or a table imports cannot fill.
    """
    source = str(mapping_path)
    unknown = set(files) - set(IMPORT_TABLES)
    if unknown:
        raise InvalidArgumentError(f"cannot import {', '.join(sorted(unknown))}; importable: {', '.join(IMPORT_TABLES)}")
    for name in files:
        if mapping.table(name) is None:
            raise DataFileError(
                f"{source}: no '{name}' section, but {FILE_OPTIONS[name]} {files[name]} was given; add a mapping for it"
            )
    read = {}
    for name in IMPORT_TABLES:
        if name in files:
            rows = convert_rows(name, files[name], mapping, source, log.add)
            read[name] = _stage_rows(duck, workdir, name, rows)
        else:
            _stage_rows(duck, workdir, name, iter(()))
    _link(duck, mapping, files, log)
    return read


def _stage_rows(duck: Any, workdir: Path, table: str, rows: Iterator[tuple[int, dict[str, Any]]]) -> int:
    """Write converted rows to a staging CSV and load it as ``o_<table>``; returns how many."""
    columns = list(metadata.tables[table].columns)
    path = workdir / f"v1_{table}.csv"
    count = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["_line", *(f"c{i}" for i in range(len(columns)))])
        for line, row in rows:
            # Text is written behind a "=" so that an empty text stays distinct from a missing value.
            writer.writerow([line, *(_cell(row.get(c.name), _sql_type(c)) for c in columns)])
            count += 1
    types = "{'_line': 'BIGINT', " + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(columns))) + "}"
    selects = ", ".join(
        f'substr(c{i}, 2) AS "{c.name}"' if _sql_type(c) == "VARCHAR" else f'CAST(nullif(c{i}, \'\') AS {_sql_type(c)}) AS "{c.name}"'
        for i, c in enumerate(columns)
    )
    duck.execute(
        f"CREATE TABLE o_{table} AS SELECT _line, {selects} FROM read_csv({sql_text(str(path))}, header = true, "
        f"columns = {types}, delim = ',', quote = '\"', escape = '\"', auto_detect = false, strict_mode = true)"
    )
    path.unlink()
    return count


def _cell(value: Any, sql_type: str) -> Any:
    if value is None:
        return ""
    return "=" + value if sql_type == "VARCHAR" else value


def _rejects(duck: Any, sql: str, file: str, table: str, reason: Any, log: RejectLog) -> None:
    """Log the rows ``sql`` selects (``_line`` first) with ``reason(row)``, then delete them from ``o_<table>``."""
    lines: list[int] = []
    cur = duck.execute(sql)
    while batch := cur.fetchmany(10_000):
        log.add_many(Reject(file, int(row[0]), reason(row), table) for row in batch)
        lines.extend(int(row[0]) for row in batch)
    if lines:
        duck.execute("CREATE OR REPLACE TEMP TABLE gone AS SELECT unnest(?) AS _line", [lines])
        duck.execute(f"DELETE FROM o_{table} WHERE _line IN (SELECT _line FROM gone)")


def _link(duck: Any, mapping: ImportMapping, files: dict[str, Path], log: RejectLog) -> None:
    """Version 1's rules across rows and files, in its order; then ``f_customers``."""
    given = [t for t in IMPORT_TABLES if t in files]
    for table in given:
        key = KEY_COLUMN[table]
        _rejects(
            duck,
            f'SELECT x._line, x."{key}", d.first FROM o_{table} x JOIN (SELECT "{key}" AS k, min(_line) AS first '
            f'FROM o_{table} GROUP BY 1) d ON d.k = x."{key}" WHERE x._line > d.first ORDER BY x._line',
            files[table].name, table, lambda r, key=key: f"duplicate {key} {r[1]!r} (first on line {r[2]})", log,
        )
    hint = "" if "customers" in files else " (enable derive.customers or pass --customers)"
    for table in ("subscriptions", "orders", "support_tickets"):
        if table not in files:
            continue
        cases = []
        if not mapping.derive.customers:
            cases.append("WHEN customer_id NOT IN (SELECT customer_id FROM o_customers) THEN 'customer'")
        if table == "orders":
            cases.append("WHEN subscription_id IS NOT NULL AND subscription_id NOT IN "
                         "(SELECT subscription_id FROM o_subscriptions) THEN 'subscription'")
        if not cases:
            continue
        label = f"CASE {' '.join(cases)} END"
        _rejects(
            duck,
            f"SELECT _line, {label}, CASE {label} WHEN 'customer' THEN customer_id ELSE "
            f"{'subscription_id' if table == 'orders' else 'NULL'} END FROM o_{table} WHERE {label} IS NOT NULL ORDER BY _line",
            files[table].name, table, lambda r: f"unknown {r[1]} {r[2]!r}{hint if r[1] == 'customer' else ''}", log,
        )
    duck.execute(
        "CREATE TABLE act AS SELECT customer_id, min(day) AS first_day FROM (SELECT customer_id, started_on AS day "
        "FROM o_subscriptions UNION ALL SELECT customer_id, ordered_on FROM o_orders UNION ALL "
        "SELECT customer_id, CAST(created_at AS DATE) FROM o_support_tickets) GROUP BY 1"
    )
    if "customers" in files:
        _rejects(
            duck,
            "SELECT _line FROM o_customers WHERE created_on IS NULL AND customer_id NOT IN (SELECT customer_id FROM act) "
            "ORDER BY _line",
            files["customers"].name, "customers", lambda r: "created_on is empty and the customer has no activity", log,
        )
    merchant = sql_text(mapping.merchant.merchant_id)
    duck.execute(
        f"CREATE TABLE f_customers AS SELECT c.customer_id, {merchant} AS merchant_id, "
        "coalesce(nullif(c.name, ''), c.customer_id) AS name, c.email, c.segment_hint, "
        "coalesce(c.created_on, a.first_day) AS created_on, c.country FROM o_customers c LEFT JOIN act a USING (customer_id) "
        f"UNION ALL SELECT a.customer_id, {merchant}, a.customer_id, '', 'imported', a.first_day, '' FROM act a "
        "WHERE a.customer_id NOT IN (SELECT customer_id FROM o_customers)"
    )
