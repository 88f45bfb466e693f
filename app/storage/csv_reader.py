"""Reading a merchant's CSV exports through a mapping: header checks, cell conversion, row validation.

Used by :mod:`app.storage.import_v1`, which stages the converted rows for the shared pipeline. Every cell goes through one converter per mapped column
(renames, date formats, money to cents, value maps, defaults); a row that fails is returned as a
:class:`RowProblem` with its file, line and reason, never silently dropped or guessed.
"""


import csv
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, Float, Integer, String, Table

from app.errors import DataFileError
from app.models import TicketCategory, TicketPriority
from app.storage.import_problems import Reject
from app.storage.mapping import ColumnMap, ImportMapping
from app.storage.money import MoneyError, parse_export_money
from app.storage.schema import metadata

__all__ = ["records", "RowProblem", "RowError", "ORDER_STATUSES", "SENTIMENTS", "ALLOWED_VALUES", "REQUIRED", "DEFAULTS", "convert_rows", "check_row"]

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


RowProblem = Reject
"""A rejected row: where it is and why (the one record of rejected rows, see :mod:`app.storage.import_problems`)."""


class RowError(Exception):
    """A row cannot be converted or fails validation (the message is the reason)."""


# --------------------------------------------------------------------------- cell conversion

def _number(text: str, decimal_separator: str) -> Decimal:
    try:
        return parse_export_money(text, decimal_separator)
    except MoneyError as exc:
        raise RowError(str(exc)) from None


def _parse_time(text: str, formats: list[str]) -> dt.datetime:
    for fmt in formats:
        try:
            value = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return value.replace(tzinfo=None)
    raise RowError(f"{text!r} does not match the format(s) {', '.join(formats)}")


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
                raise RowError(f"value {raw!r} is not in the mapping's `map` ({', '.join(map(str, spec.map))})")
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
                    raise RowError(f"cannot divide by {self.spec.divide_by} = {divisor_text!r}")
                value = value / divisor
            if isinstance(t, Float):
                return float(value)
            if self.target.endswith("_cents"):
                value = value * 100
                if self.divide_index is not None:
                    value = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
                if value != value.to_integral_value():
                    raise RowError(f"{text!r} has fractions of a cent")
            elif value != value.to_integral_value():
                raise RowError(f"{text!r} is not a whole number")
            # A value the column cannot hold is a rejected row, not a database error at write time.
            limit = 2**63 - 1 if isinstance(t, BigInteger) else 2**31 - 1
            if abs(value) > limit:
                raise RowError(f"{text!r} is too large for the column (at most {limit:,}{' cents' if self.target.endswith('_cents') else ''})")
            return int(value)
        if self.spec.case:
            text = getattr(text, self.spec.case)()
        if self.length is not None and len(text) > self.length:
            raise RowError(f"{len(text)} characters, more than the {self.length} allowed")
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


def records(path: Path, encoding: str, delimiter: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and (line number, fields) of every non-empty record, streamed; malformed files raise
    :class:`DataFileError` naming the line."""
    try:
        fh = path.open("r", encoding=encoding, newline="")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    except LookupError:
        raise DataFileError(f"{path}: unknown encoding {encoding!r} in the mapping's defaults") from None
    reader = csv.reader(fh, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        fh.close()
        raise DataFileError(f"{path}: empty file; expected a header row") from None
    except UnicodeDecodeError:
        fh.close()
        raise _decode_error(path, encoding) from None
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
                    raise _decode_error(path, encoding) from None
                line = start
                if not any(f.strip() for f in record):
                    continue
                yield line, record

    return header, rows()


def convert_rows(
    table_name: str, path: Path, mapping: ImportMapping, source: str, reject: Callable[[RowProblem], None]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream (line, converted row) of one file; each row that fails goes to ``reject`` with its reason.

    The mapping and the header are checked before the first row is read (:class:`DataFileError`).
    """
    header, rows = records(path, mapping.defaults.encoding, mapping.defaults.delimiter)
    columns = _compile(mapping, source, table_name, header, str(path))
    defaults = DEFAULTS[table_name]

    def converted() -> Iterator[tuple[int, dict[str, Any]]]:
        for line, record in rows:
            if len(record) != len(header):
                reject(RowProblem(path.name, line, f"expected {len(header)} fields, found {len(record)}", table_name,
                                  record=tuple(record)))
                continue
            try:
                yield line, _convert_row(table_name, columns, defaults, record)
            except RowError as exc:
                reject(RowProblem(path.name, line, str(exc), table_name, record=tuple(record)))

    return converted()


def _convert_row(table_name: str, columns: list[_Column], defaults: dict[str, Any], record: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = dict(defaults)
    for col in columns:
        try:
            value = col.read(record)
        except RowError as exc:
            raise RowError(f"{col.target}: {exc}") from None
        if value is not None or col.target not in row:
            row[col.target] = value
    for required in REQUIRED[table_name]:
        if row.get(required) in (None, ""):
            raise RowError(f"{required} is empty")
    for (tname, cname), allowed in ALLOWED_VALUES.items():
        if tname == table_name and row.get(cname) is not None and row[cname] not in allowed:
            raise RowError(f"{cname} {row[cname]!r} is not one of {', '.join(allowed)}; map it with `map`")
    check_row(table_name, row)
    return row


def check_row(table: str, row: dict[str, Any]) -> None:
    """Rules between a converted row's columns, and the ticket columns derived from the others."""
    if table == "subscriptions":
        if row["monthly_price_cents"] < 0:
            raise RowError("monthly_price_cents is negative")
        if row["cancelled_on"] is not None and row["cancelled_on"] < row["started_on"]:
            raise RowError(f"cancelled_on {row['cancelled_on']} is before started_on {row['started_on']}")
        if row["cancelled_on"] is None:
            row["cancel_reason"] = None
    elif table == "support_tickets":
        created = row["created_at"]
        for col in ("first_response_at", "resolved_at"):
            if row[col] is not None and row[col] < created:
                raise RowError(f"{col} {row[col]} is before created_at {created}")
        rating = row["csat_rating"]
        if rating is not None:
            if not 1 <= rating <= 5:
                raise RowError(f"csat_rating {rating} is not between 1 and 5")
            if row["resolved_at"] is None:
                raise RowError("csat_rating given for a ticket that is not resolved")
        if row.get("sentiment") is None:
            row["sentiment"] = (
                "neutral" if rating is None else ("negative" if rating <= 2 else ("positive" if rating >= 4 else "neutral"))
            )
        row["status"] = "resolved" if row["resolved_at"] else ("pending" if row["first_response_at"] else "open")


