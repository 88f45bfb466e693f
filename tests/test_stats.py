"""Batch statistics: intervals, pass^k, flip rates, summaries and run comparison on hand-built records."""

from __future__ import annotations

import math

import pytest

from app.batch.records import CaseKey, RunRecord, latest_by_case
from app.errors import InvalidArgumentError, UnknownNameError
from app.evaluation.result import EvalResult
from app.reporting.compare import compare_runs
from app.reporting.stats import (
    bootstrap_diff_interval,
    bootstrap_interval,
    flip_stats,
    newcombe_interval,
    pass_hat_k,
    pass_hat_k_curve,
    wilson_interval,
    z_value,
)
from app.reporting.summarize import ALL_KEY, metric_row, outcome, summarize
from app.transcript import MessageRecord, ToolCallRecord, Transcript

T, F = True, False


# ---------------------------------------------------------------------------------------------
# Record builders (also used by test_report.py)
# ---------------------------------------------------------------------------------------------


def transcript(
    scenario: str = "churn_spike",
    merchant: str = "sarah_chen",
    workflow: str = "crisis_response",
    seed: int = 0,
    merchant_text: str = "How is churn this month?",
    cj_text: str = "Churn is 5.2% this month, up from 3.1%.",
    ended: str = "merchant_done",
) -> Transcript:
    """A small conversation: merchant asks, CJ calls one tool, the tool answers, CJ replies."""
    ts = "2024-03-01T09:00:{:02d}"
    return Transcript(
        meta={},
        scenario=scenario,
        merchant=merchant,
        workflow=workflow,
        seed=seed,
        merchant_context={"plan": "pro"},
        messages=[
            MessageRecord(role="merchant", content=merchant_text, timestamp=ts.format(1)),
            MessageRecord(
                role="cj",
                content="",
                timestamp=ts.format(2),
                tool_calls=[ToolCallRecord(id="call-1", name="get_churn", args={"window": "30d"})],
            ),
            MessageRecord(role="tool", content='{"churn_rate": 0.052}', timestamp=ts.format(3),
                          tool_call_id="call-1", name="get_churn", status="success"),
            MessageRecord(role="cj", content=cj_text, timestamp=ts.format(4)),
        ],
        workflow_path=[{"workflow": workflow}],
        stages_reached=[{"workflow": workflow, "stage": "diagnose"}],
        termination_reason=ended,
        usage={},
    )


def result(key: str, passed: bool | None, score: float | None = None, comment: str = "", **details) -> EvalResult:
    """An evaluator result; the score defaults to 1/0 from the verdict."""
    if score is None and passed is not None:
        score = 1.0 if passed else 0.0
    return EvalResult(key=key, score=score, passed=passed, comment=comment, details=details)


def record(
    scenario: str = "churn_spike",
    merchant: str = "sarah_chen",
    workflow: str = "crisis_response",
    seed: int = 0,
    scores: list[EvalResult] | None = None,
    failed: str | None = None,
    attempts: int = 1,
    **transcript_args,
) -> RunRecord:
    """A completed record with ``scores``, or a failed one (no transcript) when ``failed`` gives the reason."""
    case = CaseKey(scenario=scenario, merchant=merchant, workflow=workflow, seed=seed)
    if failed is not None:
        return RunRecord(case=case, status="failed", error=failed, attempts=attempts)
    t = transcript(scenario, merchant, workflow, seed, **transcript_args)
    return RunRecord(case=case, status="ok", transcript=t, scores=scores or [], attempts=attempts)


def run(passes: list[bool], key: str = "goal", scenario: str = "churn_spike") -> list[RunRecord]:
    """One record per seed of a single case group, scored pass/fail by evaluator ``key``."""
    return [record(scenario=scenario, seed=i, scores=[result(key, p)]) for i, p in enumerate(passes)]


def spread(passes: list[bool], key: str = "goal") -> list[RunRecord]:
    """One record per outcome, each its own case (a distinct scenario name), seed 0."""
    return [record(scenario=f"s{i:03d}", scores=[result(key, p)]) for i, p in enumerate(passes)]


