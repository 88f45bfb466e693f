"""Statistics of a batch: intervals, pass^k over seeds, flip rates, summaries and run comparison.

Pure Python (``math``, ``statistics``, ``random``) so reports need no numerical stack. Every
resampling method takes a seed and is deterministic: the same records give the same report.

Example:
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(lo, 3), round(hi, 3)
    (0.49, 0.943)
    >>> pass_hat_k([[True, True, False]], 2)  # C(2,2)/C(3,2)
    0.3333333333333333
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from statistics import NormalDist

from app.errors import InvalidArgumentError, UnknownNameError
from app.evaluation.records import RunRecord, latest_by_case

__all__ = [
    "ALL_KEY",
    "DIMENSIONS",
    "Estimate",
    "FlipStats",
    "MetricRow",
    "ConversationStats",
    "CaseOutcome",
    "FailureReason",
    "Summary",
    "z_value",
    "wilson_interval",
    "newcombe_interval",
    "bootstrap_interval",
    "bootstrap_diff_interval",
    "pass_hat_k",
    "pass_hat_k_curve",
    "flip_stats",
    "evaluator_keys",
    "Outcome",
    "outcome",
    "metric_row",
    "summarize",
    "COMPLETED_KEY",
    "MetricDelta",
    "Comparison",
    "metric_names",
    "compare_runs",
]

ALL_KEY = "all"
"""Pseudo-evaluator: the conversation completed and passed every evaluator that ran on it."""

DIMENSIONS = ("scenario", "workflow", "merchant")
"""Case fields a summary breaks results down by."""

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0



# ---------------------------------------------------------------------------------------------
# Interval primitives
# ---------------------------------------------------------------------------------------------


def z_value(confidence: float = 0.95) -> float:
    """The two-sided standard normal quantile: ``z`` with P(|Z| <= z) = confidence (1.96 at 95%)."""
    if not 0.0 < confidence < 1.0:
        raise InvalidArgumentError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    With p = successes/n and z the normal quantile::

        centre = (p + z²/2n) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)
        interval = [centre - half, centre + half]

    Unlike the Wald interval it stays inside [0, 1] and keeps its coverage near 0% and 100%.
    ``n == 0`` gives the uninformative [0, 1].
    """
    if n < 0 or not 0 <= successes <= n:
        raise InvalidArgumentError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # the exact bounds at 0% and 100% are 0 and 1; rounding would leave e.g. 3e-17
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def newcombe_interval(
    a_successes: int,
    a_n: int,
    b_successes: int,
    b_n: int,
    confidence: float = 0.95,
    phi: float = 0.0,
) -> tuple[float, float]:
    """Newcombe's square-and-add interval for the difference of proportions ``p_B - p_A``.

    With Wilson intervals [l_A, u_A] and [l_B, u_B] and d = p_B - p_A::

        low  = d - sqrt((p_B - l_B)² - 2φ(p_B - l_B)(u_A - p_A) + (u_A - p_A)²)
        high = d + sqrt((u_B - p_B)² - 2φ(u_B - p_B)(p_A - l_A) + (p_A - l_A)²)

    ``phi = 0`` is the two-sample (independent) interval; for paired data pass the correlation
    of the paired outcomes (see :func:`_paired_phi`), which narrows the interval when the runs
    agree case by case.

    Raises:
        InvalidArgumentError: an empty sample, successes outside 0..n, or ``phi`` outside [-1, 1].
    """
    if a_n < 1 or b_n < 1:
        raise InvalidArgumentError(f"each sample needs at least one outcome, got n_A={a_n}, n_B={b_n}")
    if not -1.0 <= phi <= 1.0:
        raise InvalidArgumentError(f"phi is a correlation and must be in [-1, 1], got {phi}")
    pa, pb = a_successes / a_n, b_successes / b_n
    la, ua = wilson_interval(a_successes, a_n, confidence)
    lb, ub = wilson_interval(b_successes, b_n, confidence)
    d = pb - pa
    low = d - math.sqrt(max(0.0, (pb - lb) ** 2 - 2 * phi * (pb - lb) * (ua - pa) + (ua - pa) ** 2))
    high = d + math.sqrt(max(0.0, (ub - pb) ** 2 - 2 * phi * (ub - pb) * (pa - la) + (pa - la) ** 2))
    return max(-1.0, low), min(1.0, high)


