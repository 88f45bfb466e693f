"""Importing a merchant's CSV exports into a production database through a mapping file.

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

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, Float, Integer, String, Table
from sqlalchemy.engine import URL

from app.errors import DataFileError, InvalidArgumentError
from app.models import TicketCategory, TicketPriority
from app.storage.admin import LoadReport, store_rows, writable_connection
from app.storage.mapping import IMPORT_TABLES, ColumnMap, ImportMapping, load_mapping
from app.storage.schema import metadata
from app.storage.url import mask_url, parse_url
from app.world.world import Rows

__all__ = ["RowProblem", "ImportResult", "read_exports", "import_exports", "ORDER_STATUSES", "SENTIMENTS"]

ORDER_STATUSES = ("paid", "failed", "refunded", "pending")
SENTIMENTS = ("positive", "neutral", "negative")
ALLOWED_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("orders", "status"): ORDER_STATUSES,
    ("support_tickets", "category"): tuple(c.value for c in TicketCategory),
    ("support_tickets", "priority"): tuple(p.value for p in TicketPriority),
    ("support_tickets", "sentiment"): SENTIMENTS,
}
"""Columns whose values must come from a fixed list (use `map` to translate the export's values)."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "subscriptions": ("subscription_id", "customer_id", "monthly_price_cents", "started_on"),
    "orders": ("order_id", "customer_id", "ordered_on", "amount_cents"),
    "support_tickets": ("ticket_id", "customer_id", "created_at"),
}
"""Columns a mapping must fill; the others have defaults or are derived."""

DEFAULTS: dict[str, dict[str, Any]] = {
    "customers": {"email": "", "country": "", "segment_hint": "imported"},
    "subscriptions": {"plan": "default", "cancelled_on": None, "cancel_reason": None},
    "orders": {"subscription_id": None, "status": "paid"},
    "support_tickets": {
        "category": "general",
        "priority": "normal",
        "subject": "",
        "first_response_at": None,
        "resolved_at": None,
        "csat_rating": None,
    },
}
"""Values of unmapped optional columns (``customers.name`` defaults to the id, ``created_on`` to the
first activity; ticket ``sentiment`` follows the rating; ticket ``status`` is always derived)."""

DERIVED = {("support_tickets", "status"): "derived from first_response_at and resolved_at"}

SIGNAL_STRENGTH = {"failed_payment": 0.8, "negative_ticket": 0.7}
"""Strength of derived churn signals (the middle of the generator's ranges)."""

FILE_OPTIONS = {"customers": "--customers", "subscriptions": "--subscriptions", "orders": "--orders",
                "support_tickets": "--tickets"}