# ---------------------------------------------------------------------------------------------
# Interval primitives
# ---------------------------------------------------------------------------------------------


def test_wilson_matches_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    low, high = wilson_interval(50, 100)
    assert (round(low, 3), round(high, 3)) == (0.404, 0.596)
    assert wilson_interval(8, 10, confidence=0.99)[0] < wilson_interval(8, 10)[0]  # wider at 99%


@pytest.mark.parametrize("n", [1, 5, 40, 1000])
def test_wilson_at_the_extremes_stays_in_unit_interval(n: int) -> None:
    low, high = wilson_interval(0, n)
    assert low == 0.0 and 0.0 < high < 1.0
    low, high = wilson_interval(n, n)
    assert 0.0 < low < 1.0 and high == 1.0


def test_wilson_without_data_is_uninformative() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: wilson_interval(3, 2),
        lambda: wilson_interval(-1, 2),
        lambda: wilson_interval(0, -1),
        lambda: wilson_interval(1, 2, confidence=1.0),
        lambda: wilson_interval(1, 2, confidence=0.0),
        lambda: z_value(1.5),
        lambda: newcombe_interval(0, 0, 1, 2),
        lambda: newcombe_interval(1, 2, 3, 2),
        lambda: newcombe_interval(1, 2, 1, 2, phi=1.5),
        lambda: bootstrap_interval([]),
        lambda: bootstrap_interval([0.0, 1.0], resamples=0),
        lambda: bootstrap_interval([0.0, 1.0], confidence=1.5),
        lambda: bootstrap_diff_interval([], [1.0]),
        lambda: bootstrap_diff_interval([0.0, 1.0], [1.0, 0.0], resamples=0),
        lambda: bootstrap_diff_interval([0.0, 1.0], [1.0, 0.0], confidence=-0.1),
        lambda: pass_hat_k([[T]], 0),
        lambda: summarize([], worst=-1),
    ],
)
def test_bad_inputs_raise_invalid_argument(call) -> None:
    with pytest.raises(InvalidArgumentError):
        call()


def test_z_value_is_the_two_sided_normal_quantile() -> None:
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.99) == pytest.approx(2.575829, abs=1e-6)


def test_newcombe_is_symmetric_and_contains_the_difference() -> None:
    low, high = newcombe_interval(5, 10, 5, 10)
    assert low == pytest.approx(-high) and low < 0 < high
    # swapping the runs mirrors the interval
    assert newcombe_interval(3, 10, 7, 10) == pytest.approx(tuple(-x for x in reversed(newcombe_interval(7, 10, 3, 10))))
    for a, b in [(95, 40), (20, 30), (0, 100), (100, 100)]:
        low, high = newcombe_interval(a, 100, b, 100)
        assert -1.0 <= low <= (b - a) / 100 <= high <= 1.0


def test_newcombe_known_value() -> None:
    # Newcombe (1998), example (g): 56/70 vs 48/80 -> difference 0.2, interval 0.0524 to 0.3339
    low, high = newcombe_interval(48, 80, 56, 70)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_positive_phi_narrows_the_interval() -> None:
    unpaired = newcombe_interval(60, 100, 50, 100)
    paired = newcombe_interval(60, 100, 50, 100, phi=0.7)
    assert unpaired[0] < paired[0] < -0.1 < paired[1] < unpaired[1]
    # a negative correlation widens it
    anti = newcombe_interval(60, 100, 50, 100, phi=-0.5)
    assert anti[0] < unpaired[0] and anti[1] > unpaired[1]


def test_bootstrap_is_deterministic_per_seed() -> None:
    values = [0.1, 0.4, 0.35, 0.8, 0.9, 0.2, 0.65]
    assert bootstrap_interval(values, seed=3) == bootstrap_interval(values, seed=3)
    assert bootstrap_interval(values, seed=3) != bootstrap_interval(values, seed=4)
    a, b = [0.0, 1.0, 1.0, 0.5], [0.2, 0.9, 0.1]
    assert bootstrap_diff_interval(a, b, seed=1) == bootstrap_diff_interval(a, b, seed=1)


