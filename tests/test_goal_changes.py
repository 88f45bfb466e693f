"""Goals on a change whose percentage is null (a change from zero or across zero) or that is a
rate's change: answered by both values, or by the rate's change in points."""

from __future__ import annotations

from typing import Any

from app.evaluation import goal_coverage_evaluator
from app.models import MerchantGoal
from app.transcript import GoalSource, Transcript
from tests.chats import FINANCIAL, Chat


def _chat(reply: str, goals: list[MerchantGoal] | None = None, **trends: dict[str, Any]) -> Transcript:
    artifact = {**FINANCIAL, **trends}
    t = (
        Chat(scenario="growth_stall")
        .merchant("Why has revenue stopped growing?" if goals is None else goals[0].ask)
        .tool("get_financial_metrics", {"time_range": "30d"}, artifact)
        .cj(reply)
        .build()
    )
    return t if goals is None else t.model_copy(update={"goals": GoalSource(source="database", as_of="2025-03-01", goals=goals)})


def _row(t: Transcript, goal: str) -> dict[str, Any]:
    return next(r for r in goal_coverage_evaluator()(transcript=t).details["goals"] if r["goal"] == goal)


FROM_ZERO = {"current": 1250.0, "previous": 0.0, "change_pct": None, "direction": "up", "change_points": None}


def test_a_change_from_zero_is_answered_by_both_values() -> None:
    row = _row(_chat("MRR is $1,250, up from $0 a month ago.", mrr=FROM_ZERO), "mrr_trend")
    assert row["status"] == "answered" and row["stated"] == "$1,250 ... $0"
    assert row["expected"] == {"current": 1250.0, "previous": 0.0, "change_points": None}


def test_one_of_the_two_values_is_a_wrong_value_not_unverified() -> None:
    row = _row(_chat("MRR is $1,250.", mrr=FROM_ZERO), "mrr_trend")
    assert row["status"] == "wrong_value" and row["stated"] == "$1,250"


def test_a_change_across_zero_states_both_signed_values() -> None:
    across = {"current": -100.0, "previous": 6.0, "change_pct": None, "direction": "down", "change_points": None}
    goal = MerchantGoal(id="growth", ask="How is net growth?", metric="financial_metrics.net_growth.change_pct",
                        args={"time_range": "30d"})  # fmt: skip
    row = _row(_chat("Net growth is -100 subscribers, was +6.", goals=[goal], net_growth=across), "growth")
    assert row["status"] == "answered" and row["expected"]["current"] == -100.0


def test_a_rate_change_is_answered_in_points() -> None:
    goal = MerchantGoal(id="churn_move", ask="Why did churn change?", metric="financial_metrics.churn_rate.change_pct",
                        args={"time_range": "30d"})  # fmt: skip
    churn = {"current": 0.146, "previous": 0.042, "change_pct": 247.6, "direction": "up", "change_points": 10.4}
    row = _row(_chat("Churn is 14.6%, up 10.4 points from 4.2%.", churn_rate=churn, goals=[goal]), "churn_move")
    assert row["status"] == "answered" and row["expected"] == 247.6 and row["stated"] == "10.4"
    from_zero = {"current": 0.05, "previous": 0.0, "change_pct": None, "direction": "up", "change_points": 5.0}
    row = _row(_chat("Churn is 5.0%, up 5.0 points.", churn_rate=from_zero, goals=[goal]), "churn_move")
    assert row["status"] == "answered" and row["stated"] == "5.0"
    row = _row(_chat("Churn went up a lot: 9 points.", churn_rate=from_zero, goals=[goal]), "churn_move")
    assert row["status"] == "wrong_value"


def test_an_unavailable_trend_is_still_unverified() -> None:
    missing = {"current": None, "previous": None, "change_pct": None, "direction": "flat", "unavailable": "no subscription data"}
    assert _row(_chat("MRR is $45,210.", mrr=missing), "mrr_trend")["status"] == "unverified"
