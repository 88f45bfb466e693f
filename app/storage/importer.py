"""Importing a merchant's CSV exports into a production database through a mapping file.

:func:`import_exports` checks the target first (reachable, initialised, empty unless replacing),
then runs the mapping through one staged pipeline: a version-1 mapping converts rows in Python
with its own cell grammar (:mod:`app.storage.import_v1`), a version-2 mapping computes them in
DuckDB (:mod:`app.storage.import_v2`); both stage the rows in a private DuckDB database, check
ids and references there and stream the result into the target in batches, in one transaction,
so memory is bounded by the batch size, not the files. Rejected rows of both go to one
:class:`~app.storage.import_problems.RejectLog`.

A row that fails validation is reported with its file, line and reason and counted, never
silently dropped: by default any rejected row aborts the import (nothing is written); with
``max_errors=N`` up to N rejected rows are tolerated, listed in the report and skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy.engine import URL

from app.errors import DataFileError, InvalidArgumentError
from app.storage.admin import LoadReport, prepare_target, writable_connection
from app.storage.csv_reader import ORDER_STATUSES, SENTIMENTS, RowProblem
from app.storage.duck_stage import staging_area
from app.storage.import_problems import Reject, RejectLog
from app.storage.import_v1 import stage_v1
from app.storage.import_v2 import final_selects, import_failed, run_import_v2, write_staged
from app.storage.mapping import FILE_OPTIONS, IMPORT_TABLES, ImportMapping, load_mapping
from app.storage.schema import metadata
from app.storage.url import mask_url, parse_url
from app.world.world import Rows

__all__ = ["RowProblem", "ImportResult", "read_exports", "import_exports", "ORDER_STATUSES", "SENTIMENTS"]


@dataclass
class ImportResult:
    """Rows ready to store, and the rows rejected on the way."""

    rows: Rows
    problems: list[RowProblem] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)


class _KeptLog(RejectLog):
    """A reject log that also keeps the first ``limit`` rejected rows (all of them when None).

    An import keeps ``max_errors + 1``: enough for its report, while a file-wide mistake does not
    hold every line of the file in memory.
    """

    def __init__(self, rejects_path: Path | None = None, limit: int | None = None) -> None:
        super().__init__(rejects_path)
        self.kept: list[Reject] = []
        self._limit = limit

    def add_many(self, rejects: Iterable[Reject]) -> None:
        batch = list(rejects)
        room = len(batch) if self._limit is None else max(0, self._limit - len(self.kept))
        self.kept.extend(batch[:room])
        super().add_many(batch)


def read_exports(files: dict[str, Path], mapping_path: Path, mapping: ImportMapping | None = None) -> ImportResult:
    """Read and validate CSV exports (table name -> file) with a version-1 mapping; nothing is written.

    The same pipeline as :func:`import_exports`, stopping before the target: the rows it would
    store are returned, in memory, to inspect an import (use :func:`import_exports` for large files).

    Raises:
        DataFileError: bad mapping, unreadable or malformed CSV, mapping naming a missing column.
        InvalidArgumentError: a file without a mapping for it.
    """
    if mapping is None:
        loaded = load_mapping(mapping_path)
        if not isinstance(loaded, ImportMapping):
            raise InvalidArgumentError(f"{mapping_path}: a version-2 mapping; import it with import_exports")
        mapping = loaded
    log = _KeptLog()
    with staging_area() as (duck, workdir):
        try:
            read = stage_v1(duck, workdir, mapping, mapping_path, files, log)
            rows: Rows = {"merchants": [mapping.merchant.model_dump()], "marketing_daily": [], "timeline_events": []}
            for table, sql in final_selects(tuple(read), mapping.derive.signals).items():
                cur = duck.execute(sql)
                names = [c.name for c in metadata.tables[table].columns]
                rows[table] = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        except duckdb.Error as exc:
            raise import_failed(str(mapping_path), exc) from None
    rows.setdefault("customer_signals", [])
    for table in IMPORT_TABLES:
        rows.setdefault(table, [])
    return ImportResult(rows=rows, problems=log.kept, read=read)


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
    log = _KeptLog(rejects_path, limit=max_errors + 1)
    with writable_connection(url) as conn:
        prepare_target(conn, display, replace=replace)
        mapping = load_mapping(mapping_path)
        log.open()
        try:
            if isinstance(mapping, ImportMapping):
                report = _import_v1(conn, files, mapping_path, mapping, log, source, display, max_errors, progress)
            else:
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
    log: _KeptLog,
    source: str,
    display: str,
    max_errors: int,
    progress: Callable[[str], None] | None,
) -> LoadReport:
    if "refunds" in files:
        raise InvalidArgumentError(f"{mapping_path}: --refunds needs a version-2 mapping (version: 2 with a refunds section)")
    report = LoadReport(kind="import", source=source, url=display)
    with staging_area() as (duck, workdir):
        try:
            read = stage_v1(duck, workdir, mapping, mapping_path, files, log)
            n = log.total
            if n > max_errors:
                raise DataFileError(
                    f"{n:,} row(s) failed validation (at most {max_errors} allowed, see --max-errors); nothing was imported. "
                    f"By reason:\n{log.summary()}"
                )
            if progress:
                progress(f"read {sum(read.values()):,} rows, {n} rejected; writing")
            report.rejected = n
            write_staged(conn, duck, mapping.merchant, final_selects(tuple(read), mapping.derive.signals), report)
        except duckdb.Error as exc:
            raise import_failed(str(mapping_path), exc) from None
    report.read = {files[name].name: count for name, count in read.items()}
    report.problems = [str(p) for p in log.kept]
    return report
