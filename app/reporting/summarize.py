"""Summarising a batch's records: per-evaluator rates and means with intervals, breakdowns by
scenario, workflow and merchant, pass^k and flip rates over seeds, failures and worst cases.

Example:
    >>> from app.batch.records import RunDir
    >>> summary = summarize(RunDir("runs/nightly").records())  # doctest: +SKIP
    >>> summary.overall["grounding"].pass_rate.value  # doctest: +SKIP
    0.96
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.batch.records import RunRecord, latest_by_case
from app.errors import InvalidArgumentError
from app.reporting.failures import FailureGroup, failure_groups
from app.reporting.stats import FlipStats, bootstrap_interval, flip_stats, pass_hat_k_curve, wilson_interval

__all__ = [
    "ALL_KEY",
    "DIMENSIONS",
    "Estimate",
    "MetricRow",
    "ConversationStats",
    "CaseOutcome",
    "FailureReason",
    "Summary",
    "evaluator_keys",
    "Outcome",
    "outcome",
    "metric_row",
    "summarize",
]

ALL_KEY = "all"
"""Pseudo-evaluator: the conversation completed and passed every evaluator that ran on it."""

DIMENSIONS = ("scenario", "workflow", "merchant")
"""Case fields a summary breaks results down by."""


# ---------------------------------------------------------------------------------------------
# Outcomes of records
# ---------------------------------------------------------------------------------------------


def evaluator_keys(records: Iterable[RunRecord]) -> list[str]:
    """Evaluator keys in first-seen order, then :data:`ALL_KEY` when anything was scored."""
    keys: dict[str, None] = {}
    for r in records:
        for s in r.scores:
            keys.setdefault(s.key, None)
    return [*keys, ALL_KEY] if keys else []


@dataclass(frozen=True)
class Outcome:
    """One evaluator's verdict on one conversation, reduced to what statistics need."""

    score: float | None
    passed: bool | None
    skipped: bool = False


_SKIPPED = Outcome(None, None, skipped=True)


def outcome(record: RunRecord, key: str) -> Outcome | None:
    """The outcome of evaluator ``key`` on ``record``, or ``None`` when it was not scored.

    For :data:`ALL_KEY`: a failed conversation scores 0 and fails; otherwise it passes when
    every non-skipped evaluator passed, and its score is the mean of their scores.
    """
    if key == ALL_KEY:
        if record.status != "ok":
            return Outcome(0.0, False)
        ran = [s for s in record.scores if not s.skipped]
        if not ran:
            return _SKIPPED if record.scores else None
        scores = [s.score for s in ran if s.score is not None]
        mean = sum(scores) / len(scores) if scores else None
        return Outcome(mean, all(s.passed is not False for s in ran))
    result = record.score(key)
    if result is None:
        return None
    return _SKIPPED if result.skipped else Outcome(result.score, result.passed)


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval and sample size."""

    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class MetricRow:
    """One evaluator over a set of records.

    Attributes:
        n: non-skipped results. skipped: results of an evaluator that could not run.
        mean: mean score with a percentile-bootstrap 95% interval (``None`` without scores).
        pass_rate: passed / results with a verdict, with a Wilson 95% interval.
    """

    key: str
    n: int
    skipped: int
    mean: Estimate | None
    pass_rate: Estimate | None
    passed: int


@dataclass(frozen=True)
class ConversationStats:
    """Conversation-level counts: completed vs failed, how conversations ended, their size."""

    total: int
    ok: int
    failed: int
    termination: dict[str, int]
    retried: int
    mean_messages: float | None
    mean_tool_calls: float | None


@dataclass(frozen=True)
class CaseOutcome:
    """One conversation's standing, for "worst cases" lists (``index`` is its position in the records)."""

    index: int
    case_id: str
    status: str
    score: float | None
    failed: list[str]
    error: str | None


@dataclass(frozen=True)
class FailureReason:
    """A recurring reason an evaluator failed: its comment, how often, and example cases."""

    comment: str
    count: int
    cases: list[str]


@dataclass
class Summary:
    """Everything a report shows about a batch (see :func:`summarize`)."""

    evaluators: list[str]
    conversations: ConversationStats
    overall: dict[str, MetricRow]
    breakdowns: dict[str, dict[str, dict[str, MetricRow]]]
    pass_k: dict[str, dict[int, float]]
    flips: dict[str, FlipStats]
    failed_conversations: list[CaseOutcome]
    failure_reasons: dict[str, list[FailureReason]]
    worst: list[CaseOutcome]
    records: list[RunRecord] = field(repr=False, default_factory=list)
    failure_groups: list[FailureGroup] = field(default_factory=list)


