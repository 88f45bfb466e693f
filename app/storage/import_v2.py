"""Running a version-2 import: stage the files in DuckDB, plan each section, link, reject, stream out.

DuckDB reads, filters, computes and groups (:mod:`app.storage.import_plan`); then ids are made
unique, references checked (every table to customers, orders to subscriptions, refunds to
orders), customers derived from activity, churn signals derived from failed orders and negative
tickets, and the result is written to
the target in batches of :data:`BATCH_ROWS` through the bulk writer, inside the caller's
transaction. Memory stays bounded by DuckDB's limit and the batch size, not the files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy.engine import Connection

from app.errors import DataFileError, InvalidArgumentError
from app.storage.admin import LoadReport, finish_load
from app.storage.bulk import bulk_insert, bulk_insert_columns, deferred_indexes
from app.storage.duck_stage import stage_file, staging_area
from app.storage.expressions import sql_text
from app.storage.import_plan import KEY_COLUMN, SectionPlan, plan_section
from app.storage.import_problems import Reject, RejectLog
from app.storage.mapping import FILE_OPTIONS, SIGNAL_STRENGTH, MerchantInfo
from app.storage.mapping_v2 import V2_TABLES, ImportMappingV2
from app.storage.schema import DAILY_SUMMARY_TABLES, TABLES, metadata
from app.storage.summaries import refresh_daily_summaries

__all__ = ["BATCH_ROWS", "run_import_v2", "final_selects", "write_staged", "import_failed"]

BATCH_ROWS = 50_000
"""Rows fetched from DuckDB and written to the target at a time."""

def _files_read(mapping: ImportMappingV2, files: dict[str, Path], source: str) -> dict[str, str]:
    """Section -> the file it reads; every file given must be read by a section and vice versa."""
    reads = {}
    for table in V2_TABLES:
        section = mapping.table(table)
        if section is None:
            continue
        name = section.source or table
        if name not in files:
            raise InvalidArgumentError(
                f"{source}: section '{table}' reads the {FILE_OPTIONS[name]} file; pass {FILE_OPTIONS[name]} FILE.csv"
            )
        reads[table] = name
    unused = sorted(set(files) - set(reads.values()))
    if unused:
        raise DataFileError(
            f"{source}: no section reads {FILE_OPTIONS[unused[0]]} {files[unused[0]]}; add one with source: {unused[0]}"
        )
    return reads


def run_import_v2(
    conn: Connection,
    mapping: ImportMappingV2,
    mapping_path: Path,
    files: dict[str, Path],
    log: RejectLog,
    report: LoadReport,
    *,
    max_errors: int,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Import ``files`` through a version-2 mapping into the (empty) target behind ``conn``.

    Raises:
        DataFileError: a mapping or file mistake, or more than ``max_errors`` rejected rows (then
            nothing is written; the message summarises the reasons).
    """
    source = str(mapping_path)
    reads = _files_read(mapping, files, source)
    with staging_area() as (duck, workdir):
        try:
            staged = {
                name: stage_file(duck, name, files[name], mapping.defaults, workdir, log)
                for name in sorted(set(reads.values()))
            }
            plans = [plan_section(duck, mapping, t, staged[reads[t]], source) for t in V2_TABLES if t in reads]
            report.read = {f.path.name: f.lines for f in staged.values()}
            for plan in plans:
                report.filtered[plan.table] = _collect_rejects(duck, plan, log)
            by_table = {p.table: p for p in plans}
            _link(duck, mapping, by_table, log)
            if log.total > max_errors:
                raise DataFileError(
                    f"{log.total:,} row(s) rejected (at most {max_errors} allowed, see --max-errors); nothing was imported. "
                    f"By reason:\n{log.summary()}"
                )
            if progress:
                progress(f"read {sum(report.read.values()):,} lines, {log.total:,} rejected; writing")
            report.rejected = log.total
            write_staged(conn, duck, mapping.merchant, final_selects(by_table, mapping.derive.signals), report)
        except duckdb.Error as exc:  # e.g. an amount too large for its decimal: one message, nothing written
            raise import_failed(source, exc) from None


def import_failed(source: str, exc: Exception) -> DataFileError:
    """The one message of a staged import that DuckDB could not run (nothing is written)."""
    return DataFileError(f"{source}: the import's transformation failed: {exc}")


def _record_columns(plan: SectionPlan) -> str:
    return ", ".join(f's."{c.replace(chr(34), chr(34) * 2)}"' for c in plan.file.columns)