def test_bootstrap_contains_the_mean_and_narrows_with_n() -> None:
    small = [0.2, 0.9, 0.5, 0.7, 0.1, 0.6, 0.4, 0.8]
    large = small * 16
    mean = sum(small) / len(small)
    lo_s, hi_s = bootstrap_interval(small)
    lo_l, hi_l = bootstrap_interval(large)
    assert lo_s < mean < hi_s and lo_l < mean < hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 2  # 16x the data: about a quarter of the width
    assert bootstrap_interval([0.7]) == (0.7, 0.7)
    assert bootstrap_interval([0.3, 0.3, 0.3]) == (0.3, 0.3)


def test_bootstrap_difference_contains_the_difference() -> None:
    a = [0.0, 1.0] * 20
    b = [1.0, 1.0, 1.0, 0.0] * 10
    low, high = bootstrap_diff_interval(a, b)
    assert 0.0 < low < 0.25 < high < 0.5


# ---------------------------------------------------------------------------------------------
# Repeats over seeds
# ---------------------------------------------------------------------------------------------


def test_pass_hat_k_exact_values() -> None:
    assert pass_hat_k([[T, T, F]], 1) == pytest.approx(2 / 3)
    assert pass_hat_k([[T, T, F]], 2) == pytest.approx(1 / 3)
    assert pass_hat_k([[T, T, F]], 3) == 0.0
    assert pass_hat_k([[T, T, T], [T, T]], 2) == 1.0
    # mean over groups: C(3,2)/C(4,2) = 1/2 and C(1,2)/C(2,2) = 0
    assert pass_hat_k([[T, T, T, F], [T, F]], 2) == pytest.approx(0.25)
    # groups with fewer seeds than k are left out
    assert pass_hat_k([[T, T, T], [F]], 2) == 1.0
    assert pass_hat_k([[T, T, F]], 4) is None
    assert pass_hat_k([], 1) is None


def test_pass_hat_k_curve_falls_unless_reliable() -> None:
    curve = pass_hat_k_curve([[T, T, F, T], [T, T, T]])
    assert list(curve) == [1, 2, 3, 4]
    assert curve[1] == pytest.approx((3 / 4 + 1) / 2)
    assert curve[2] == pytest.approx((3 / 6 + 1) / 2)
    assert curve[4] == 0.0  # only the four-seed group has k=4, and it has a failure
    assert all(curve[k] >= curve[k + 1] for k in (1, 2, 3))
    assert pass_hat_k_curve([[T, T], [T, T, T]]) == {1: 1.0, 2: 1.0, 3: 1.0}
    assert pass_hat_k_curve([]) == {}


def test_flip_stats_on_hand_examples() -> None:
    stats = flip_stats([[T, T, T], [T, F], [F, F, F, T], [T]])
    assert (stats.groups, stats.flipped) == (3, 2)  # [T] alone cannot flip
    assert stats.rate == pytest.approx(2 / 3)
    # pairwise disagreement: 0/3, 1/1, 3/6
    assert stats.pairwise == pytest.approx((0 + 1 + 0.5) / 3)
    none = flip_stats([[T], [F]])
    assert (none.groups, none.flipped, none.rate, none.pairwise) == (0, 0, None, None)


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


def test_latest_by_case_keeps_the_last_record_per_case() -> None:
    first = record(seed=0, failed="timeout")
    other = record(seed=1, scores=[result("goal", True)])
    rerun = record(seed=0, scores=[result("goal", False)])
    latest = latest_by_case([first, other, rerun])
    assert latest == [other, rerun]


