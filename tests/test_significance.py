"""Gate tests: exact McNemar, Fisher, permutation tests, Holm, and the gate's error rates on
simulated score vectors with fixed seeds (false gates under no change, power under a known shift)."""

from __future__ import annotations

import math
import random

import pytest

from app.batch.records import CaseKey, RunRecord
from app.errors import InvalidArgumentError
from app.reporting.compare import compare_runs
from app.reporting.significance import (
    fisher_worse,
    holm,
    holm_thresholds,
    mcnemar_worse,
    permutation_worse,
    sign_flip_worse,
)
from tests.test_stats import result

# --------------------------------------------------------------------------- the tests themselves


def test_exact_mcnemar_is_a_binomial_tail() -> None:
    assert mcnemar_worse(4, 0) == pytest.approx(1 / 16)
    assert mcnemar_worse(0, 4) == 1.0
    assert mcnemar_worse(0, 0) == 1.0
    # 7 lost, 1 gained: P(X >= 7), X ~ Bin(8, 1/2) = (8 + 1) / 256
    assert mcnemar_worse(7, 1) == pytest.approx(9 / 256)
    with pytest.raises(InvalidArgumentError):
        mcnemar_worse(-1, 2)


def test_fisher_matches_the_hypergeometric_tail() -> None:
    # A 3/3, B 0/3: only one table is as extreme, 1 / C(6, 3)
    assert fisher_worse(3, 3, 0, 3) == pytest.approx(1 / 20)
    assert fisher_worse(0, 3, 3, 3) == 1.0
    assert fisher_worse(5, 10, 5, 10) > 0.5
    with pytest.raises(InvalidArgumentError):
        fisher_worse(4, 3, 0, 3)


def test_sign_flip_is_exact_for_small_discrete_differences() -> None:
    # the finding of the review: 4 of 24 cases drop from 1 to 0, none rises -> 1/16, not significant
    diffs = [-1.0] * 4 + [0.0] * 20
    assert sign_flip_worse(diffs) == pytest.approx(1 / 16)
    assert sign_flip_worse([0.0] * 5) == 1.0
    assert sign_flip_worse([-0.5, -0.25, 0.25]) == pytest.approx(3 / 8)  # sums <= -0.5: 3 of 8 sign patterns


def test_sign_flip_falls_back_to_seeded_random_flips() -> None:
    rng = random.Random(3)
    diffs = [rng.uniform(-1, 0.6) for _ in range(200)]  # distinct values: no small exact distribution
    p = sign_flip_worse(diffs, resamples=2000, seed=1)
    assert p == sign_flip_worse(diffs, resamples=2000, seed=1)  # deterministic
    assert 0 < p < 0.01  # the mean is clearly negative
    assert p >= 1 / 2001  # the add-one estimate never reports 0


def test_two_sample_permutation() -> None:
    a, b = [1.0] * 30 + [0.0] * 10, [1.0] * 10 + [0.0] * 30
    assert permutation_worse(a, b, resamples=2000) < 0.01
    assert permutation_worse(b, a, resamples=2000) > 0.99
    assert permutation_worse([0.5] * 3, [0.5] * 3) == 1.0


def test_holm_adjusts_in_input_order_and_stays_monotone() -> None:
    assert holm([0.25, 0.5, 0.125]) == [0.5, 0.5, 0.375]
    assert holm([0.01, 0.9]) == [0.02, 0.9]
    assert holm([]) == []
    assert holm_thresholds([0.01, 0.04, 0.02], 0.05) == pytest.approx([0.05 / 3, 0.05, 0.05 / 2])
    with pytest.raises(InvalidArgumentError):
        holm([1.5])


# --------------------------------------------------------------------------- compare on simulated batches


