"""Importing a merchant's CSV exports into a production database through a mapping file.

:func:`import_exports` checks the target first (reachable, initialised, empty unless replacing),
then runs a version-1 mapping here or a version-2 mapping in :mod:`app.storage.import_v2`;
rejected rows of both go to one :class:`~app.storage.import_problems.RejectLog`. What follows
describes version 1.

Steps: validate the mapping against the schema (before reading any data), check every CSV
column it names exists (before converting any row), convert each row (renames, date formats,
money to cents, value maps, defaults, derived fields), validate it (required values, allowed
values, dates in order, unique ids, references to customers and subscriptions), derive what the
exports lack (customers, churn signals), then write everything in one transaction.

A row that fails validation is reported with its file, line and reason and counted, never
silently dropped: by default any rejected row aborts the import (nothing is written); with
``max_errors=N`` up to N rejected rows are tolerated, listed in the report and skipped.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from app.errors import DataFileError, InvalidArgumentError
from app.storage.admin import LoadReport, prepare_target, store_rows, writable_connection
from app.storage.csv_reader import DEFAULTS, ORDER_STATUSES, SENTIMENTS, RowProblem, read_table
from app.storage.import_problems import RejectLog
from app.storage.mapping import FILE_OPTIONS, IMPORT_TABLES, SIGNAL_STRENGTH, ImportMapping, load_mapping
from app.storage.url import mask_url, parse_url
from app.world.world import Rows

__all__ = ["RowProblem", "ImportResult", "read_exports", "import_exports", "ORDER_STATUSES", "SENTIMENTS"]




@dataclass
class ImportResult:
    """Rows ready to store, and the rows rejected on the way."""

    rows: Rows
    problems: list[RowProblem] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)



# --------------------------------------------------------------------------- assembling


_ID_COLUMN = {"customers": "customer_id", "subscriptions": "subscription_id", "orders": "order_id",
              "support_tickets": "ticket_id"}


def read_exports(files: dict[str, Path], mapping_path: Path, mapping: ImportMapping | None = None) -> ImportResult:
    """Read and validate CSV exports (table name -> file) with a version-1 mapping; nothing is written.

    Raises:
        DataFileError: bad mapping, unreadable or malformed CSV, mapping naming a missing column.
        InvalidArgumentError: a file without a mapping for it, or no orders file.
    """
    if mapping is None:
        loaded = load_mapping(mapping_path)
        if not isinstance(loaded, ImportMapping):
            raise InvalidArgumentError(f"{mapping_path}: a version-2 mapping; import it with import_exports")
        mapping = loaded
    source = str(mapping_path)
    unknown = set(files) - set(IMPORT_TABLES)
    if unknown:
        raise InvalidArgumentError(f"cannot import {', '.join(sorted(unknown))}; importable: {', '.join(IMPORT_TABLES)}")
    for name in files:
        if mapping.table(name) is None:
            raise DataFileError(
                f"{source}: no '{name}' section, but {FILE_OPTIONS[name]} {files[name]} was given; add a mapping for it"
            )
    problems: list[RowProblem] = []
    parsed: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for name in IMPORT_TABLES:
        if name in files:
            parsed[name] = read_table(name, files[name], mapping, source, problems)
    result = ImportResult(rows={}, problems=problems, read={n: len(v) for n, v in parsed.items()})
    _link(parsed, files, mapping, result)
    return result


def _link(
    parsed: dict[str, list[tuple[int, dict[str, Any]]]],
    files: dict[str, Path],
    mapping: ImportMapping,
    result: ImportResult,
) -> None:
    """Unique ids, references between files, derived customers and signals."""
    problems = result.problems
    kept: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {}
    for name in IMPORT_TABLES:
        by_id: dict[str, tuple[int, dict[str, Any]]] = {}
        for line, row in parsed.get(name, []):
            key = row[_ID_COLUMN[name]]
            if key in by_id:
                problems.append(
                    RowProblem(files[name].name, line, f"duplicate {_ID_COLUMN[name]} {key!r} (first on line {by_id[key][0]})", name)
                )
                continue
            by_id[key] = (line, row)
        kept[name] = by_id

    customers = {cid: row for cid, (_, row) in kept["customers"].items()}
    given_customers = "customers" in files

    def check_refs(name: str, refs: list[tuple[str, dict, str]]) -> None:
        for key in list(kept[name]):
            line, row = kept[name][key]
            for column, target, label in refs:
                ref = row.get(column)
                if ref is None or ref in target:
                    continue
                if label == "customer" and mapping.derive.customers:
                    continue
                hint = "" if label != "customer" or given_customers else " (enable derive.customers or pass --customers)"
                problems.append(RowProblem(files[name].name, line, f"unknown {label} {ref!r}{hint}", name))
                del kept[name][key]
                break

    check_refs("subscriptions", [("customer_id", customers, "customer")])
    subs = {k: row for k, (_, row) in kept["subscriptions"].items()}
    check_refs("orders", [("customer_id", customers, "customer"), ("subscription_id", subs, "subscription")])
    check_refs("support_tickets", [("customer_id", customers, "customer")])

    first_seen: dict[str, dt.date] = {}

    def seen(cid: str, day: dt.date) -> None:
        if cid not in first_seen or day < first_seen[cid]:
            first_seen[cid] = day

    for _, row in kept["subscriptions"].values():
        seen(row["customer_id"], row["started_on"])
    for _, row in kept["orders"].values():
        seen(row["customer_id"], row["ordered_on"])
    for _, row in kept["support_tickets"].values():
        seen(row["customer_id"], row["created_at"].date())

    derived_customers = 0
    for cid in first_seen:
        if cid not in customers:
            customers[cid] = {"customer_id": cid, **DEFAULTS["customers"]}
            derived_customers += 1
    for cid in list(customers):
        row = customers[cid]
        if not row.get("name"):
            row["name"] = cid
        if row.get("created_on") is None:
            if cid not in first_seen:
                line = kept["customers"][cid][0]
                problems.append(
                    RowProblem(files["customers"].name, line, "created_on is empty and the customer has no activity", "customers")
                )
                del customers[cid]
                continue
            row["created_on"] = first_seen[cid]
        row.setdefault("merchant_id", mapping.merchant.merchant_id)
        row["merchant_id"] = mapping.merchant.merchant_id

    rows: Rows = {
        "merchants": [mapping.merchant.model_dump()],
        "customers": sorted(customers.values(), key=lambda r: r["customer_id"]),
        "subscriptions": sorted(subs.values(), key=lambda r: r["subscription_id"]),
        "orders": sorted((r for _, r in kept["orders"].values()), key=lambda r: r["order_id"]),
        "support_tickets": sorted((r for _, r in kept["support_tickets"].values()), key=lambda r: r["ticket_id"]),
        "marketing_daily": [],
        "timeline_events": [],
    }
    rows["customer_signals"] = _signals(rows) if mapping.derive.signals else []
    result.rows = rows
    result.derived = {"customers": derived_customers, "customer_signals": len(rows["customer_signals"])}


def _signals(rows: Rows) -> list[dict[str, Any]]:
    found = [
        (o["ordered_on"], o["customer_id"], "failed_payment") for o in rows["orders"] if o["status"] == "failed"
    ] + [
        (t["created_at"].date(), t["customer_id"], "negative_ticket")
        for t in rows["support_tickets"]
        if t["sentiment"] == "negative"
    ]
    found.sort()
    return [
        {
            "signal_id": f"SGI{i:07d}",
            "customer_id": cid,
            "signal_type": kind,
            "strength": SIGNAL_STRENGTH[kind],
            "detected_on": day,
        }
        for i, (day, cid, kind) in enumerate(found, start=1)
    ]


def import_exports(
    url: str | URL,
    files: dict[str, Path],
    mapping_path: Path,
    *,
    max_errors: int = 0,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
    rejects_path: Path | None = None,
) -> LoadReport:
    """Read, validate and store CSV exports in one transaction (mapping version 1 or 2).

    The target is checked first: a database that already holds data is refused (unless
    ``replace``) before any file is opened. Rejected rows are summarised by reason in the report
    (and the error, when more than ``max_errors``) and, with ``rejects_path``, written there as CSV.
    ``report.total_seconds`` covers the whole import, reading included.

    Raises:
        DataFileError: bad files or mapping, or more than ``max_errors`` rejected rows (then
            nothing is written; the message counts the rejected rows by reason).
        ProviderError: database problems (unreachable, no schema, already holds data).
    """
    t0 = time.perf_counter()
    if "orders" not in files:
        raise InvalidArgumentError("an import needs at least the orders file (--orders FILE.csv)")
    if max_errors < 0:
        raise InvalidArgumentError(f"max_errors must be 0 or more, got {max_errors}")
    source = " ".join(f"{FILE_OPTIONS[k]}={p.name}" for k, p in files.items()) + f" mapping={mapping_path.name}"
    display = mask_url(parse_url(url))
    log = RejectLog(rejects_path)
    with writable_connection(url) as conn:
        prepare_target(conn, display, replace=replace)
        mapping = load_mapping(mapping_path)
        log.open()
        try:
            if isinstance(mapping, ImportMapping):
                report = _import_v1(conn, files, mapping_path, mapping, log, source, display, max_errors, progress)
            else:
                from app.storage.import_v2 import run_import_v2

                report = LoadReport(kind="import", source=source, url=display)
                run_import_v2(conn, mapping, mapping_path, files, log, report, max_errors=max_errors, progress=progress)
        finally:
            log.close()
    report.rejected = log.total
    report.reject_summary = log.summary()
    report.total_seconds = time.perf_counter() - t0
    report.summary_seconds = report.total_seconds - report.insert_seconds
    return report


def _import_v1(
    conn: Any,
    files: dict[str, Path],
    mapping_path: Path,
    mapping: ImportMapping,
    log: RejectLog,
    source: str,
    display: str,
    max_errors: int,
    progress: Callable[[str], None] | None,
) -> LoadReport:
    if "refunds" in files:
        raise InvalidArgumentError(f"{mapping_path}: --refunds needs a version-2 mapping (version: 2 with a refunds section)")
    result = read_exports(files, mapping_path, mapping)
    log.add_many(result.problems)
    n = len(result.problems)
    if n > max_errors:
        raise DataFileError(
            f"{n:,} row(s) failed validation (at most {max_errors} allowed, see --max-errors); nothing was imported. "
            f"By reason:\n{log.summary()}"
        )
    if progress:
        progress(f"read {sum(result.read.values()):,} rows, {n} rejected; writing")
    report = store_rows(conn, result.rows, kind="import", source=source, url=display, rejected=n)
    report.read = {files[name].name: count for name, count in result.read.items()}
    report.problems = [str(p) for p in result.problems]
    return report