def test_outcome_of_all_key() -> None:
    assert outcome(record(failed="boom"), ALL_KEY).passed is False
    ok = record(scores=[result("a", True, 0.8), result("b", True, 0.6), EvalResult.skip("judge", "no judge model")])
    o = outcome(ok, ALL_KEY)
    assert o is not None and o.passed is True and o.score == pytest.approx(0.7)
    assert outcome(record(scores=[result("a", True), result("b", False)]), ALL_KEY).passed is False
    assert outcome(record(scores=[EvalResult.skip("judge", "no judge model")]), ALL_KEY).skipped
    assert outcome(record(), ALL_KEY) is None
    assert outcome(ok, "missing") is None


def test_metric_row_excludes_and_counts_skipped() -> None:
    rows = [outcome(r, "goal") for r in spread([T, T, T, F])]
    rows.append(outcome(record(scores=[EvalResult.skip("goal", "needs a judge")]), "goal"))
    rows.append(None)
    row = metric_row("goal", rows)
    assert (row.n, row.skipped, row.passed) == (4, 1, 3)
    assert row.pass_rate is not None and row.pass_rate.value == 0.75 and row.pass_rate.n == 4
    assert (row.pass_rate.low, row.pass_rate.high) == wilson_interval(3, 4)
    assert row.mean is not None and row.mean.value == 0.75


# ---------------------------------------------------------------------------------------------
# summarize
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch() -> list[RunRecord]:
    """Two scenarios x two workflows x three seeds, one merchant; one failed and one rerun case."""
    records = []
    for scenario in ("churn_spike", "growth_stall"):
        for workflow in ("crisis_response", "daily_briefing"):
            for seed in range(3):
                good = scenario == "churn_spike" or seed == 0
                scores = [
                    result("goal", good, comment="" if good else "goal not reached"),
                    result("tone", True, 0.9),
                    EvalResult.skip("judge", "no judge model"),
                ]
                records.append(record(scenario, "sarah_chen", workflow, seed, scores=scores))
    records.append(record("churn_spike", "sarah_chen", "daily_briefing", 1, failed="rate limited", attempts=3))
    # the same case again, failed and then rerun: only the last record counts
    rerun = [result("goal", False, comment="goal not reached"), result("tone", True, 0.9), EvalResult.skip("judge", "no judge model")]
    records.append(record("growth_stall", "sarah_chen", "crisis_response", 2, failed="first try"))
    records.append(record("growth_stall", "sarah_chen", "crisis_response", 2, scores=rerun))
    return records


def test_summary_per_evaluator(batch: list[RunRecord]) -> None:
    s = summarize(batch)
    assert s.evaluators == ["goal", "tone", "judge", ALL_KEY]
    assert len(s.records) == 12
    goal = s.overall["goal"]
    # 11 completed: churn_spike 5 (all pass), growth_stall 6 (2 pass)
    assert (goal.n, goal.passed, goal.skipped) == (11, 7, 0)
    assert goal.pass_rate is not None and goal.pass_rate.value == pytest.approx(7 / 11)
    assert (goal.pass_rate.low, goal.pass_rate.high) == wilson_interval(7, 11)
    tone = s.overall["tone"]
    assert tone.mean is not None and tone.mean.value == pytest.approx(0.9) and tone.mean.low == tone.mean.high
    judge = s.overall["judge"]
    assert (judge.n, judge.skipped, judge.pass_rate, judge.mean) == (0, 11, None, None)
    every = s.overall[ALL_KEY]
    assert (every.n, every.passed) == (12, 7)  # the failed conversation counts as a failure


def test_summary_breakdowns(batch: list[RunRecord]) -> None:
    s = summarize(batch)
    assert set(s.breakdowns) == {"scenario", "workflow", "merchant"}
    by_scenario = s.breakdowns["scenario"]
    assert list(by_scenario) == ["churn_spike", "growth_stall"]
    assert by_scenario["churn_spike"]["goal"].pass_rate.value == 1.0
    assert by_scenario["churn_spike"][ALL_KEY].pass_rate.value == pytest.approx(5 / 6)
    assert by_scenario["growth_stall"]["goal"].pass_rate.value == pytest.approx(2 / 6)
    by_workflow = s.breakdowns["workflow"]
    assert by_workflow["daily_briefing"]["goal"].n == 5
    assert by_workflow["crisis_response"]["goal"].n == 6
    assert list(s.breakdowns["merchant"]) == ["sarah_chen"]
    assert s.breakdowns["merchant"]["sarah_chen"]["goal"] == s.overall["goal"]


