"""Backtesting a stored run against outcomes realised in a real launch and imported later.

The merchant ran the action for real with a randomised holdout and brings back one row per
customer (docs/experiments.md, "Backtesting against real outcomes"):

``customer_id,group,retained,converted,revenue_cents[,segment]``

``group`` is ``treated`` or ``holdout``; ``retained`` and ``converted`` are 0 or 1;
``revenue_cents`` is a whole number of minor units (negative when refunds exceed charges).
The realised effect of each metric is the difference in means, treated minus holdout; it is set
against the run's pooled prediction (the error) and its 95% *prediction* interval (the coverage:
a real launch is "one more world"), and per segment against the run's segment estimates (the
ranking accuracy), through the same :class:`~app.experiments.backtest.Calibration` as a backtest
on held-out generated worlds.

Example:
    >>> from app.experiments import simulation_run_rows
    >>> outcomes = read_outcomes(Path("examples/imported_outcomes/realised_outcomes.csv"))  # doctest: +SKIP
    >>> calibration = backtest_imported(simulation_run_rows(store)[0], outcomes)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import DataFileError, InvalidArgumentError
from app.experiments.backtest import Calibration, ranking_accuracy
from app.experiments.population import METRICS
from app.experiments.records import SimulationRunRow
from app.experiments.stats import Interval
from app.storage.csv_reader import records
from app.storage.import_problems import EXAMPLES_PER_REASON, Reject

__all__ = ["OUTCOME_COLUMNS", "GROUPS", "RealisedOutcome", "ImportedOutcomes", "read_outcomes", "backtest_imported"]

OUTCOME_COLUMNS = ("customer_id", "group", "retained", "converted", "revenue_cents", "segment")
"""The columns of an outcomes file, in any order; ``segment`` is optional."""

GROUPS = ("treated", "holdout")
"""The values of ``group``."""

_REQUIRED = OUTCOME_COLUMNS[:5]


@dataclass(frozen=True)
class RealisedOutcome:
    """One customer's realised outcome in a real launch."""

    customer_id: str
    treated: bool
    retained: int
    converted: int
    revenue_cents: int
    segment: str | None = None

    def value(self, metric: str) -> int:
        """The outcome of ``metric`` (one of :data:`~app.experiments.population.METRICS`)."""
        return int(getattr(self, metric))


@dataclass(frozen=True)
class ImportedOutcomes:
    """The rows of one outcomes file and where they come from."""

    source: str
    """The file's name."""
    rows: tuple[RealisedOutcome, ...]

    @property
    def treated(self) -> int:
        """Customers in the treated group."""
        return sum(r.treated for r in self.rows)

    @property
    def holdout(self) -> int:
        """Customers held out."""
        return len(self.rows) - self.treated

    def require_both_groups(self) -> None:
        """Raise :class:`InvalidArgumentError` unless the rows hold both a treated and a held-out customer."""
        if not self.treated or not self.holdout:
            missing = "treated" if not self.treated else "holdout"
            raise InvalidArgumentError(f"{self.source} has no {missing} rows; the realised effect needs both groups "
                                       f"(group = {' or '.join(GROUPS)})")  # fmt: skip

    def effects(self, segment: str | None = None) -> dict[str, float] | None:
        """Metric -> mean of the treated minus mean of the holdout (of one segment when given);
        ``None`` when a group is empty."""
        rows = [r for r in self.rows if segment is None or r.segment == segment]
        treated = [r for r in rows if r.treated]
        holdout = [r for r in rows if not r.treated]
        if not treated or not holdout:
            return None
        mean = lambda group, m: sum(r.value(m) for r in group) / len(group)
        return {m: mean(treated, m) - mean(holdout, m) for m in METRICS}

    def segment_effects(self) -> dict[str, float]:
        """Segment -> realised revenue uplift per customer (segments with both groups present)."""
        out = {}
        for seg in sorted({r.segment for r in self.rows if r.segment}):
            e = self.effects(seg)
            if e is not None:
                out[seg] = e["revenue_cents"]
        return out


def _flag(column: str, text: str) -> int:
    if text not in ("0", "1"):
        raise ValueError(f"{column} {text!r} is not 0 or 1")
    return int(text)


def _parse(fields: dict[str, str]) -> RealisedOutcome:
    customer_id = fields["customer_id"]
    if not customer_id:
        raise ValueError("customer_id is empty")
    group = fields["group"].lower()
    if group not in GROUPS:
        raise ValueError(f"group {fields['group']!r} is not one of {', '.join(GROUPS)}")
    revenue = fields["revenue_cents"]
    try:
        revenue_cents = int(revenue)
    except ValueError:
        raise ValueError(f"revenue_cents {revenue!r} is not a whole number of cents") from None
    return RealisedOutcome(customer_id, group == "treated", _flag("retained", fields["retained"]),
                           _flag("converted", fields["converted"]), revenue_cents,
                           fields.get("segment") or None)  # fmt: skip