def _batch(scores: dict[str, list[float]], seed: int = 0) -> list[RunRecord]:
    """One record per case (scores only); evaluator ``key`` scored ``scores[key][i]`` (passed at 1.0)."""
    n = len(next(iter(scores.values())))
    return [
        RunRecord(
            case=CaseKey(scenario=f"s{i:03d}", merchant="m", workflow="w", seed=seed),
            status="ok",
            scores=[result(k, v[i] >= 1.0, v[i]) for k, v in scores.items()],
        )
        for i in range(n)
    ]


def _clean_case_rates(n: int, rng: random.Random) -> list[float]:
    """Per case, the chance a clean CJ passes: most cases always pass, a few are seed-sensitive."""
    return [rng.choice([1.0] * 8 + [0.9, 0.6]) for _ in range(n)]


def _draw(rates: list[float], rng: random.Random, shift: float = 0.0) -> list[float]:
    return [1.0 if rng.random() < max(0.0, p - shift) else 0.0 for p in rates]


KEYS = ("grounding", "tool_use", "trajectory", "goal_coverage", "style")


def test_the_reviewed_case_is_not_gated() -> None:
    a = _batch({"trajectory": [1.0] * 24})
    b = _batch({"trajectory": [0.0] * 4 + [1.0] * 20})
    c = compare_runs(a, b, metrics=["trajectory"])
    mean = next(r for r in c.rows if r.name == "trajectory.mean")
    assert mean.test == "sign-flip permutation" and mean.p_worse == pytest.approx(1 / 16)
    assert not c.regressions


def test_false_gate_rate_between_same_cj_batches_is_bounded() -> None:
    rng = random.Random(20261128)
    rates = {k: _clean_case_rates(120, rng) for k in KEYS}
    trials = 200
    gated = sum(
        bool(compare_runs(
            _batch({k: _draw(r, rng) for k, r in rates.items()}, seed=0),
            _batch({k: _draw(r, rng) for k, r in rates.items()}, seed=1),  # seeds differ: paired by case group
            intervals=False,
        ).regressions)
        for _ in range(trials)
    )  # fmt: skip
    # family-wise alpha 0.05 over 11 metrics; uncorrected, the same draws gate far more often
    assert gated / trials <= 0.05


def test_pairing_by_case_group_when_seeds_differ() -> None:
    a = _batch({"goal": [1.0] * 30}, seed=0)
    b = _batch({"goal": [0.0] * 10 + [1.0] * 20}, seed=5)
    row = next(r for r in compare_runs(a, b).rows if r.name == "goal.pass_rate")
    assert row.pairing == "case group" and row.test == "exact McNemar"
    assert row.p_worse == pytest.approx(mcnemar_worse(10, 0)) and row.worse


def test_power_against_a_known_shift() -> None:
    rng = random.Random(7)
    rates = {k: _clean_case_rates(200, rng) for k in KEYS}
    trials, caught = 20, 0
    for _ in range(trials):
        a = _batch({k: _draw(r, rng) for k, r in rates.items()})
        b_scores = {k: _draw(r, rng, shift=0.25 if k == "grounding" else 0.0) for k, r in rates.items()}
        c = compare_runs(a, _batch(b_scores), intervals=False)  # same case ids: paired by case
        caught += any(r.key == "grounding" for r in c.regressions)
    assert caught / trials >= 0.95


def test_holm_keeps_the_family_wise_alpha_where_per_metric_tests_would_not() -> None:
    # 40 metrics, each with a p-value just under 0.05 by itself: uncorrected, all would fire
    a = _batch({f"m{i}": [1.0] * 6 + [1.0] * 94 for i in range(40)})
    b = _batch({f"m{i}": [0.0] * 6 + [1.0] * 94 for i in range(40)})
    c = compare_runs(a, b, metrics=[f"m{i}.pass_rate" for i in range(40)])
    assert all(r.p_worse == pytest.approx(1 / 64) for r in c.rows)
    assert not c.regressions
    assert c.per_metric_alpha == pytest.approx((0.05 / 40, 0.05))
    assert math.isclose(c.rows[0].p_adjusted or 0, min(1.0, 40 / 64))