def metric_row(key: str, outcomes: Iterable[Outcome | None], confidence: float = 0.95) -> MetricRow:
    """Aggregate outcomes (as returned by :func:`outcome`) of one evaluator into a :class:`MetricRow`."""
    present = [o for o in outcomes if o is not None]
    scored = [o for o in present if not o.skipped]
    skipped = len(present) - len(scored)
    scores = [o.score for o in scored if o.score is not None]
    verdicts = [o.passed for o in scored if o.passed is not None]
    mean = None
    if scores:
        low, high = bootstrap_interval(scores, confidence)
        mean = Estimate(sum(scores) / len(scores), low, high, len(scores))
    passed = sum(verdicts)
    rate = None
    if verdicts:
        low, high = wilson_interval(passed, len(verdicts), confidence)
        rate = Estimate(passed / len(verdicts), low, high, len(verdicts))
    return MetricRow(key, len(scored), skipped, mean, rate, passed)


def _groups(records: Sequence[RunRecord], key: str) -> list[list[bool]]:
    """Pass/fail per seed, grouped by case without its seed."""
    by_group: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        o = outcome(r, key)
        if o is not None and o.passed is not None:
            by_group[r.case.group].append(o.passed)
    return list(by_group.values())


def _conversation_stats(records: Sequence[RunRecord]) -> ConversationStats:
    ended = Counter(r.transcript.termination_reason if r.transcript else "no transcript" for r in records)
    transcripts = [r.transcript for r in records if r.transcript]
    return ConversationStats(
        total=len(records),
        ok=sum(r.status == "ok" for r in records),
        failed=sum(r.status != "ok" for r in records),
        termination=dict(ended.most_common()),
        retried=sum(r.attempts > 1 for r in records),
        mean_messages=sum(len(t.messages) for t in transcripts) / len(transcripts) if transcripts else None,
        mean_tool_calls=sum(len(t.tool_calls()) for t in transcripts) / len(transcripts) if transcripts else None,
    )


def _case_outcome(index: int, r: RunRecord) -> CaseOutcome:
    o = outcome(r, ALL_KEY)
    score = o.score if o is not None else None
    failed = [s.key for s in r.scores if not s.skipped and s.passed is False]
    return CaseOutcome(index, r.case.id, r.status, score, failed, r.error)


def _failure_reasons(records: Sequence[RunRecord], key: str, top: int = 5) -> list[FailureReason]:
    cases: dict[str, list[str]] = defaultdict(list)
    for r in records:
        s = r.score(key)
        if s is not None and not s.skipped and s.passed is False:
            cases[s.comment.strip() or "(no comment)"].append(r.case.id)
    ranked = sorted(cases.items(), key=lambda item: (-len(item[1]), item[0]))[:top]
    return [FailureReason(comment, len(ids), ids[:3]) for comment, ids in ranked]


def summarize(records: Iterable[RunRecord], worst: int = 10, confidence: float = 0.95) -> Summary:
    """Statistics of a batch's records, overall and per scenario, workflow and merchant.

    Per evaluator (plus :data:`ALL_KEY`): n, mean score with a bootstrap interval, pass rate
    with a Wilson interval, skipped count; pass^k and flip rate over seeds of each case group;
    the recurring failure comments, and failures grouped by reason category
    (:mod:`app.reporting.failures`). Per conversation: completed/failed counts, termination
    reasons, and the ``worst`` lowest-scoring cases (failed conversations first). Skipped
    results are excluded from rates and means and counted separately. Duplicate cases keep the
    last record (:func:`~app.batch.records.latest_by_case`).

    Raises:
        InvalidArgumentError: a negative ``worst``.
    """
    if worst < 0:
        raise InvalidArgumentError(f"worst must be zero or more, got {worst}")
    records = latest_by_case(list(records))
    keys = evaluator_keys(records)
    outcomes = {key: [outcome(r, key) for r in records] for key in keys}
    overall = {key: metric_row(key, outcomes[key], confidence) for key in keys}
    breakdowns: dict[str, dict[str, dict[str, MetricRow]]] = {}
    for dim in DIMENSIONS:
        idx_by_value: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(records):
            idx_by_value[getattr(r.case, dim)].append(i)
        breakdowns[dim] = {
            value: {key: metric_row(key, (outcomes[key][i] for i in idx), confidence) for key in keys}
            for value, idx in sorted(idx_by_value.items())
        }
    groups = {key: _groups(records, key) for key in keys}
    ranked = sorted(
        (_case_outcome(i, r) for i, r in enumerate(records)),
        key=lambda c: (c.status == "ok", c.score if c.score is not None else 2.0, -len(c.failed), c.case_id),
    )
    worst_cases = [c for c in ranked if c.status != "ok" or c.failed or (c.score is not None and c.score < 1)]
    return Summary(
        evaluators=keys,
        conversations=_conversation_stats(records),
        overall=overall,
        breakdowns=breakdowns,
        pass_k={key: pass_hat_k_curve(groups[key]) for key in keys},
        flips={key: flip_stats(groups[key]) for key in keys},
        failed_conversations=[c for c in ranked if c.status != "ok"],
        failure_reasons={key: _failure_reasons(records, key) for key in keys if key != ALL_KEY},
        worst=worst_cases[:worst],
        records=records,
        failure_groups=failure_groups(records),
    )