def _check_utf8(path: Path) -> None:
    # The shared reader's own message points at an import mapping's encoding, which this file has not.
    try:
        raw = path.read_bytes()
    except OSError:
        return  # the reader names the problem
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataFileError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from None


def read_outcomes(path: Path) -> ImportedOutcomes:
    """Read an outcomes file (UTF-8, comma-separated, a header row; blank lines skipped).

    Every row is checked; a file with any bad row is refused whole, since a backtest on the rows
    that happen to parse would be biased.

    Raises:
        DataFileError: the file cannot be read, a required column is missing or unknown, or rows
            are malformed (the message names the first few by line, with the reason and count).
    """
    _check_utf8(path)
    header, rows = records(path, "utf-8", ",")
    missing = [c for c in _REQUIRED if c not in header]
    unknown = [c for c in header if c not in OUTCOME_COLUMNS]
    if missing or unknown:
        problems = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + \
                   ([f"unknown column(s) {', '.join(unknown)}"] if unknown else [])  # fmt: skip
        raise DataFileError(f"{path}:1: {'; '.join(problems)}; the header must be {','.join(_REQUIRED)}[,segment]")
    bad: list[Reject] = []
    out: list[RealisedOutcome] = []
    seen: dict[str, int] = {}
    for line, record in rows:
        if len(record) != len(header):
            bad.append(Reject(path.name, line, f"expected {len(header)} fields, found {len(record)}"))
            continue
        fields = {h: v.strip() for h, v in zip(header, record, strict=True)}
        try:
            row = _parse(fields)
        except ValueError as exc:
            bad.append(Reject(path.name, line, str(exc)))
            continue
        if row.customer_id in seen:
            bad.append(Reject(path.name, line, f"customer_id {row.customer_id!r} repeats line {seen[row.customer_id]}"))
            continue
        seen[row.customer_id] = line
        out.append(row)
    if bad:
        shown = "; ".join(str(b) for b in bad[:EXAMPLES_PER_REASON])
        more = f"; and {len(bad) - EXAMPLES_PER_REASON:,} more" if len(bad) > EXAMPLES_PER_REASON else ""
        raise DataFileError(f"{path}: {len(bad):,} malformed row(s), fix them and run again: {shown}{more}")
    return ImportedOutcomes(path.name, tuple(out))


def _interval(run: SimulationRunRow, kind: str, metric: str) -> Interval | None:
    stored: dict[str, Any] | None = run.intervals.get(kind, {}).get(metric)
    return None if stored is None else Interval(**stored)


def backtest_imported(run: SimulationRunRow, outcomes: ImportedOutcomes) -> Calibration:
    """Score stored run ``run`` against realised ``outcomes`` (see the module docstring).

    ``per_world`` holds one entry, the file, with its realised effects. Ranking accuracy compares
    the run's stored segment estimates (``predicted_outcomes["segments"]``) with the file's
    per-segment revenue uplifts; it is ``None`` when fewer than two segments are in both (no
    ``segment`` column, or a run on a single segment).

    Raises:
        InvalidArgumentError: no treated or no holdout rows, or a run without prediction intervals
            (fewer than 2 iterations).
    """
    outcomes.require_both_groups()
    realised = outcomes.effects()
    assert realised is not None  # both groups are present
    prediction = {m: _interval(run, "prediction", m) for m in METRICS}
    pooled = {m: _interval(run, "pooled", m) for m in METRICS}
    if any(i is None for i in prediction.values()) or any(i is None for i in pooled.values()):
        raise InvalidArgumentError(f"simulation run #{run.run_id} has no prediction interval ({run.iterations} iteration); "
                                   "backtest a run of at least 2 iterations")  # fmt: skip
    inside = [p.contains(realised[m]) for m, p in prediction.items() if p is not None]
    return Calibration(
        realised_source=f"imported outcomes {outcomes.source}: {outcomes.treated} treated, {outcomes.holdout} holdout",
        predicted={m: i.estimate for m, i in pooled.items() if i is not None},
        realised=realised,
        per_world={outcomes.source: realised},
        interval_coverage=sum(inside) / len(inside),
        ranking_accuracy=ranking_accuracy(run.predicted_outcomes.get("segments", {}), outcomes.segment_effects()),
    )