def test_summary_conversations_and_failures(batch: list[RunRecord]) -> None:
    s = summarize(batch, worst=3)
    c = s.conversations
    assert (c.total, c.ok, c.failed, c.retried) == (12, 11, 1, 1)
    assert c.termination == {"merchant_done": 11, "no transcript": 1}
    assert c.mean_messages == 4 and c.mean_tool_calls == 1
    assert [(f.case_id, f.error) for f in s.failed_conversations] == [
        ("churn_spike/sarah_chen/daily_briefing/1", "rate limited")
    ]
    assert s.records[s.failed_conversations[0].index].error == "rate limited"
    reasons = s.failure_reasons["goal"]
    assert [(r.comment, r.count) for r in reasons] == [("goal not reached", 4)]
    assert len(reasons[0].cases) == 3
    assert ALL_KEY not in s.failure_reasons
    assert len(s.worst) == 3 and s.worst[0].status == "failed"
    assert all(w.failed == ["goal"] for w in s.worst[1:])


def test_summary_pass_k_and_flips(batch: list[RunRecord]) -> None:
    s = summarize(batch)
    # goal: churn_spike groups [T,T,T], [T,T]; growth_stall groups [T,F,F] twice
    assert s.pass_k["goal"][1] == pytest.approx((1 + 1 + 1 / 3 + 1 / 3) / 4)
    assert s.pass_k["goal"][3] == pytest.approx((1 + 0 + 0) / 3)
    assert s.flips["goal"].groups == 4 and s.flips["goal"].flipped == 2
    assert s.flips["tone"].flipped == 0
    assert s.pass_k["judge"] == {} and s.flips["judge"].rate is None
    # the failed conversation counts as a fail of "all": churn_spike/daily_briefing is [T,F,T]
    assert s.flips[ALL_KEY].flipped == 3


def test_summary_of_unscored_records() -> None:
    s = summarize([record(), record(seed=1, failed="boom")])
    assert s.evaluators == [] and s.overall == {}
    assert s.conversations.failed == 1 and len(s.failed_conversations) == 1


# ---------------------------------------------------------------------------------------------
# compare_runs
# ---------------------------------------------------------------------------------------------


def _flags(passes: int, n: int = 100) -> list[bool]:
    return [i < passes for i in range(n)]


def _row(comparison, name: str):
    return next(r for r in comparison.rows if r.name == name)


def test_clearly_worse_run_is_flagged_with_a_paired_method() -> None:
    a, b = spread(_flags(95)), spread(_flags(40))
    c = compare_runs(a, b)
    rate = _row(c, "goal.pass_rate")
    assert rate.method == "paired Newcombe" and rate.worse and not rate.better
    assert rate.delta == pytest.approx(-0.55) and rate.low < -0.55 < rate.high < 0
    assert (rate.n_a, rate.n_b) == (100, 100)
    mean = _row(c, "goal.mean")
    assert mean.method == "paired bootstrap" and mean.worse
    assert {r.name for r in c.regressions} == {"goal.pass_rate", "goal.mean", "all.pass_rate", "all.mean"}
    assert not _row(c, "completed.pass_rate").worse
    # the other way round it is better, not worse
    back = compare_runs(b, a)
    assert not back.regressions and _row(back, "goal.pass_rate").better


def test_identical_runs_are_not_flagged() -> None:
    a = spread(_flags(80))
    c = compare_runs(a, a)
    assert not c.regressions and not any(r.better for r in c.rows)
    assert all(r.delta == 0 for r in c.rows)


