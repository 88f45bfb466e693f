"""Comparing two batches metric by metric: the change B − A with its interval, and the regressions.

Example:
    >>> from app.batch.records import RunDir
    >>> result = compare_runs(RunDir("runs/main").records(), RunDir("runs/candidate").records())  # doctest: +SKIP
    >>> [d.name for d in result.regressions]  # doctest: +SKIP
    []
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from app.batch.records import CaseKey, RunRecord, latest_by_case
from app.errors import InvalidArgumentError, UnknownNameError
from app.reporting.significance import (
    fisher_worse,
    holm,
    holm_thresholds,
    mcnemar_worse,
    permutation_worse,
    sign_flip_worse,
)
from app.reporting.stats import bootstrap_diff_interval, bootstrap_interval, newcombe_interval, paired_phi
from app.reporting.summarize import ALL_KEY, evaluator_keys, outcome

__all__ = ["COMPLETED_KEY", "MetricDelta", "Comparison", "metric_names", "pair_cases", "compare_runs"]

COMPLETED_KEY = "completed"
"""Comparison metric: share of conversations that completed (did not fail)."""

STATS = ("pass_rate", "mean")


@dataclass(frozen=True)
class MetricDelta:
    """One metric in runs A and B, the change B − A with its interval, and its test.

    ``method`` names the interval and the test: ``paired Newcombe`` + exact McNemar and ``paired
    bootstrap`` + sign-flip permutation over paired cases; ``Newcombe-Wilson`` + Fisher's exact
    test and ``bootstrap`` + two-sample permutation for independent samples; ``-`` when the metric
    exists in only one run (no test). ``pairing`` says how cases were matched (``case``: same case
    id; ``case group``: same scenario, merchant and workflow, seeds matched in order; ``none``).
    ``p_worse``/``p_better`` are the one-sided p-values, ``p_adjusted`` the Holm-adjusted
    ``p_worse`` over the gated family and ``threshold`` the per-metric alpha Holm compared it with.
    ``worse``/``better`` apply the decision rule of :func:`compare_runs`.
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
    pairing: str = "none"
    test: str = "-"
    p_worse: float | None = None
    p_better: float | None = None
    p_adjusted: float | None = None
    threshold: float | None = None

    @property
    def name(self) -> str:
        return f"{self.key}.{self.stat}"


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_runs`: rows, the family-wise ``alpha`` and ``min_effect``."""

    rows: list[MetricDelta]
    alpha: float
    min_effect: float

    @property
    def regressions(self) -> list[MetricDelta]:
        """Metrics significantly worse in B (see :func:`compare_runs`)."""
        return [r for r in self.rows if r.worse]

    @property
    def family(self) -> list[MetricDelta]:
        """The gated metrics: every row with a test (Holm's family)."""
        return [r for r in self.rows if r.p_worse is not None]

    @property
    def per_metric_alpha(self) -> tuple[float, float] | None:
        """The smallest and largest per-metric alpha Holm may apply: alpha / m and alpha."""
        m = len(self.family)
        return (self.alpha / m, self.alpha) if m else None


Case = tuple[str, int]
"""A case as (group, seed): its group is scenario/merchant/workflow (:attr:`CaseKey.group`)."""


def _case(key: CaseKey) -> Case:
    return key.group, key.seed


def _metric_values(records: Sequence[RunRecord], key: str, stat: str) -> dict[Case, float]:
    """Case -> value (1/0 for pass rates, the score for means) of one metric."""
    values: dict[Case, float] = {}
    for r in records:
        if key == COMPLETED_KEY:
            values[_case(r.case)] = 1.0 if r.status == "ok" else 0.0
            continue
        o = outcome(r, key)
        if o is None or o.skipped:
            continue
        v = o.passed if stat == "pass_rate" else o.score
        if v is not None:
            values[_case(r.case)] = float(v)
    return values


def pair_cases(va: dict[Case, float], vb: dict[Case, float]) -> tuple[str, list[tuple[float, float]]]:
    """Match the cases of two runs: ``(pairing, [(a, b), ...])``.

    By case id first (same scenario, merchant, workflow and seed). When too few ids are shared --
    two batches of the same grid with different seeds -- by case group (scenario, merchant,
    workflow), the k-th seed of A with the k-th seed of B: seeds are drawn independently of CJ,
    so under "no change" the two members of a pair are exchangeable, which is all the paired tests
    need. Pairs must number at least two and cover at least half of each run, else ``("none", [])``.
    """
    need = max(2.0, max(len(va), len(vb)) / 2)
    by_id = [(va[c], vb[c]) for c in va if c in vb]
    if len(by_id) >= need:
        return "case", by_id
    groups_a: dict[str, list[Case]] = defaultdict(list)
    groups_b: dict[str, list[Case]] = defaultdict(list)
    for c in sorted(va):
        groups_a[c[0]].append(c)
    for c in sorted(vb):
        groups_b[c[0]].append(c)
    by_group = [
        (va[ca], vb[cb]) for group, cases in groups_a.items() for ca, cb in zip(cases, groups_b.get(group, []), strict=False)
    ]
    if len(by_group) >= need:
        return "case group", by_group
    return "none", []


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


def _delta(
    key: str, stat: str, va: dict[Case, float], vb: dict[Case, float], confidence: float, intervals: bool = True
) -> MetricDelta:
    if not va or not vb:
        a = sum(va.values()) / len(va) if va else None
        b = sum(vb.values()) / len(vb) if vb else None
        return MetricDelta(key, stat, a, b, len(va), len(vb), None, None, None, "-")
    pairing, pairs = pair_cases(va, vb)
    if pairs:
        xa, xb = [x for x, _ in pairs], [y for _, y in pairs]
    else:
        xa, xb = list(va.values()), list(vb.values())
    ma, mb = sum(xa) / len(xa), sum(xb) / len(xb)
    low: float | None
    high: float | None
    if stat == "pass_rate":
        sa, sb = round(sum(xa)), round(sum(xb))
        if pairs:
            only_a = sum(1 for x, y in pairs if x and not y)
            only_b = sum(1 for x, y in pairs if y and not x)
            phi = paired_phi(sa - only_a, only_a, only_b, len(pairs) - sa - only_b)
            low, high = newcombe_interval(sa, len(xa), sb, len(xb), confidence, phi)
            method, test = "paired Newcombe", "exact McNemar"
            p_worse, p_better = mcnemar_worse(only_a, only_b), mcnemar_worse(only_b, only_a)
        else:
            low, high = newcombe_interval(sa, len(xa), sb, len(xb), confidence)
            method, test = "Newcombe-Wilson", "Fisher exact"
            p_worse, p_better = fisher_worse(sa, len(xa), sb, len(xb)), fisher_worse(sb, len(xb), sa, len(xa))
    elif pairs:
        diffs = [y - x for x, y in pairs]
        low, high = bootstrap_interval(diffs, confidence) if intervals else (None, None)
        method, test = "paired bootstrap", "sign-flip permutation"
        p_worse, p_better = sign_flip_worse(diffs), sign_flip_worse([-d for d in diffs])
    else:
        low, high = bootstrap_diff_interval(xa, xb, confidence) if intervals else (None, None)
        method, test = "bootstrap", "permutation"
        p_worse, p_better = permutation_worse(xa, xb), permutation_worse(xb, xa)
    return MetricDelta(
        key, stat, ma, mb, len(xa), len(xb), mb - ma, low, high, method,
        pairing=pairing, test=test, p_worse=p_worse, p_better=p_better,
    )  # fmt: skip


def compare_runs(
    a: Iterable[RunRecord],
    b: Iterable[RunRecord],
    metrics: Sequence[str] = (),
    alpha: float = 0.05,
    min_effect: float = 0.0,
    intervals: bool = True,
) -> Comparison:
    """Compare run B against baseline A, metric by metric, and decide which metrics got worse.

    Metrics: ``completed.pass_rate`` (share of conversations that did not fail) and, per
    evaluator and for :data:`ALL_KEY`, ``KEY.pass_rate`` and ``KEY.mean`` (mean score).
    ``metrics`` selects some by full name or by evaluator key (both of its metrics); the selected
    metrics are the gated family.

    Cases are paired by case id, else by case group with seeds matched in order (see
    :func:`pair_cases`); otherwise the runs are independent samples. Each metric gets a test
    suited to its score type (:mod:`app.reporting.significance`): exact McNemar (paired) or
    Fisher's exact test for pass rates, a sign-flip permutation test (paired) or a two-sample
    permutation test for mean scores; and a (1 − alpha) interval for the change B − A (paired
    Newcombe / bootstrap of differences, or Newcombe-Wilson / two-sample bootstrap).

    Decision rule: the one-sided "B is worse" p-values of the family are Holm-adjusted; a metric
    is *worse* when its adjusted p-value is at most ``alpha`` and its change is below
    ``-min_effect``. So ``alpha`` is family-wise: the chance that a compare of two runs of the
    same CJ flags any metric is at most ``alpha``, however many metrics are gated. *Better* is
    the same rule the other way. Both scales are 0..1: ``min_effect=0.05`` ignores changes
    smaller than 5 points.

    The decision uses the tests only; ``intervals=False`` leaves the bootstrap intervals of mean
    scores out (``low``/``high`` ``None``), which makes many comparisons (gate calibration) fast.

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
    rows = [
        _delta(key, stat, _metric_values(ra, key, stat), _metric_values(rb, key, stat), 1 - alpha, intervals)
        for key, stat in _select(metric_names(ra, rb), metrics)
    ]
    tested = [i for i, r in enumerate(rows) if r.p_worse is not None and r.p_better is not None]
    worse_p = [rows[i].p_worse or 0.0 for i in tested]
    better_adj = holm([rows[i].p_better or 0.0 for i in tested])
    for i, adj, threshold, adj_better in zip(tested, holm(worse_p), holm_thresholds(worse_p, alpha), better_adj, strict=True):
        d = rows[i]
        delta = d.delta or 0.0
        rows[i] = replace(
            d,
            p_adjusted=adj,
            threshold=threshold,
            worse=adj <= alpha and delta < -min_effect,
            better=adj_better <= alpha and delta > min_effect,
        )
    return Comparison(rows, alpha, min_effect)
