"""The learning loop's arithmetic, checked by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from app.journeys.learning import Outcome, performance, portfolio_snapshot, to_retire
from app.journeys.playbooks import load_playbooks

D = dt.date(2025, 6, 30)


def _o(k: int, pid: str, seg: str, saved: int, cost: int, kept: bool = False, override: bool = False) -> Outcome:
    return Outcome(intervention_id=f"I{k}", customer_id=f"C{k}", playbook_id=pid, segment=seg, outcome="retained",
                   resolution_time_days=None, churn_risk_delta=None, revenue_saved_cents=saved, cost_cents=cost,
                   kept=kept, human_override=override, measured_at=D)  # fmt: skip


OUTCOMES = [
    _o(1, "PB_ENG_001", "casual", 6000, 300, kept=True),
    _o(2, "PB_ENG_001", "casual", 0, 300),
    _o(3, "PB_ENG_001", "casual", 200, 300, override=True),
    _o(4, "PB_ENG_001", "loyal", 1000, 300),
    _o(5, "PB_NEWS_001", "casual", 0, 50),
    _o(6, "PB_NEWS_001", "casual", 20, 50),
]


def test_performance_per_playbook_and_segment_by_hand() -> None:
    rows = {(r.playbook_id, r.segment): r for r in performance(OUTCOMES, D)}
    eng = rows[("PB_ENG_001", "casual")]
    # 3 runs; successes: #1 kept (#2 and #3 saved less than they cost) -> 1/3
    assert (eng.runs, eng.success_rate) == (3, round(1 / 3, 4))
    # cost (300 x 3) / 3 = 300; value (6000 + 0 + 200) / 3 = 2066.67; ROI 2066.67 / 300 = 6.8889
    assert (eng.avg_cost_cents, eng.avg_value_cents, eng.roi_ratio) == (300, 2066.67, 6.8889)
    assert eng.override_rate == round(1 / 3, 4)
    loyal = rows[("PB_ENG_001", "loyal")]
    assert (loyal.runs, loyal.success_rate, loyal.roi_ratio) == (1, 1.0, round(1000 / 300, 4))  # 1000 > 300: success
    news = rows[("PB_NEWS_001", "casual")]
    assert (news.success_rate, news.avg_value_cents, news.roi_ratio) == (0.0, 10, 0.2)  # 10 / 50


def test_retirement_needs_enough_runs_and_a_value_clearly_below_the_floor() -> None:
    # PB_NEWS_001: values 0, 20 (mean 10, sd sqrt(200), se 10), cost 50: upper 10 + 1.645 x 10 = 26.45,
    # 26.45 / 50 = 0.529 < 1. PB_ENG_001: mean 1800 / cost 300 = 6 stays.
    assert to_retire(OUTCOMES, roi_floor=1.0, min_runs=2) == ["PB_NEWS_001"]
    assert to_retire(OUTCOMES, roi_floor=1.0, min_runs=3) == []  # too few runs to judge
    # PB_ENG_001 at floor 7: point estimate 6 < 7, but values 6000, 0, 200, 1000 (sd 2833.2, se 1416.6)
    # give an upper end of 1800 + 1.645 x 1416.6 = 4130.3, 13.8 x cost: not clearly below 7
    assert to_retire(OUTCOMES, roi_floor=7.0, min_runs=2) == ["PB_NEWS_001"]
    assert to_retire(OUTCOMES, roi_floor=7.0, min_runs=2, z=0) == ["PB_ENG_001", "PB_NEWS_001"]


def test_portfolio_snapshot_by_hand() -> None:
    stages = {"A": "churn_risk", "B": "retention", "C": "churned", "D": "support", "E": "onboarding"}
    buckets = {"A": "high", "B": "low", "C": None, "D": "high", "E": "medium"}
    at_risk = {"A": 5000, "B": 100, "C": 9999, "D": 700}
    moves = {"churn_risk": {"churned": 4, "churn_risk": 3}, "onboarding": {"churned": 4}, "support": {"churned": 1},
             "churned": {"churned": 9}}  # fmt: skip
    snap = portfolio_snapshot(D, stages, buckets, at_risk, moves, performance(OUTCOMES, D), load_playbooks())
    assert snap.snapshot_id == "PS_2025_06_30"
    assert (snap.total_customers, snap.customers_at_high_risk) == (4, 2)  # C has churned
    assert snap.revenue_at_risk_cents == 5000 + 100 + 700
    # onboarding and churn_risk both lost 4: the earlier stage of the journey is named
    assert snap.top_leaking_stage == "onboarding"
    assert snap.top_playbooks == ("PB_ENG_001", "PB_NEWS_001")  # ROI 6 then 0.2


@pytest.mark.parametrize("saved,cost,kept,success", [(0, 100, True, True), (101, 100, False, True), (100, 100, False, False)])
def test_success_is_kept_or_saved_more_than_it_cost(saved: int, cost: int, kept: bool, success: bool) -> None:
    assert _o(1, "P", "s", saved, cost, kept=kept).playbook_success is success