def _log_rejects(duck: Any, sql: str, plan: SectionPlan, log: RejectLog, count_sql: str) -> None:
    if not duck.execute(count_sql).fetchone()[0]:  # the usual case: skip the join with the source lines
        return
    cur = duck.execute(sql)
    while batch := cur.fetchmany(10_000):
        log.add_many(
            Reject(plan.file.path.name, int(row[0]), row[1], plan.table, row[2] or "", tuple(v or "" for v in row[3:]))
            for row in batch
        )


def _collect_rejects(duck: Any, plan: SectionPlan, log: RejectLog) -> int:
    """Log the lines and rows a section rejected and drop them; returns the lines its filter left out."""
    t, cols = plan.table, _record_columns(plan)
    for stage in ("r", "o"):
        _log_rejects(
            duck,
            f"SELECT x._line, x._reason, x._value{', ' + cols if cols else ''} FROM {stage}_{t} x "
            f"JOIN {plan.file.view} s ON s._line = x._line WHERE x._reason IS NOT NULL ORDER BY x._line",
            plan,
            log,
            f"SELECT count(*) FROM {stage}_{t} WHERE _reason IS NOT NULL",
        )
    duck.execute(f"DELETE FROM o_{t} WHERE _reason IS NOT NULL")
    return int(duck.execute(f"SELECT count(*) FROM r_{t} WHERE NOT _keep AND _reason IS NULL").fetchone()[0])


def _reject_where(duck: Any, plan: SectionPlan, condition: str, reason: str, value: str, log: RejectLog) -> None:
    t, cols = plan.table, _record_columns(plan)
    _log_rejects(
        duck,
        f"SELECT x._line, {sql_text(reason)}, CAST({value} AS VARCHAR){', ' + cols if cols else ''} FROM o_{t} x "
        f"JOIN {plan.file.view} s ON s._line = x._line WHERE {condition} ORDER BY x._line",
        plan,
        log,
        f"SELECT count(*) FROM o_{t} x WHERE {condition}",
    )
    duck.execute(f"DELETE FROM o_{t} x WHERE {condition}")


def _link(duck: Any, mapping: ImportMappingV2, plans: dict[str, SectionPlan], log: RejectLog) -> None:
    """Unique ids, references, customers derived from activity (``f_customers``)."""
    for table, plan in plans.items():
        key = KEY_COLUMN[table]
        duck.execute(f"CREATE TABLE d_{table} AS SELECT \"{key}\" AS k, min(_line) AS first FROM o_{table} GROUP BY 1")
        _reject_where(
            duck, plan,
            f"x._line > (SELECT d.first FROM d_{table} d WHERE d.k = x.\"{key}\")",
            f"duplicate {key} (an earlier row has it)", f'x."{key}"', log,
        )
    has_customers = "customers" in plans
    for table in ("subscriptions", "orders", "refunds", "support_tickets"):  # in V2_TABLES order: a rejected
        if table not in plans:                                               # subscription is then unknown
            continue
        if not mapping.derive.customers:
            known = "SELECT customer_id FROM o_customers" if has_customers else "SELECT NULL WHERE FALSE"
            hint = "" if has_customers else " (enable derive.customers or add a customers section)"
            _reject_where(duck, plans[table], f"x.customer_id NOT IN ({known})", f"unknown customer{hint}", "x.customer_id", log)
        if table == "orders":
            known = "SELECT subscription_id FROM o_subscriptions" if "subscriptions" in plans else "SELECT NULL WHERE FALSE"
            _reject_where(
                duck, plans["orders"], f"x.subscription_id IS NOT NULL AND x.subscription_id NOT IN ({known})",
                "unknown subscription (subscription_id names no imported subscription)", "x.subscription_id", log,
            )
    if "refunds" in plans:
        _reject_where(
            duck, plans["refunds"], "x.order_id IS NOT NULL AND x.order_id NOT IN (SELECT order_id FROM o_orders)",
            "unknown order (order_id names no imported order)", "x.order_id", log,
        )
    activity = ["SELECT customer_id, ordered_on AS day FROM o_orders"]
    if "subscriptions" in plans:
        activity.append("SELECT customer_id, started_on FROM o_subscriptions")
    if "refunds" in plans:
        activity.append("SELECT customer_id, refunded_on FROM o_refunds")
    if "support_tickets" in plans:
        activity.append("SELECT customer_id, CAST(created_at AS DATE) FROM o_support_tickets")
    duck.execute(f"CREATE TABLE act AS SELECT customer_id, min(day) AS first_day FROM ({' UNION ALL '.join(activity)}) GROUP BY 1")
    if has_customers:
        _reject_where(
            duck, plans["customers"],
            "x.created_on IS NULL AND x.customer_id NOT IN (SELECT customer_id FROM act)",
            "created_on is empty and the customer has no activity", "x.customer_id", log,
        )
    merchant = sql_text(mapping.merchant.merchant_id)
    parts = []
    if has_customers:
        parts.append(
            "SELECT c.customer_id, c.merchant_id, coalesce(c.name, c.customer_id) AS name, c.email, c.segment_hint, "
            "coalesce(c.created_on, a.first_day) AS created_on, c.country FROM o_customers c LEFT JOIN act a USING (customer_id)"
        )
    if mapping.derive.customers:
        known = "SELECT customer_id FROM o_customers" if has_customers else "SELECT NULL WHERE FALSE"
        parts.append(
            f"SELECT a.customer_id, {merchant} AS merchant_id, a.customer_id AS name, '' AS email, 'imported' AS segment_hint, "
            "a.first_day AS created_on, '' AS country FROM act a "
            f"WHERE a.customer_id NOT IN ({known})"
        )
    body = " UNION ALL ".join(parts) if parts else (
        "SELECT customer_id, merchant_id, name, email, segment_hint, created_on, country FROM o_customers WHERE FALSE"
    )
    duck.execute(f"CREATE TABLE f_customers AS {body}")


