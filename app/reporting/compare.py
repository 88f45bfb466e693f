"""Comparing two batches metric by metric: the change B − A with its interval, and the regressions.

Example:
    >>> from app.batch.records import RunDir
    >>> result = compare_runs(RunDir("runs/main").records(), RunDir("runs/candidate").records())  # doctest: +SKIP
    >>> [d.name for d in result.regressions]  # doctest: +SKIP
    []
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from app.batch.records import RunRecord, latest_by_case
from app.errors import InvalidArgumentError, UnknownNameError
from app.reporting.stats import bootstrap_diff_interval, bootstrap_interval, newcombe_interval, paired_phi
from app.reporting.summarize import ALL_KEY, evaluator_keys, outcome

__all__ = ["COMPLETED_KEY", "MetricDelta", "Comparison", "metric_names", "compare_runs"]

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
            only_a = sum(1 for x, y in zip(xa, xb, strict=True) if x and not y)
            only_b = sum(1 for x, y in zip(xa, xb, strict=True) if y and not x)
            both = sum(1 for x, y in zip(xa, xb, strict=True) if x and y)
            phi = paired_phi(both, only_a, only_b, len(xa) - both - only_a - only_b)
            low, high = newcombe_interval(sa, len(xa), sb, len(xb), confidence, phi)
            method = "paired Newcombe"
        else:
            low, high = newcombe_interval(sa, len(xa), sb, len(xb), confidence)
            method = "Newcombe-Wilson"
    elif paired:
        low, high = bootstrap_interval([y - x for x, y in zip(xa, xb, strict=True)], confidence)
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
        raise InvalidArgumentError(f"min_effect must be in [0, 1), got {min_effect}")
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
