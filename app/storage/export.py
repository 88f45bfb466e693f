"""Exporting table rows as one CSV or JSON file per table, with the schema's column names."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from app.errors import InvalidArgumentError
from app.storage.schema import TABLES
from app.world.world import Rows

__all__ = ["EXPORT_FORMATS", "export_tables"]

EXPORT_FORMATS = ("csv", "json")


def _cell(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def export_tables(tables: Rows, out_dir: Path, fmt: str) -> list[Path]:
    """Write ``<table>.<fmt>`` for every schema table into ``out_dir``; returns the paths."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidArgumentError(f"unknown export format {fmt!r}; valid formats: {', '.join(EXPORT_FORMATS)}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidArgumentError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    written = []
    for table in TABLES:
        columns = [c.name for c in table.columns]
        rows = tables.get(table.name, [])
        path = out_dir / f"{table.name}.{fmt}"
        if fmt == "csv":
            with path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(columns)
                for r in rows:
                    writer.writerow(["" if r[c] is None else _cell(r[c]) for c in columns])
        else:
            data = [{c: _cell(r[c]) for c in columns} for r in rows]
            path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written
