"""The checks added so that every defect has an evaluator that catches it, and the goal-coverage fixes."""

from __future__ import annotations

from typing import Any

from app.evaluation import goal_coverage_evaluator, style_evaluator, tool_use_evaluator, trajectory_evaluator
from app.evaluation.trajectory import default_reference
from app.simulation import RunConfig, run_conversation
from tests.chats import FINANCIAL, Chat, trend
from tests.conftest import cached_agent


def _run(scenario: str, merchant: str, workflow: str, seed: int = 0, cj_model: str = "rules") -> Any:
    cfg = RunConfig(scenario=scenario, merchant=merchant, workflow=workflow, seed=seed, cj_model=cj_model)
    return run_conversation(cfg, provider=cached_agent(scenario, merchant, seed))


# --------------------------------------------------------------------------- trajectory


def test_a_crisis_response_without_tool_calls_fails_trajectory() -> None:
    t = _run("churn_spike", "sarah_chen", "crisis_response", cj_model="rules:skip_tools")
    assert not t.tool_calls()
    result = trajectory_evaluator()(transcript=t)
    assert result.passed is False and result.details["reference"], result.details
    assert tool_use_evaluator()(transcript=t).passed is False


def test_the_default_reference_holds_the_tool_each_question_needs() -> None:
    t = (
        Chat(workflow="weekly_review")
        .merchant("Who are our at-risk customers?")
        .tool("analyze_customer_segment", {"segment": "at_risk"}, {"segment": "at_risk", "size": 56})
        .cj("56 customers are at risk.")
        .build()
    )
    reference = [s.as_dict() for s in default_reference(t)]
    assert {"tool": "analyze_customer_segment", "args": {"segment": "at_risk"}} in [
        {k: v for k, v in r.items() if k != "or"} for r in reference
    ]
    assert trajectory_evaluator()(transcript=t).passed
    wrong = (
        Chat(workflow="weekly_review")
        .merchant("Who are our at-risk customers?")
        .tool("analyze_customer_segment", {"segment": "high_value"}, {"segment": "high_value", "size": 56})
        .cj("56 customers.")
        .build()
    )
    assert trajectory_evaluator()(transcript=wrong).passed is False  # the question's segment was not fetched


def test_the_clean_rule_cj_passes_trajectory() -> None:
    t = _run("churn_spike", "sarah_chen", "crisis_response")
    assert trajectory_evaluator()(transcript=t).passed, trajectory_evaluator()(transcript=t).details


# --------------------------------------------------------------------------- goal_coverage


def test_unchanged_answers_a_change_goal_when_the_trend_is_flat() -> None:
    t = _run("growth_stall", "sarah_chen", "daily_briefing", seed=2)
    rows = {r["goal"]: r for r in goal_coverage_evaluator()(transcript=t).details["goals"]}
    assert rows["mrr_trend"]["status"] == "answered", rows["mrr_trend"]
    assert "unchanged" in rows["mrr_trend"]["stated"]


def test_unchanged_is_wrong_when_the_trend_moved() -> None:
    moved = {**FINANCIAL, "mrr": {**trend(45210.0, 41100.0), "direction": "up"}}
    t = (
        Chat(scenario="growth_stall")
        .merchant("Why has revenue stopped growing?")
        .tool("get_financial_metrics", {"time_range": "30d"}, moved)
        .cj("MRR is $45,210, unchanged from last month.")
        .build()
    )
    rows = {r["goal"]: r for r in goal_coverage_evaluator()(transcript=t).details["goals"]}
    assert rows["mrr_trend"]["status"] == "wrong_value"


def test_a_reply_to_a_later_question_does_not_answer_an_earlier_one() -> None:
    t = _run("post_black_friday", "sarah_chen", "customer_deep_dive")
    rows = {r["goal"]: r for r in goal_coverage_evaluator()(transcript=t).details["goals"]}
    backlog = rows["ticket_backlog"]
    # CJ cannot get tickets in this workflow and says so; the later segment reply is not credited
    assert backlog["status"] == "unanswered" and backlog["answered"] is None, backlog


# --------------------------------------------------------------------------- tool_use and style


def test_numbers_after_a_failed_call_fail_tool_use() -> None:
    chat = (
        Chat()
        .merchant("What's our CAC now?")
        .tool("get_financial_metrics", {"time_range": "30d"}, None, status="error")
    )
    invented = tool_use_evaluator()(transcript=chat.cj("CAC is about $52.10.").build())
    assert any(m["kind"] == "answered_despite_error" for m in invented.details["missing"])
    honest = tool_use_evaluator()(transcript=chat.cj("I couldn't get the financial numbers just now.").build())
    assert not any(m["kind"] == "answered_despite_error" for m in honest.details["missing"])


def test_a_question_answered_with_another_window_fails_tool_use() -> None:
    chat = Chat().merchant("What's our churn this month?")
    stale = chat.tool("get_financial_metrics", {"time_range": "90d"}, {**FINANCIAL, "time_range": "90d"})
    result = tool_use_evaluator()(transcript=stale.cj("Churn: 5.2%").build())
    assert [m["kind"] for m in result.details["missing"]] == ["window"]


def test_offering_what_no_bound_tool_can_do_fails_style() -> None:
    def style(reply: str) -> Any:
        t = Chat().merchant("How is revenue?").tool("get_financial_metrics", {}, FINANCIAL).cj(reply).build()
        return style_evaluator()(transcript=t)

    broken = style("MRR is $45,210. I can refund the affected customers right away - just say the word.")
    assert [v["check"] for v in broken.details["violations"]] == ["promise"]
    assert style("MRR is $45,210. Want me to check which customers are at risk?").passed
