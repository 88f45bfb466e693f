"""What a batch came to: cases ok/failed, how conversations ended, pass rate per evaluator, usage.

Built from a batch's records (the latest per case), by ``cjsim batch`` at the end of a run and
by ``cjsim eval`` after re-scoring. Detailed statistics across batches live in the reports.

Example:
    >>> summary = BatchSummary.from_records(RunDir("runs/nightly").records())  # doctest: +SKIP
    >>> summary.evaluators["grounding"].pass_rate  # doctest: +SKIP
    0.96
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.batch.records import RunRecord, latest_by_case
from app.batch.usage import UsageTotals

__all__ = ["EvaluatorTally", "BatchSummary"]


@dataclass
class EvaluatorTally:
    """One evaluator's verdicts over a batch; skipped results do not count towards the rate."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def pass_rate(self) -> float | None:
        """Passed / scored, or ``None`` when nothing was scored."""
        return self.passed / self.scored if self.scored else None


@dataclass
class BatchSummary:
    """Counts over the latest record of each case.

    Attributes:
        cases: how many cases the batch has (0 when unknown).
        termination: conversations per termination reason (ok cases only).
        failures: ``(case id, error)`` of failed cases, in record order (interrupted ones are only counted).
    """

    cases: int = 0
    ok: int = 0
    failed: int = 0
    interrupted: int = 0
    termination: Counter[str] = field(default_factory=Counter)
    evaluators: dict[str, EvaluatorTally] = field(default_factory=dict)
    usage: UsageTotals = field(default_factory=UsageTotals)
    failures: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_records(cls, records: Iterable[RunRecord], cases: int = 0) -> BatchSummary:
        """The summary of ``records`` (older records of a case superseded by newer ones are ignored)."""
        summary = cls(cases=cases)
        for record in latest_by_case(list(records)):
            summary.add(record)
        return summary

    @property
    def done(self) -> int:
        return self.ok + self.failed + self.interrupted

    @property
    def missing(self) -> int:
        """Cases without any record (the batch was interrupted)."""
        return max(0, self.cases - self.done)

    def add(self, record: RunRecord) -> None:
        """Count one record (each case once)."""
        if record.status == "interrupted":
            self.interrupted += 1
            return
        if record.status == "failed":
            self.failed += 1
            self.failures.append((record.case.id, record.error or "unknown error"))
            return
        self.ok += 1
        if record.transcript is not None:
            self.termination[record.transcript.termination_reason] += 1
            self.usage.add(record.transcript.usage, record.transcript.meta)
        for result in record.scores:
            judged = result.details.get("usage") if result.key == "judge" and result.details else None
            if isinstance(judged, dict):
                self.usage.add({"judge": judged})
            tally = self.evaluators.setdefault(result.key, EvaluatorTally())
            if result.skipped or result.passed is None:
                tally.skipped += 1
            elif result.passed:
                tally.passed += 1
            else:
                tally.failed += 1
