"""Rejected rows of an import: summarised by reason, written to a rejects file on request.

A file-wide mistake (a wrong date format, say) rejects every row for the same reason; the
report then says so once, with the count and the first few examples, instead of one line per
row. Every rejected row can be written to a CSV (``--rejects FILE``) with its source file, line,
table, reason, the offending value and the original record.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import InvalidArgumentError

__all__ = ["Reject", "ReasonCount", "RejectLog", "EXAMPLES_PER_REASON", "REJECTS_HEADER"]

EXAMPLES_PER_REASON = 3
"""Examples listed per reason in messages (the rejects file holds them all)."""

REJECTS_HEADER = ("file", "line", "table", "reason", "value", "record")

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


@dataclass(frozen=True)
class Reject:
    """One rejected row: where it is, why, the offending value and the original fields."""

    file: str
    line: int
    reason: str
    table: str = ""
    value: str = ""
    record: tuple[str, ...] = ()

    def __str__(self) -> str:
        value = f" (value {self.value!r})" if self.value else ""
        return f"{self.file}:{self.line}: {self.reason}{value}"


@dataclass
class ReasonCount:
    """How many rows one reason rejected, with the first few of them."""

    reason: str
    count: int
    examples: list[Reject] = field(default_factory=list)


def _reason_key(reject: Reject) -> str:
    # Version-1 reasons quote the value in the message: group them without it.
    return f"{reject.table}: " + _QUOTED.sub("…", reject.reason)


class RejectLog:
    """Collects rejected rows (bounded examples in memory, all rows to the rejects file if any).

    Args:
        rejects_path: where to write every rejected row as CSV, or None to keep only counts and examples.
    """

    def __init__(self, rejects_path: Path | None = None) -> None:
        self.reasons: dict[str, ReasonCount] = {}
        self.total = 0
        self._path = rejects_path
        self._fh: io.TextIOWrapper | None = None
        self._writer: csv.writer | None = None  # type: ignore[valid-type]

    def open(self) -> None:
        """Create the rejects file (header only) so that a failed import still leaves a complete one."""
        if self._path is None or self._fh is not None:
            return
        try:
            self._fh = self._path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise InvalidArgumentError(f"--rejects {self._path}: cannot write ({exc.strerror or exc}); choose another path") from None
        self._writer = csv.writer(self._fh)
        self._writer.writerow(REJECTS_HEADER)

    def add(self, reject: Reject) -> None:
        """Record one rejected row."""
        self.add_many([reject])

    def add_many(self, rejects: Iterable[Reject]) -> None:
        """Record rejected rows."""
        for r in rejects:
            self.total += 1
            key = _reason_key(r)
            entry = self.reasons.get(key)
            if entry is None:
                entry = self.reasons[key] = ReasonCount(key, 0)
            entry.count += 1
            if len(entry.examples) < EXAMPLES_PER_REASON:
                entry.examples.append(r)
            if self._path is not None:
                self.open()
                assert self._writer is not None
                self._writer.writerow((r.file, r.line, r.table, r.reason, r.value, _record_text(r.record)))

    def close(self) -> None:
        """Flush and close the rejects file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def summary(self) -> str:
        """Counts per reason, most frequent first, with the first examples of each."""
        lines = []
        for entry in sorted(self.reasons.values(), key=lambda e: (-e.count, e.reason)):
            lines.append(f"  {entry.count:,} x {entry.reason}")
            for ex in entry.examples:
                lines.append(f"      e.g. {ex}")
            if entry.count > len(entry.examples):
                lines.append(f"      ... and {entry.count - len(entry.examples):,} more")
        return "\n".join(lines)


def _record_text(record: tuple[str, ...]) -> str:
    if not record:
        return ""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(record)
    return buf.getvalue()