@dataclass(frozen=True)
class RowProblem:
    """A rejected row: where it is and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class ImportResult:
    """Rows ready to store, and the rows rejected on the way."""

    rows: Rows
    problems: list[RowProblem] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)


class _RowError(Exception):
    pass


# --------------------------------------------------------------------------- cell conversion

_MONEY_JUNK = re.compile(r"[^\d.,()\-+]")


def _number(text: str, decimal_separator: str) -> Decimal:
    raw = text.strip()
    negative = raw.startswith("(") and raw.endswith(")")
    cleaned = _MONEY_JUNK.sub("", raw).strip("()")
    if decimal_separator == ",":
        cleaned = cleaned.replace(".", "").replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    if cleaned.endswith("-"):  # "12.00-" (trailing minus in some accounting exports)
        cleaned, negative = cleaned[:-1], True
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise _RowError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise _RowError(f"{text!r} is not a number")
    return -value if negative else value


def _parse_time(text: str, formats: list[str]) -> dt.datetime:
    for fmt in formats:
        try:
            value = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return value.replace(tzinfo=None)
    raise _RowError(f"{text!r} does not match the format(s) {', '.join(formats)}")


@dataclass
class _Column:
    """A compiled column mapping: reads one target value from a CSV row."""

    table: str
    target: str
    spec: ColumnMap
    sql_type: Any
    length: int | None
    indexes: list[int]
    divide_index: int | None
    mapping: ImportMapping

    def read(self, row: list[str]) -> Any:
        spec = self.spec
        if spec.constant is not None:
            raw: Any = spec.constant
        else:
            parts = [row[i].strip() for i in self.indexes]
            raw = spec.join.join(p for p in parts if p)
        if isinstance(raw, str) and raw == "":
            if spec.default is None:
                return None
            raw = spec.default
        if spec.map is not None:
            key = str(raw).strip().lower()
            table = {str(k).strip().lower(): v for k, v in spec.map.items()}
            if key not in table:
                raise _RowError(f"value {raw!r} is not in the mapping's `map` ({', '.join(map(str, spec.map))})")
            raw = table[key]
        return self._convert(raw, row)

    def _convert(self, raw: Any, row: list[str]) -> Any:
        t, d = self.sql_type, self.mapping.defaults
        text = str(raw).strip()
        if isinstance(t, DateTime):
            formats = self._formats(d.datetime_formats) + ([] if self.spec.format else d.date_formats)
            return _parse_time(text, formats)
        if isinstance(t, Date):
            formats = self._formats(d.date_formats) + ([] if self.spec.format else d.datetime_formats)
            return _parse_time(text, formats).date()
        if isinstance(t, Integer | Float):
            value = _number(text, d.decimal_separator)
            if self.divide_index is not None:
                divisor_text = row[self.divide_index].strip()
                divisor = _number(divisor_text, d.decimal_separator) if divisor_text else Decimal(0)
                if divisor == 0:
                    raise _RowError(f"cannot divide by {self.spec.divide_by} = {divisor_text!r}")
                value = value / divisor
            if isinstance(t, Float):
                return float(value)
            if self.target.endswith("_cents"):
                cents = value * 100
                if self.divide_index is not None:
                    cents = cents.quantize(Decimal(1), rounding=ROUND_HALF_UP)
                if cents != cents.to_integral_value():
                    raise _RowError(f"{text!r} has fractions of a cent")
                return int(cents)
            if value != value.to_integral_value():
                raise _RowError(f"{text!r} is not a whole number")
            return int(value)
        if self.spec.case:
            text = getattr(text, self.spec.case)()
        if self.length is not None and len(text) > self.length:
            raise _RowError(f"{len(text)} characters, more than the {self.length} allowed")
        return text

    def _formats(self, fallback: list[str]) -> list[str]:
        f = self.spec.format
        if f is None:
            return list(fallback)
        return [f] if isinstance(f, str) else list(f)


# --------------------------------------------------------------------------- mapping checks


def _compile(mapping: ImportMapping, source: str, table_name: str, header: list[str], file: str) -> list[_Column]:
    """Check a table mapping against the schema and the CSV header; compile its columns."""
    table: Table = metadata.tables[table_name]
    tmap = mapping.table(table_name)
    assert tmap is not None
    specs = tmap.column_maps()
    where = f"{source}: field '{table_name}.columns"
    for target in specs:
        if (table_name, target) in DERIVED:
            raise DataFileError(f"{where}.{target}': {target} cannot be mapped, it is {DERIVED[(table_name, target)]}")
        if target not in table.c:
            valid = ", ".join(c.name for c in table.columns if (table_name, c.name) not in DERIVED)
            raise DataFileError(f"{where}.{target}': no column {target!r} in table {table_name}; its columns: {valid}")
    missing = [c for c in REQUIRED[table_name] if c not in specs]
    if missing:
        raise DataFileError(f"{where}': required column(s) {', '.join(missing)} not mapped; add them")
    positions = {name: i for i, name in enumerate(header)}
    compiled = []
    for target, spec in specs.items():
        for col in spec.source_columns():
            if col not in positions:
                raise DataFileError(
                    f"{where}.{target}': column {col!r} is not in {file} (its columns: {', '.join(header)})"
                )
        col_type = table.c[target].type
        compiled.append(
            _Column(
                table=table_name,
                target=target,
                spec=spec,
                sql_type=col_type,
                length=col_type.length if isinstance(col_type, String) else None,
                indexes=[positions[c] for c in ([spec.source] if isinstance(spec.source, str) else spec.source or [])],
                divide_index=positions[spec.divide_by] if spec.divide_by else None,
                mapping=mapping,
            )
        )
    return compiled


# --------------------------------------------------------------------------- reading CSV


def _undecodable_line(path: Path, encoding: str) -> tuple[int, str]:
    """(line number, reason) of the first line that is not valid ``encoding``."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError as exc:
                return number, f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
    return 0, "unknown position"


def _decode_error(path: Path, encoding: str) -> DataFileError:
    line, where = _undecodable_line(path, encoding)
    return DataFileError(
        f"{path}:{line}: not valid {encoding} ({where}); set defaults.encoding in the mapping (e.g. latin-1)"
    )