def test_noise_level_difference_is_not_flagged() -> None:
    a = spread(_flags(95))
    b = spread(_flags(94))  # one case of 100 flips to a failure
    c = compare_runs(a, b)
    rate = _row(c, "goal.pass_rate")
    assert rate.delta == pytest.approx(-0.01) and rate.method == "paired Newcombe"
    assert rate.low < -0.01 < 0 < rate.high
    assert not c.regressions


def test_paired_comparison_is_tighter_than_unpaired() -> None:
    a, b = spread(_flags(90)), spread(_flags(82))
    paired = _row(compare_runs(a, b), "goal.pass_rate")
    shifted = [record(scenario=f"t{i:03d}", scores=r.scores) for i, r in enumerate(b)]
    unpaired = _row(compare_runs(a, shifted), "goal.pass_rate")
    assert unpaired.method == "Newcombe-Wilson"
    assert paired.delta == pytest.approx(unpaired.delta)
    assert paired.high - paired.low < unpaired.high - unpaired.low
    assert paired.worse and not unpaired.worse  # pairing detects what two samples cannot


def test_disjoint_runs_use_two_sample_methods() -> None:
    a = spread(_flags(95))
    b = [record(scenario=f"other{i:03d}", scores=[result("goal", p)]) for i, p in enumerate(_flags(40))]
    c = compare_runs(a, b)
    assert _row(c, "goal.pass_rate").method == "Newcombe-Wilson"
    assert _row(c, "goal.mean").method == "bootstrap"
    assert _row(c, "goal.pass_rate").worse


def test_min_effect_suppresses_a_small_significant_drop() -> None:
    a, b = spread(_flags(400, 400)), spread(_flags(388, 400))  # 3 points, every changed case worse
    strict = compare_runs(a, b, metrics=["goal.pass_rate"])
    assert [r.name for r in strict.regressions] == ["goal.pass_rate"]
    lenient = compare_runs(a, b, metrics=["goal.pass_rate"], min_effect=0.05)
    assert not lenient.regressions and lenient.min_effect == 0.05


def test_metric_selection() -> None:
    a = spread(_flags(9, 10))
    c = compare_runs(a, a, metrics=["goal"])
    assert [r.name for r in c.rows] == ["goal.pass_rate", "goal.mean"]
    c = compare_runs(a, a, metrics=["completed", "all.mean"])
    assert [r.name for r in c.rows] == ["completed.pass_rate", "all.mean"]
    with pytest.raises(UnknownNameError, match="unknown metric 'nope'"):
        compare_runs(a, a, metrics=["nope"])
    with pytest.raises(UnknownNameError):
        compare_runs(a, a, metrics=["goal.median"])


def test_metric_only_in_one_run() -> None:
    a = spread(_flags(9, 10))
    b = spread(_flags(9, 10), key="tone")
    c = compare_runs(a, b)
    goal = _row(c, "goal.pass_rate")
    assert (goal.a, goal.b, goal.delta, goal.method, goal.worse) == (0.9, None, None, "-", False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"alpha": 0.0}, "alpha"), ({"alpha": 1.0}, "alpha"), ({"alpha": -0.1}, "alpha"),
     ({"min_effect": -0.1}, "min_effect"), ({"min_effect": 1.0}, "min_effect")],
)
def test_compare_bad_arguments(kwargs: dict, message: str) -> None:
    a = spread(_flags(9, 10))
    with pytest.raises(InvalidArgumentError, match=message):
        compare_runs(a, a, **kwargs)


def test_compare_needs_records() -> None:
    with pytest.raises(InvalidArgumentError, match="run B has no conversations"):
        compare_runs(spread([T, F]), [])


def test_failed_conversations_lower_completed_rate() -> None:
    a = spread(_flags(50))
    b = [record(scenario=r.case.scenario, failed="crash") if i % 2 == 0 else r for i, r in enumerate(a)]
    c = compare_runs(a, b, metrics=["completed"])
    rate = c.rows[0]
    assert (rate.a, rate.b) == (1.0, 0.5) and rate.worse
    assert math.isclose(rate.delta, -0.5)