def _paired_phi(both: int, only_a: int, only_b: int, neither: int) -> float:
    """Correlation of paired pass/fail outcomes for :func:`newcombe_interval`.

    φ = (e·h − f·g) / sqrt((e+f)(g+h)(e+g)(f+h)) over the 2×2 table (e both pass, f only A,
    g only B, h neither), 0 when a margin is empty. A positive numerator is reduced by n/2
    (continuity correction), which only shrinks φ and so widens the interval.
    """
    n = both + only_a + only_b + neither
    num = both * neither - only_a * only_b
    if num > 0:
        num = max(0.0, num - n / 2)
    denom = math.sqrt((both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither))
    return num / denom if denom else 0.0


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of sorted values (the common "type 7" definition)."""
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _check_resampling(confidence: float, resamples: int) -> None:
    z_value(confidence)  # validates the range
    if resamples < 1:
        raise InvalidArgumentError(f"resamples must be positive, got {resamples}")


def _percentile_interval(stats: list[float], confidence: float) -> tuple[float, float]:
    stats.sort()
    tail = (1 - confidence) / 2
    return _quantile(stats, tail), _quantile(stats, 1 - tail)


def bootstrap_interval(
    values: Sequence[float],
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of ``values``.

    Draw ``resamples`` samples of size n with replacement (``random.Random(seed)``), take each
    sample's mean, and return the (1−c)/2 and (1+c)/2 quantiles of those means. Deterministic
    for a given seed. Constant data (including n = 1) gives a zero-width interval.
    """
    n = len(values)
    if n == 0:
        raise InvalidArgumentError("bootstrap needs at least one value")
    _check_resampling(confidence, resamples)
    if min(values) == max(values):
        return float(values[0]), float(values[0])
    rng = random.Random(seed)
    pool = list(values)
    means = [sum(rng.choices(pool, k=n)) / n for _ in range(resamples)]
    return _percentile_interval(means, confidence)