def _records(path: Path, mapping: ImportMapping) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and (line number, fields) of every non-empty record; malformed files raise."""
    d = mapping.defaults
    try:
        fh = path.open("r", encoding=d.encoding, newline="")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    except LookupError:
        raise DataFileError(f"{path}: unknown encoding {d.encoding!r} in the mapping's defaults") from None
    reader = csv.reader(fh, delimiter=d.delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        fh.close()
        raise DataFileError(f"{path}: empty file; expected a header row") from None
    except UnicodeDecodeError:
        fh.close()
        raise _decode_error(path, d.encoding) from None
    except csv.Error as exc:
        fh.close()
        raise DataFileError(f"{path}:1: malformed CSV header ({exc})") from None
    header = [h.strip() for h in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        fh.close()
        raise DataFileError(f"{path}:1: duplicate column name(s) {', '.join(dupes)}")

    def rows() -> Iterator[tuple[int, list[str]]]:
        line = 1
        with fh:
            while True:
                start = reader.line_num + 1
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise DataFileError(f"{path}:{start}: malformed CSV ({exc}); fix the quoting") from None
                except UnicodeDecodeError:
                    raise _decode_error(path, d.encoding) from None
                line = start
                if not any(f.strip() for f in record):
                    continue
                yield line, record

    return header, rows()


def _read_table(
    table_name: str, path: Path, mapping: ImportMapping, source: str, problems: list[RowProblem]
) -> list[tuple[int, dict[str, Any]]]:
    header, records = _records(path, mapping)
    columns = _compile(mapping, source, table_name, header, str(path))
    out = []
    defaults = DEFAULTS[table_name]
    for line, record in records:
        if len(record) != len(header):
            problems.append(RowProblem(path.name, line, f"expected {len(header)} fields, found {len(record)}"))
            continue
        try:
            row: dict[str, Any] = dict(defaults)
            for col in columns:
                try:
                    value = col.read(record)
                except _RowError as exc:
                    raise _RowError(f"{col.target}: {exc}") from None
                if value is not None or col.target not in row:
                    row[col.target] = value
            for required in REQUIRED[table_name]:
                if row.get(required) in (None, ""):
                    raise _RowError(f"{required} is empty")
            for (tname, cname), allowed in ALLOWED_VALUES.items():
                if tname == table_name and row.get(cname) is not None and row[cname] not in allowed:
                    raise _RowError(f"{cname} {row[cname]!r} is not one of {', '.join(allowed)}; map it with `map`")
            _check_row(table_name, row)
        except _RowError as exc:
            problems.append(RowProblem(path.name, line, str(exc)))
            continue
        out.append((line, row))
    return out


def _check_row(table: str, row: dict[str, Any]) -> None:
    if table == "subscriptions":
        if row["monthly_price_cents"] < 0:
            raise _RowError("monthly_price_cents is negative")
        if row["cancelled_on"] is not None and row["cancelled_on"] < row["started_on"]:
            raise _RowError(f"cancelled_on {row['cancelled_on']} is before started_on {row['started_on']}")
        if row["cancelled_on"] is None:
            row["cancel_reason"] = None
    elif table == "support_tickets":
        created = row["created_at"]
        for col in ("first_response_at", "resolved_at"):
            if row[col] is not None and row[col] < created:
                raise _RowError(f"{col} {row[col]} is before created_at {created}")
        rating = row["csat_rating"]
        if rating is not None:
            if not 1 <= rating <= 5:
                raise _RowError(f"csat_rating {rating} is not between 1 and 5")
            if row["resolved_at"] is None:
                raise _RowError("csat_rating given for a ticket that is not resolved")
        if row.get("sentiment") is None:
            row["sentiment"] = (
                "neutral" if rating is None else ("negative" if rating <= 2 else ("positive" if rating >= 4 else "neutral"))
            )
        row["status"] = "resolved" if row["resolved_at"] else ("pending" if row["first_response_at"] else "open")


# --------------------------------------------------------------------------- assembling


_ID_COLUMN = {"customers": "customer_id", "subscriptions": "subscription_id", "orders": "order_id",
              "support_tickets": "ticket_id"}


def read_exports(files: dict[str, Path], mapping_path: Path) -> ImportResult:
    """Read and validate CSV exports (table name -> file) with a mapping; nothing is written.

    Raises:
        DataFileError: bad mapping, unreadable or malformed CSV, mapping naming a missing column.
        InvalidArgumentError: a file without a mapping for it, or no orders file.
    """
    mapping = load_mapping(mapping_path)
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
            parsed[name] = _read_table(name, files[name], mapping, source, problems)
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
                    RowProblem(files[name].name, line, f"duplicate {_ID_COLUMN[name]} {key!r} (first on line {by_id[key][0]})")
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
                problems.append(RowProblem(files[name].name, line, f"unknown {label} {ref!r}{hint}"))
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
    for cid, day in first_seen.items():
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
                    RowProblem(files["customers"].name, line, "created_on is empty and the customer has no activity")
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
) -> LoadReport:
    """Read, validate and store CSV exports in one transaction.

    Raises:
        DataFileError: bad files or mapping, or more than ``max_errors`` rejected rows (then
            nothing is written; the message lists the rejected rows).
        ProviderError: database problems (unreachable, no schema, already holds data).
    """
    if "orders" not in files:
        raise InvalidArgumentError("an import needs at least the orders file (--orders FILE.csv)")
    if max_errors < 0:
        raise InvalidArgumentError(f"max_errors must be 0 or more, got {max_errors}")
    result = read_exports(files, mapping_path)
    n = len(result.problems)
    if n > max_errors:
        shown = "\n".join(f"  {p}" for p in result.problems[:20])
        more = f"\n  ... and {n - 20} more" if n > 20 else ""
        raise DataFileError(
            f"{n} row(s) failed validation (at most {max_errors} allowed, see --max-errors); nothing was imported:\n"
            f"{shown}{more}"
        )
    if progress:
        progress(f"read {sum(result.read.values()):,} rows, {n} rejected; writing")
    source = " ".join(f"{FILE_OPTIONS[k]}={p.name}" for k, p in files.items()) + f" mapping={mapping_path.name}"
    display = mask_url(parse_url(url))
    with writable_connection(url) as conn:
        report = store_rows(conn, result.rows, kind="import", source=source, url=display, replace=replace)
    report.rejected = n
    report.problems = [str(p) for p in result.problems]
    return report
