"""Audience export: one tier of a run date's priority queue as a CSV file.

The file holds the ``customer_priority`` columns (money in major units of the merchant's currency,
with a ``currency`` column) in queue order, at most ``limit`` rows. The only destination is ``csv``;
any other (the seed's ``gsheet`` or ``both``) is refused with a message naming the valid one, since
no spreadsheet upload is built. Files go to the folder of ``data/retention_ops.yaml``
(``exports/retention`` under the working directory by default), named
``audience_<date>_<tier>.csv``; an export of the same date and tier replaces the file.

Example:
    >>> export_path(Path("exports"), dt.date(2025, 3, 1), "P1").as_posix()
    'exports/audience_2025-03-01_P1.csv'
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from app.errors import InvalidArgumentError
from app.formatting import count, currency_info, to_major
from app.retention.queue import queue_counts, read_queue
from app.retention.settings import RetentionOpsSettings, Tier, load_settings

__all__ = [
    "DESTINATIONS",
    "CSV_COLUMNS",
    "ExportResult",
    "check_destination",
    "export_path",
    "export_audience",
]

DESTINATIONS = ("csv",)
"""Where an audience can go (a spreadsheet upload is not built)."""

CSV_COLUMNS = (
    "run_date",
    "customer_id",
    "priority_tier",
    "priority_score",
    "priority_reason",
    "recommended_action",
    "retention_status",
    "churn_risk_level",
    "churn_risk_score",
    "is_frequency_drop",
    "is_status_inconsistent",
    "is_value_drop",
    "days_since_last_order",
    "last_order_date",
    "total_revenue",
    "total_orders",
    "avg_order_value",
    "value_proxy",
    "currency",
)
"""The ``customer_priority`` columns, money in major units (``total_revenue_cents`` -> ``total_revenue``)."""

_MONEY = {
    "total_revenue": "total_revenue_cents",
    "avg_order_value": "avg_order_value_cents",
    "value_proxy": "value_proxy_cents",
}


class ExportResult(BaseModel):
    """What an export wrote."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date
    tier: Tier
    destination: str
    rows_exported: int
    tier_size: int = Field(description="customers of the tier in the queue (more than rows_exported when limited)")
    path: str = Field(description="the CSV file written")
    queue_built: bool = Field(False, description="the date's queue was built by this export (none existed)")

    def to_text(self) -> str:
        cut = f" (limited from {count(self.tier_size)})" if self.rows_exported < self.tier_size else ""
        built = " The priority queue of that date was built first." if self.queue_built else ""
        return f"Exported {count(self.rows_exported)} {self.tier} customers of {self.date}{cut} to {self.path}.{built}"


def check_destination(destination: str) -> str:
    """``destination`` if supported; otherwise an error naming the valid one."""
    if destination not in DESTINATIONS:
        raise InvalidArgumentError(
            f"destination {destination!r} is not supported; the only destination is 'csv' "
            "(no spreadsheet upload is built: export to CSV and import the file)"
        )
    return destination


def export_path(folder: Path, run_date: dt.date, tier: Tier) -> Path:
    """Where the audience of one run date and tier is written."""
    return folder / f"audience_{run_date.isoformat()}_{tier}.csv"


def _csv_row(row: dict[str, Any]) -> dict[str, Any]:
    digits = currency_info(row["currency"]).digits
    out = {k: row[k] for k in CSV_COLUMNS if k not in _MONEY}
    for column, stored in _MONEY.items():
        out[column] = f"{to_major(row[stored], row['currency']):.{digits}f}"
    for flag in ("is_frequency_drop", "is_status_inconsistent", "is_value_drop"):
        out[flag] = "true" if row[flag] else "false"
    out["run_date"] = str(row["run_date"])[:10]
    out["last_order_date"] = str(row["last_order_date"])[:10]
    out["priority_score"] = f"{float(row['priority_score']):.1f}"
    return out


def export_audience(
    ops: Connection,
    run_date: dt.date,
    tier: Tier,
    destination: str = "csv",
    limit: int | None = None,
    settings: RetentionOpsSettings | None = None,
) -> ExportResult:
    """Write the tier's rows of the run date's queue to a CSV file (read from the operations store).

    Raises:
        InvalidArgumentError: an unsupported destination or a limit outside 1..max_limit.
        DataUnavailableError: no queue was built for ``run_date``.
    """
    settings = settings or load_settings()
    check_destination(destination)
    limit = settings.export.default_limit if limit is None else limit
    if not 1 <= limit <= settings.export.max_limit:
        raise InvalidArgumentError(f"limit must be between 1 and {settings.export.max_limit:,}, got {limit}")
    rows = read_queue(ops, run_date, tier, limit)
    built = queue_counts(ops, run_date)
    assert built is not None  # read_queue refuses a date without a queue
    path = export_path(settings.export.folder, run_date, tier)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".csv.part")
        with partial.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(_csv_row(r) for r in rows)
        os.replace(partial, path)  # readers never see a half-written file
    except OSError as exc:
        raise InvalidArgumentError(
            f"cannot write the export to {path}: {exc.strerror or exc}; set export.folder in retention_ops.yaml "
            "to a writable folder"
        ) from None
    return ExportResult(
        date=run_date, tier=tier, destination=destination, rows_exported=len(rows),
        tier_size=built.tier_count(tier), path=path.as_posix(),
    )  # fmt: skip