def bootstrap_diff_interval(
    a: Sequence[float],
    b: Sequence[float],
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Two-sample percentile bootstrap interval for ``mean(b) - mean(a)``.

    Each resample draws A and B independently with replacement; use it when the runs share no
    cases. For paired cases bootstrap the per-case differences with :func:`bootstrap_interval`.
    """
    if not a or not b:
        raise InvalidArgumentError("bootstrap needs at least one value in each sample")
    _check_resampling(confidence, resamples)
    rng = random.Random(seed)
    pa, pb, na, nb = list(a), list(b), len(a), len(b)
    deltas = [sum(rng.choices(pb, k=nb)) / nb - sum(rng.choices(pa, k=na)) / na for _ in range(resamples)]
    return _percentile_interval(deltas, confidence)


# ---------------------------------------------------------------------------------------------
# Repeats over seeds
# ---------------------------------------------------------------------------------------------


def pass_hat_k(groups: Iterable[Sequence[bool]], k: int) -> float | None:
    """pass^k: the chance that k seeds drawn without replacement from a case all pass.

    For a group with n seeds of which c pass, C(c, k) / C(n, k) is the unbiased estimate
    (τ-bench); the result is its mean over groups with at least k seeds, or ``None`` if none
    has. pass^1 is the plain pass rate averaged per group; pass^k falls as k grows unless every
    case is reliable.
    """
    if k < 1:
        raise InvalidArgumentError(f"k must be at least 1, got {k}")
    estimates = [math.comb(sum(g), k) / math.comb(len(g), k) for g in groups if len(g) >= k]
    return sum(estimates) / len(estimates) if estimates else None


def pass_hat_k_curve(groups: Iterable[Sequence[bool]]) -> dict[int, float]:
    """pass^k for k = 1 .. the largest number of seeds in a group (each k over the groups that have k)."""
    groups = [list(g) for g in groups if g]
    top = max((len(g) for g in groups), default=0)
    return {k: value for k in range(1, top + 1) if (value := pass_hat_k(groups, k)) is not None}


@dataclass(frozen=True)
class FlipStats:
    """How often repeats of one case (different seeds) disagree on pass/fail.

    Attributes:
        groups: case groups with at least two scored seeds (the only ones that can flip).
        flipped: groups whose seeds do not all agree.
        rate: flipped / groups.
        pairwise: mean over groups of the share of seed pairs that disagree, c(n−c) / C(n, 2).
    """

    groups: int
    flipped: int
    rate: float | None
    pairwise: float | None


def flip_stats(groups: Iterable[Sequence[bool]]) -> FlipStats:
    """Flip rate and mean pairwise disagreement over case groups (see :class:`FlipStats`)."""
    repeated = [list(g) for g in groups if len(g) >= 2]
    if not repeated:
        return FlipStats(0, 0, None, None)
    flipped = sum(1 for g in repeated if 0 < sum(g) < len(g))
    pairwise = sum(sum(g) * (len(g) - sum(g)) / math.comb(len(g), 2) for g in repeated) / len(repeated)
    return FlipStats(len(repeated), flipped, flipped / len(repeated), pairwise)


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
    the recurring failure comments. Per conversation: completed/failed counts, termination
    reasons, and the ``worst`` lowest-scoring cases (failed conversations first). Skipped
    results are excluded from rates and means and counted separately. Duplicate cases keep the
    last record (:func:`~app.evaluation.records.latest_by_case`).

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
    )

# ---------------------------------------------------------------------------------------------
# Comparing two runs
# ---------------------------------------------------------------------------------------------

COMPLETED_KEY = "completed"
"""Comparison metric: share of conversations that completed (did not fail)."""

STATS = ("pass_rate", "mean")


@dataclass(frozen=True)
class MetricDelta:
    """One metric in runs A and B and the change B − A with its interval.

    ``method`` names the interval: ``paired Newcombe`` / ``paired bootstrap`` over shared
    cases, ``Newcombe-Wilson`` / ``bootstrap`` for independent samples, or ``-`` when the
    metric exists in only one run. ``worse``/``better`` apply the decision rule of
    :func:`compare_runs`.
    """

    key: str
    stat: str
    a: float | None
    b: float | None
    n_a: int
    n_b: int
    delta: float | None
    low: float | None
    high: float | None
    method: str
    worse: bool = False
    better: bool = False

    @property
    def name(self) -> str:
        return f"{self.key}.{self.stat}"


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_runs`."""

    rows: list[MetricDelta]
    alpha: float
    min_effect: float

    @property
    def regressions(self) -> list[MetricDelta]:
        """Metrics significantly worse in B (see :func:`compare_runs`)."""
        return [r for r in self.rows if r.worse]


def _metric_values(records: Sequence[RunRecord], key: str, stat: str) -> dict[str, float]:
    """Case id -> value (1/0 for pass rates, the score for means) of one metric."""
    values: dict[str, float] = {}
    for r in records:
        if key == COMPLETED_KEY:
            values[r.case.id] = 1.0 if r.status == "ok" else 0.0
            continue
        o = outcome(r, key)
        if o is None or o.skipped:
            continue
        v = o.passed if stat == "pass_rate" else o.score
        if v is not None:
            values[r.case.id] = float(v)
    return values


def metric_names(a: Sequence[RunRecord], b: Sequence[RunRecord]) -> list[tuple[str, str]]:
    """(key, stat) of every metric two runs can be compared on, in report order."""
    keys = [COMPLETED_KEY, *dict.fromkeys([*evaluator_keys(a), *evaluator_keys(b)])]
    if ALL_KEY in keys:  # the pass-everything line reads best right after "completed"
        keys.remove(ALL_KEY)
        keys.insert(1, ALL_KEY)
    return [(k, s) for k in keys for s in STATS if not (k == COMPLETED_KEY and s == "mean")]


def _select(available: list[tuple[str, str]], wanted: Sequence[str]) -> list[tuple[str, str]]:
    if not wanted:
        return available
    valid = {f"{k}.{s}" for k, s in available} | {k for k, _ in available}
    chosen: set[tuple[str, str]] = set()
    for name in wanted:
        if name not in valid:
            raise UnknownNameError("metric", name, valid, hint="name an evaluator or evaluator.pass_rate / evaluator.mean")
        chosen |= {(k, s) for k, s in available if name in (k, f"{k}.{s}")}
    return [m for m in available if m in chosen]


def _delta(key: str, stat: str, va: dict[str, float], vb: dict[str, float], confidence: float) -> MetricDelta:
    if not va or not vb:
        a = sum(va.values()) / len(va) if va else None
        b = sum(vb.values()) / len(vb) if vb else None
        return MetricDelta(key, stat, a, b, len(va), len(vb), None, None, None, "-")
    shared = [c for c in va if c in vb]
    paired = len(shared) >= 2 and len(shared) >= max(len(va), len(vb)) / 2
    if paired:
        xa, xb = [va[c] for c in shared], [vb[c] for c in shared]
    else:
        xa, xb = list(va.values()), list(vb.values())
    ma, mb = sum(xa) / len(xa), sum(xb) / len(xb)
    if stat == "pass_rate":
        sa, sb = round(sum(xa)), round(sum(xb))
        if paired:
            only_a = sum(1 for x, y in zip(xa, xb) if x and not y)
            only_b = sum(1 for x, y in zip(xa, xb) if y and not x)
            both = sum(1 for x, y in zip(xa, xb) if x and y)
            phi = _paired_phi(both, only_a, only_b, len(xa) - both - only_a - only_b)
            low, high = newcombe_interval(sa, len(xa), sb, len(xb), confidence, phi)
            method = "paired Newcombe"
        else:
            low, high = newcombe_interval(sa, len(xa), sb, len(xb), confidence)
            method = "Newcombe-Wilson"
    elif paired:
        low, high = bootstrap_interval([y - x for x, y in zip(xa, xb)], confidence)
        method = "paired bootstrap"
    else:
        low, high = bootstrap_diff_interval(xa, xb, confidence)
        method = "bootstrap"
    return MetricDelta(key, stat, ma, mb, len(xa), len(xb), mb - ma, low, high, method)


def compare_runs(
    a: Iterable[RunRecord],
    b: Iterable[RunRecord],
    metrics: Sequence[str] = (),
    alpha: float = 0.05,
    min_effect: float = 0.0,
) -> Comparison:
    """Compare run B against baseline A, metric by metric.

    Metrics: ``completed.pass_rate`` (share of conversations that did not fail) and, per
    evaluator and for :data:`ALL_KEY`, ``KEY.pass_rate`` and ``KEY.mean`` (mean score).
    ``metrics`` selects some by full name or by evaluator key (both of its metrics).

    Each delta B − A gets a (1 − alpha) interval. When the runs share cases (at least two,
    covering at least half of each run's scored cases for that metric) the comparison is
    paired over the shared cases: Newcombe's interval with the paired-outcome correlation for
    pass rates (the discordant pairs drive it, as in McNemar's test) and a bootstrap of the
    per-case differences for means. Otherwise the samples are independent: Newcombe's
    square-and-add Wilson interval for pass rates and a two-sample bootstrap for means.

    Decision rule: a metric is *worse* when its whole interval lies below ``-min_effect``
    (``high < -min_effect``), *better* when it lies above ``+min_effect``. Both scales are
    0..1, so ``min_effect=0.05`` ignores changes smaller than 5 points. ``alpha`` applies per
    metric (no multiplicity correction): select fewer metrics or lower alpha when gating on many.

    Raises:
        InvalidArgumentError: alpha outside (0, 1), negative min_effect, or a run with no records.
        UnknownNameError: an unknown metric name.
    """
    if not 0.0 < alpha < 1.0:
        raise InvalidArgumentError(f"alpha must be between 0 and 1 (exclusive), got {alpha}")
    if not 0.0 <= min_effect < 1.0:
        raise InvalidArgumentError(f"min-effect must be in [0, 1), got {min_effect}")
    ra, rb = latest_by_case(list(a)), latest_by_case(list(b))
    if not ra or not rb:
        raise InvalidArgumentError(f"run {'A' if not ra else 'B'} has no conversations to compare")
    rows = []
    for key, stat in _select(metric_names(ra, rb), metrics):
        d = _delta(key, stat, _metric_values(ra, key, stat), _metric_values(rb, key, stat), 1 - alpha)
        if d.low is not None and d.high is not None:
            d = replace(d, worse=d.high < -min_effect, better=d.low > min_effect)
        rows.append(d)
    return Comparison(rows, alpha, min_effect)