def final_selects(tables: Collection[str], signals: bool) -> dict[str, str]:
    """Target table -> the DuckDB query of its final rows: ``f_customers``, ``o_<table>`` of the others
    (``tables``), and the churn signals derived from them when ``signals``."""
    sources = {
        "customers": "SELECT customer_id, merchant_id, name, email, segment_hint, created_on, country FROM f_customers ORDER BY 1",
        **{t: _final_select(t, KEY_COLUMN[t]) for t in tables if t != "customers"},
    }
    if signals:
        sources["customer_signals"] = _signals_select(tables)
    return sources


def write_staged(conn: Connection, duck: Any, merchant: MerchantInfo, sources: dict[str, str], report: LoadReport) -> None:
    """Stream the final rows (``sources``, see :func:`final_selects`) into the target's base tables in
    batches of :data:`BATCH_ROWS`, then the derived tables and the log entry."""
    t0 = time.perf_counter()
    with deferred_indexes(conn, (*TABLES, *DAILY_SUMMARY_TABLES)):
        bulk_insert(conn, metadata.tables["merchants"], [merchant.model_dump()])
        report.rows["merchants"] = 1
        for table in TABLES:
            if table.name == "merchants":
                continue
            sql = sources.get(table.name)
            report.rows[table.name] = 0 if sql is None else _stream(duck, sql, conn, table.name)
        report.insert_seconds = time.perf_counter() - t0
        refresh_daily_summaries(conn, bulk_insert)
    finish_load(conn, report)


def _signals_select(tables: Collection[str]) -> str:
    """Churn signals from failed orders and negative tickets, numbered by day, customer and kind (as version 1)."""
    found = ["SELECT ordered_on AS day, customer_id, 'failed_payment' AS kind FROM o_orders WHERE status = 'failed'"]
    if "support_tickets" in tables:
        found.append("SELECT CAST(created_at AS DATE), customer_id, 'negative_ticket' FROM o_support_tickets "
                     "WHERE sentiment = 'negative'")
    strength = " ".join(f"WHEN {sql_text(k)} THEN {v}" for k, v in SIGNAL_STRENGTH.items())
    return (
        "SELECT 'SGI' || lpad(CAST(row_number() OVER (ORDER BY day, customer_id, kind) AS VARCHAR), 7, '0'), "
        f"customer_id, kind, CASE kind {strength} END, day FROM ({' UNION ALL '.join(found)}) ORDER BY day, customer_id, kind"
    )


def _final_select(table: str, key: str) -> str:
    names = ", ".join(f'"{c.name}"' for c in metadata.tables[table].columns)
    return f'SELECT {names} FROM o_{table} ORDER BY "{key}"'


def _stream(duck: Any, sql: str, conn: Connection, table: str) -> int:
    target = metadata.tables[table]
    names = [c.name for c in target.columns]
    cur = duck.execute(sql)
    total = 0
    while batch := cur.fetchmany(BATCH_ROWS):
        columns = list(zip(*batch, strict=True))
        bulk_insert_columns(conn, target, {n: list(col) for n, col in zip(names, columns, strict=True)})
        total += len(batch)
    return total
