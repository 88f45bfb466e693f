"""Staging CSV exports in DuckDB for version-2 imports, in bounded memory.

Python's csv module reads each file once, streaming (the same header, encoding and quoting
checks as version 1, with exact line numbers, also for quoted fields spanning lines), and writes
a plain staging CSV with the line number first; DuckDB then reads that file as text columns. All
transforming, filtering and grouping happens in DuckDB with a memory limit, spilling to a
temporary directory, so memory is bounded by the limit and the batch size, not the file.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import DataFileError
from app.storage.csv_reader import records
from app.storage.expressions import sql_text
from app.storage.import_problems import Reject, RejectLog
from app.storage.mapping import ParseDefaults

__all__ = ["DUCKDB_MEMORY_LIMIT", "StagedFile", "duck_connection", "staging_area", "stage_file"]

DUCKDB_MEMORY_LIMIT = "512MB"
"""DuckDB's memory limit during an import; beyond it DuckDB spills to the temporary directory."""


@dataclass(frozen=True)
class StagedFile:
    """A CSV export loaded into a DuckDB view ``view`` (``_line`` plus the file's columns as text)."""

    name: str
    path: Path
    view: str
    columns: list[str]
    lines: int


def duck_connection(workdir: Path) -> Any:
    """A private DuckDB database in ``workdir`` using at most :data:`DUCKDB_MEMORY_LIMIT` of memory."""
    import duckdb

    conn = duckdb.connect(str(workdir / "import.duckdb"))  # a file: tables beyond the memory limit live on disk
    conn.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    conn.execute(f"SET temp_directory = {sql_text(str(workdir / 'spill'))}")
    conn.execute("SET threads = 2")
    conn.execute("SET preserve_insertion_order = false")
    return conn


@contextmanager
def staging_area() -> Iterator[tuple[Any, Path]]:
    """A private DuckDB connection and its temporary directory, both removed at the end."""
    with tempfile.TemporaryDirectory(prefix="cjsim-import-") as tmp:
        workdir = Path(tmp)
        duck = duck_connection(workdir)
        try:
            yield duck, workdir
        finally:
            duck.close()


def stage_file(conn: Any, name: str, path: Path, defaults: ParseDefaults, workdir: Path, log: RejectLog) -> StagedFile:
    """Stage ``path`` as DuckDB table ``src_<name>`` (parsed once); records with a wrong field count are rejected.

    Raises:
        DataFileError: unreadable, empty or malformed file, wrong encoding, duplicate header names.
    """
    header, rows = records(path, defaults.encoding, defaults.delimiter)
    if "_line" in header:
        raise DataFileError(f"{path}:1: a column is named _line, which version-2 imports use for line numbers; rename it")
    staged = workdir / f"{name}.csv"
    width = len(header)
    count = 0
    with staged.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["_line", *(f"c{i}" for i in range(width))])
        for line, record in rows:
            if len(record) != width:
                log.add(Reject(path.name, line, f"expected {width} fields, found {len(record)}", name, record=tuple(record)))
                continue
            writer.writerow((line, *record))
            count += 1
    view = f"src_{name}"
    types = "{'_line': 'BIGINT', " + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
    renames = ", ".join(f'c{i} AS "{h.replace(chr(34), chr(34) * 2)}"' for i, h in enumerate(header))
    conn.execute(
        f"CREATE TABLE {view} AS SELECT _line{', ' if renames else ''}{renames} FROM read_csv({sql_text(str(staged))}, header = true, "
        f"columns = {types}, delim = ',', quote = '\"', escape = '\"', auto_detect = false, strict_mode = true)"
    )
    staged.unlink()
    return StagedFile(name, path, view, header, count)
