"""Grounding compares like with like: kinds, metrics, declared derivations, windows, real sources.

Each case is a false acceptance the old digit-only matching made (a hallucinated churn rate
grounded by a cancel-reason count; "47%" accepted as hours minus a rating), pinned as a regression.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.evaluation import grounding_evaluator
from tests.chats import Chat, trend


def _claims(result: Any) -> dict[str, dict[str, Any]]:
    return {c["text"]: c for c in result.details["claims"]}


def _financial(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "time_range": "30d",
        "mrr": trend(34540.0, 34555.0),
        "active_subscribers": trend(918, 930),
        "churn_rate": trend(0.082, 0.061),
        "new_subscribers": trend(52, 57),
        "cancellations": trend(75, 57),
        "cac": trend(70.8, 52.4),
        "arpu": trend(61.3, 61.2),
        "revenue": trend(33526.0, 33068.0),
        "top_cancel_reasons": [
            {"reason": "payment_failed", "count": 34},
            {"reason": "too_expensive", "count": 29},
            {"reason": "not_using", "count": 12},
        ],
    }
    base.update(fields)
    return base


def ground(reply: str, artifact: dict[str, Any] | None = None, question: str = "How is churn looking?") -> Any:
    t = (
        Chat()
        .merchant(question)
        .tool("get_financial_metrics", {"time_range": "30d"}, artifact or _financial())
        .cj(reply)
        .build()
    )
    return grounding_evaluator()(transcript=t)


def test_a_hallucinated_churn_rate_is_not_grounded_by_a_count_of_the_same_digits() -> None:
    # true churn 8.2%; a cancel-reason count of 12 must not ground "12.0%"
    result = ground("Churn: 12.0% (up 34.4% from 6.1%)")
    claims = _claims(result)
    assert claims["12.0%"]["status"] == "ungrounded"
    assert claims["12.0%"]["metric"] == "churn_rate"
    assert not result.passed
    assert ground("Churn: 8.2% (up 34.4% from 6.1%)").passed


def test_a_percentage_is_not_derivable_from_unrelated_fields() -> None:
    tickets = {
        "time_range": "30d",
        "created": trend(368, 108),
        "avg_resolution_hours": trend(51.0, 37.1),
        "csat": trend(4.0, 4.2),
    }
    t = Chat().merchant("How is support?").tool("get_ticket_metrics", {"time_range": "30d"}, tickets)
    result = grounding_evaluator()(transcript=t.cj("47% of tickets were resolved late.").build())
    assert _claims(result)["47%"]["status"] == "ungrounded"  # not avg_resolution_hours - csat


def test_hours_are_not_derivable_as_the_difference_of_two_money_metrics() -> None:
    result = ground("First replies take 9.5h.")  # CAC - ARPU = 9.5, but that is money, not hours
    assert _claims(result)["9.5h"]["status"] == "ungrounded"


def test_the_source_is_the_value_of_the_claims_kind_and_metric_not_the_first_match() -> None:
    artifact = _financial(top_cancel_reasons=[{"reason": "other", "count": 4}], churn_rate=trend(0.059, 0.04))
    result = ground("Churn is 5.9% over the last 30 days, up 47.5% from 4.0%.", artifact)
    claims = _claims(result)
    assert claims["4.0%"]["source"] == "financial_metrics.churn_rate.previous"
    assert claims["47.5%"]["source"] == "financial_metrics.churn_rate.change_pct"


def test_another_metrics_real_number_is_not_grounded() -> None:
    assert _claims(ground("MRR is $33,526."))["$33,526"]["status"] == "ungrounded"  # order revenue's value
    assert _claims(ground("918 subscribers cancelled."))["918"]["status"] == "ungrounded"  # active subscribers
    assert ground("MRR is $34,540, unchanged from $34,555. 75 subscribers cancelled.").passed


@pytest.mark.parametrize(
    "reply",
    ["ARPU is about $37.6.", "Each new subscriber costs $70.80 to acquire.", "Net growth fell by 35 subscribers."],
)
def test_declared_per_unit_ratios_and_trend_changes_are_derived(reply: str) -> None:
    artifact = _financial(net_growth=trend(-23, 12), marketing_spend=trend(3681.6, 3000.0))
    del artifact["arpu"], artifact["cac"]  # only derivable: MRR / active subscribers, spend / new subscribers
    result = ground(reply, artifact)
    assert result.passed, result.details
    assert {c["status"] for c in result.details["claims"]} == {"derived"}


def test_a_rate_change_in_points_is_derived_before_views_state_it() -> None:
    artifact = _financial(churn_rate=trend(0.146, 0.042))
    result = ground("Churn is 14.6%, up 10.4 points from 4.2%.", artifact)
    assert result.passed, result.details
    assert _claims(result)["10.4"]["status"] == "derived"


def test_a_rate_change_in_points_is_grounded_when_views_carry_change_points() -> None:
    churn = {"current": 0.146, "previous": 0.042, "change_pct": None, "change_points": 10.4, "direction": "up"}
    result = ground("Churn is 14.6%, up 10.4 points from 4.2%.", _financial(churn_rate=churn))
    assert result.passed, result.details
    assert _claims(result)["10.4"]["source"] == "financial_metrics.churn_rate.change_points"


def test_a_change_across_zero_is_stated_as_both_values() -> None:
    growth = {"current": -100, "previous": 6, "change_pct": None, "direction": "down"}
    result = ground("Net growth -100, was +6.", _financial(net_growth=growth))
    assert result.passed, result.details
    assert not ground("Net growth -100, down 1766.7%.", _financial(net_growth=growth)).passed


def test_a_claim_must_come_from_the_window_its_sentence_states() -> None:
    assert ground("Churn is 8.2% over the last 30 days.").passed
    assert not ground("Churn is 8.2% over the last 7 days.").passed


def test_a_question_naming_a_window_needs_results_of_that_window() -> None:
    stale = _financial(time_range="90d")
    t = Chat().merchant("What's our churn this month?").tool("get_financial_metrics", {"time_range": "90d"}, stale)
    result = grounding_evaluator()(transcript=t.cj("Churn: 8.2%").build())
    assert not result.passed
    ok = Chat().merchant("What's our churn this quarter?").tool("get_financial_metrics", {"time_range": "90d"}, stale)
    assert grounding_evaluator()(transcript=ok.cj("Churn: 8.2%").build()).passed


def test_a_comma_ends_a_metrics_clause_unless_the_statement_continues() -> None:
    anomalies = {
        "anomalies": [
            {"metric": "marketing_spend", "change_pct": 42.8, "recent_mean": 10.0, "baseline_mean": 7.0},
            {"metric": "visitors", "change_pct": 67.3, "recent_mean": 5.0, "baseline_mean": 3.0},
        ]
    }
    t = Chat().merchant("Anything unusual?").tool("detect_anomalies", {}, anomalies)
    reply = "Also unusual: marketing spend up (+42.8%), visitors up (+67.3%)."
    assert grounding_evaluator()(transcript=t.cj(reply).build()).passed
