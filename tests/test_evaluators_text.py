"""Text evaluators (grounding, consistency, style, goal coverage, judge) and the registry, on hand-built transcripts."""

from __future__ import annotations

from typing import Any

import pytest

from app.analysis.claims import extract_claims
from app.errors import InvalidArgumentError, UnknownNameError
from app.evaluation import (
    DETERMINISTIC_KEYS,
    EVALUATOR_KEYS,
    consistency_evaluator,
    default_evaluators,
    evaluate,
    goal_coverage_evaluator,
    grounding_evaluator,
    judge_evaluator,
    style_evaluator,
)
from app.evaluation.goals import same_text
from app.transcript import Transcript
from tests.chats import CUSTOMERS, FINANCIAL, Chat, fin_chat
from tests.fakes import ScriptedChatModel, call


def statuses(result) -> dict[str, str]:
    return {c["text"]: c["status"] for c in result.details["claims"]}


# --------------------------------------------------------------------------- claims


def test_claims_parse_money_formats_percentages_counts_and_ratios() -> None:
    found = [(c.text, c.kind, c.value) for c in extract_claims("$45.2K, 45k, $45,210, 5.2%, 12 subscribers, 2.4x, 3.1h")]
    assert found == [
        ("$45.2K", "money", 45200.0),
        ("45k", "money", 45000.0),
        ("$45,210", "money", 45210.0),
        ("5.2%", "percent", 5.2),
        ("12", "count", 12.0),
        ("2.4x", "count", 2.4),
        ("3.1h", "hours", 3.1),
    ]
    assert extract_claims("since 2025-02-03 over the last 30 days, customer C000123")[:1] == []


# --------------------------------------------------------------------------- grounding


@pytest.mark.parametrize("money", ["$45.2K", "45k", "$45,210", "45,210", "$45K"])
def test_grounding_accepts_money_in_any_format_within_its_rounding(money: str) -> None:
    result = grounding_evaluator()(transcript=fin_chat(f"MRR is {money}."))
    assert result.passed and result.score == 1.0, result.details
    claim = result.details["claims"][0]
    assert claim["status"] == "grounded" and claim["source"] == "financial_metrics.mrr.current"
    assert claim["message"] == 3 and result.details["total"] == 1 and result.details["ungrounded"] == 0


def test_grounding_details_give_offsets_into_the_message() -> None:
    t = fin_chat("Churn is 5.2%, MRR $45.2K.")
    result = grounding_evaluator()(transcript=t)
    for c in result.details["claims"]:
        assert t.messages[c["message"]].content[c["start"] : c["end"]] == c["text"]
    assert {c["kind"] for c in result.details["claims"]} == {"percent", "money"}


def test_grounding_flags_numbers_outside_the_rounding_tolerance() -> None:
    result = grounding_evaluator()(transcript=fin_chat("MRR is $46.2K and churn is 5.3%."))
    assert statuses(result) == {"$46.2K": "ungrounded", "5.3%": "ungrounded"}
    assert not result.passed and result.score == 0.0 and result.details["ungrounded"] == 2


def test_grounding_accepts_derived_differences_and_percentage_changes() -> None:
    result = grounding_evaluator()(transcript=fin_chat("You're up 12 subscribers, MRR up $1,110 (2.52% growth)."))
    assert statuses(result) == {"12": "derived", "$1,110": "derived", "2.52%": "derived"}
    assert result.passed
    assert "current - previous" in result.details["claims"][0]["source"]


def test_grounding_only_counts_results_received_before_the_claim() -> None:
    t = (
        Chat()
        .merchant("How is revenue?")
        .cj("MRR is $45,210.")
        .tool("get_financial_metrics", {"time_range": "30d"}, FINANCIAL)
        .cj("MRR is $45,210.")
        .build()
    )
    result = grounding_evaluator()(transcript=t)
    assert [c["status"] for c in result.details["claims"]] == ["ungrounded", "grounded"]


def test_grounding_checks_named_customers_and_ids() -> None:
    base = Chat().merchant("Which customers?").tool("get_customer_list", {"filter": "at_risk"}, CUSTOMERS)
    good = grounding_evaluator()(transcript=base.cj("Donna Harris (C000882) has risk 0.96.").build())
    assert good.passed and {c["kind"] for c in good.details["claims"]} == {"customer", "count"}
    bad_id = grounding_evaluator()(
        transcript=Chat().merchant("Which?").tool("get_customer_list", {}, CUSTOMERS).cj("Look at C000999 and T000123.").build()
    )
    assert statuses(bad_id) == {"C000999": "ungrounded", "T000123": "ungrounded"}
    wrong_pair = grounding_evaluator()(
        transcript=Chat().merchant("Which?").tool("get_customer_list", {}, CUSTOMERS).cj("Jane Doe (C000882) first.").build()
    )
    assert statuses(wrong_pair)["Jane Doe"] == "ungrounded"


def test_grounding_without_claims_scores_one() -> None:
    result = grounding_evaluator()(transcript=fin_chat("Happy to help."))
    assert (result.score, result.passed, result.comment) == (1.0, True, "no claims")


def test_hallucinated_numbers_defect_style_fails_grounding() -> None:
    result = grounding_evaluator()(transcript=fin_chat("MRR is $61,938 and churn is 7.2%, 262 new subscribers."))
    assert not result.passed and result.details["ungrounded"] == 3


# --------------------------------------------------------------------------- consistency


def two_replies(first: str, second: str) -> Transcript:
    return (
        Chat()
        .merchant("How is revenue?")
        .tool("get_financial_metrics", {"time_range": "30d"}, FINANCIAL)
        .cj(first)
        .merchant("And again?")
        .cj(second)
        .build()
    )


def test_consistency_accepts_the_same_value_at_different_precision() -> None:
    result = consistency_evaluator()(transcript=two_replies("MRR is $45.2K.", "MRR: $45,210 (up 2.5% from $44,100)"))
    assert result.passed and result.score == 1.0, result.comment


def test_consistency_flags_a_metric_stated_with_two_values() -> None:
    result = consistency_evaluator()(transcript=two_replies("Churn is 5.2% this month.", "Churn is 6.1% this month."))
    assert not result.passed
    assert result.details["contradictions"][0]["metric"] == "churn_rate"
    assert result.details["contradictions"][0]["messages"] == [3, 5]


def test_consistency_allows_different_stated_windows() -> None:
    result = consistency_evaluator()(
        transcript=two_replies("Churn is 5.2% over the last 30 days.", "Churn is 1.3% over the last 7 days.")
    )
    assert result.passed, result.details


def test_consistency_labels_net_growth_after_cancellations_as_net_growth() -> None:
    result = consistency_evaluator()(
        transcript=two_replies("Net growth after cancellations was 6 subscribers.", "Cancellations: 185.")
    )
    assert result.passed
    assert {s["metric"] for s in result.details["statements"]} == {"net_growth", "cancellations"}


# --------------------------------------------------------------------------- style


def test_style_passes_a_grounded_on_topic_reply() -> None:
    result = style_evaluator()(transcript=fin_chat("CAC is $46.45, up from $34.09.", "What's our CAC now?"))
    assert result.passed and result.score == 1.0, result.details


def test_style_flags_leaked_reasoning() -> None:
    for leak in (
        "Thought: the merchant wants CAC, so I will call get_financial_metrics. CAC is $46.45.",
        "CAC is $46.45. (internal: lead with the headline)",
        "As an AI, I think CAC is $46.45.",
    ):
        result = style_evaluator()(transcript=fin_chat(leak, "What's our CAC now?"))
        assert not result.passed and result.details["violations"][0]["check"] == "leak", leak


def test_style_flags_an_answer_about_another_topic() -> None:
    # Asked about support, answered with the financial numbers.
    t = (
        Chat(workflow="weekly_review")
        .merchant("How many support tickets this month?")
        .tool("get_financial_metrics", {"time_range": "30d"}, FINANCIAL)
        .cj("MRR is $45,210 and churn is 5.2%.")
        .build()
    )
    result = style_evaluator()(transcript=t)
    assert not result.passed
    assert [v["check"] for v in result.details["violations"]] == ["answer"]
    assert result.details["violations"][0]["question"] == 0


def test_style_flags_the_wrong_fields_of_the_right_tool() -> None:
    result = style_evaluator()(transcript=fin_chat("MRR is $45,210.", "What's our CAC now?"))
    assert not result.passed and result.details["violations"][0]["check"] == "answer"


def test_style_accepts_saying_an_unbound_tool_is_unavailable() -> None:
    # customer_deep_dive does not bind get_ticket_metrics.
    chat = Chat(workflow="customer_deep_dive").merchant("How many support tickets this month?")
    ok = style_evaluator()(transcript=chat.cj("I don't have access to the ticket numbers here.").build())
    assert ok.passed, ok.details
    silent = Chat(workflow="customer_deep_dive").merchant("How many support tickets this month?").cj("Sure thing!")
    assert not style_evaluator()(transcript=silent.build()).passed


def test_style_checks_a_pushback_against_the_question_before_it() -> None:
    t = (
        Chat()
        .merchant("What's our CAC now?")
        .cj("It went up.")
        .merchant("Can you give me actual numbers?")
        .tool("get_financial_metrics", {"time_range": "30d"}, FINANCIAL)
        .cj("CAC is $46.45.")
        .build()
    )
    result = style_evaluator()(transcript=t)
    assert [v["message"] for v in result.details["violations"]] == [1]


def test_style_requires_recommendations_when_advice_is_asked() -> None:
    base = Chat().merchant("How is revenue?").tool("get_financial_metrics", {"time_range": "30d"}, FINANCIAL)
    base.cj("MRR is $45,210.").merchant("What should I do?")
    assert not style_evaluator()(transcript=base.cj("Hard to say.").build()).passed
    good = Chat().merchant("What should I do?").cj("Recommended next steps:\n- Review paid channels")
    assert style_evaluator()(transcript=good.build()).passed


def test_style_bounds_length_by_stress_level() -> None:
    long_reply = "MRR is $45,210. " + "word " * 170
    calm = Chat(stress="low").merchant("Hi").cj(long_reply).build()
    stressed = Chat(stress="critical").merchant("Hi").cj(long_reply).build()
    assert style_evaluator()(transcript=calm).passed
    result = style_evaluator()(transcript=stressed)
    assert not result.passed and result.details["violations"][0]["check"] == "length"


# --------------------------------------------------------------------------- goal coverage


def goal_chat(reply: str, ask: str = "What's our churn rate this month?") -> Transcript:
    return (
        Chat(scenario="growth_stall")
        .merchant(ask)
        .tool("get_financial_metrics", {"time_range": "30d"}, FINANCIAL)
        .cj(reply)
        .build()
    )


def test_goal_coverage_checks_the_stated_value_of_each_asked_goal() -> None:
    result = goal_coverage_evaluator()(transcript=goal_chat("Churn is 5.2% this month; CAC is $46.45."))
    rows = {r["goal"]: r for r in result.details["goals"]}
    assert rows["churn_rate"]["status"] == "answered" and rows["churn_rate"]["asked"] == 0
    assert rows["churn_rate"]["expected"] == 0.0523 and rows["churn_rate"]["stated"] == "5.2%"
    assert rows["cac"]["status"] == "answered" and rows["cac"]["asked"] is None  # volunteered
    assert rows["next_steps"]["status"] == "not_asked"
    assert not result.passed and result.score == 0.5


def test_goal_coverage_flags_a_wrong_value() -> None:
    result = goal_coverage_evaluator()(transcript=goal_chat("Churn is 7.9% this month."))
    rows = {r["goal"]: r for r in result.details["goals"]}
    assert rows["churn_rate"]["status"] == "wrong_value" and rows["churn_rate"]["stated"] == "7.9%"


def test_goal_coverage_uses_the_provider_when_given() -> None:
    class Provider:
        def get_view(self, name: str, as_of: Any = None, **args: Any) -> Any:
            class View:
                def to_json(self) -> dict[str, Any]:
                    return {"churn_rate": {"current": 0.079}, "cac": {"current": 46.45}, "mrr": {"change_pct": 2.5}}

            assert name == "financial_metrics" and args == {"time_range": "30d"} and str(as_of) == "2025-03-01"
            return View()

    result = goal_coverage_evaluator(provider_for=lambda t: Provider())(transcript=goal_chat("Churn is 7.9%."))
    rows = {r["goal"]: r for r in result.details["goals"]}
    assert rows["churn_rate"]["status"] == "answered" and rows["churn_rate"]["expected_from"] == "provider financial_metrics"


def test_text_values_match_with_underscores_or_spaces() -> None:
    assert same_text("shipping_delay", "Most tickets are about Shipping Delay.")
    assert same_text("too expensive", "top reason: too_expensive (54)")
    assert not same_text("billing", "rebilling issues")


# --------------------------------------------------------------------------- judge


def verdict(**passed: bool) -> Any:
    return call("JudgeVerdict", {"verdicts": [{"criterion": c, "passed": p, "reason": "x"} for c, p in passed.items()]})


def test_judge_without_a_model_is_skipped_not_scored() -> None:
    result = judge_evaluator()(transcript=fin_chat("MRR is $45,210."))
    assert result.skipped and result.score is None and "--judge-model" in result.comment


def test_evaluators_take_a_judge_model_not_a_spec() -> None:
    with pytest.raises(InvalidArgumentError, match=r"got the model spec 'openai:gpt-4o-mini'; make the model with app.batch"):
        default_evaluators(judge_model="openai:gpt-4o-mini", keys=["judge"])


def test_judge_takes_a_majority_vote_per_criterion() -> None:
    model = ScriptedChatModel(
        replies=[
            verdict(accuracy=True, helpfulness=True, tone=False, completeness=True),
            verdict(accuracy=True, helpfulness=False, tone=False, completeness=True),
            verdict(accuracy=True, helpfulness=True, tone=True, completeness=False),
        ]
    )
    criteria = ("accuracy", "helpfulness", "tone", "completeness")
    result = judge_evaluator(model, n=3, criteria=criteria)(transcript=fin_chat("MRR is $45,210."))
    assert result.score == 0.75 and result.passed
    tone = {"passed": False, "score": pytest.approx(1 / 3), "votes": [False, False, True], "reasons": ["x"] * 3}
    assert result.details["criteria"]["tone"] == tone
    assert len(model.calls) == 3


def test_judge_model_error_is_a_skip_with_the_reason() -> None:
    model = ScriptedChatModel(replies=["not a verdict"], fail_on_call=1)
    result = judge_evaluator(model, n=1)(transcript=fin_chat("MRR is $45,210."))
    assert result.skipped and "model exploded" in result.comment


def test_judge_validates_its_arguments() -> None:
    with pytest.raises(InvalidArgumentError):
        judge_evaluator(n=0)
    with pytest.raises(UnknownNameError, match="helpfulness"):
        judge_evaluator(criteria=("charm",))


# --------------------------------------------------------------------------- registry


def test_registry_builds_evaluators_by_key_and_rejects_unknown_ones() -> None:
    assert EVALUATOR_KEYS[-1] == "judge" and "judge" not in DETERMINISTIC_KEYS
    assert [e.key for e in default_evaluators(keys=["style", "grounding"])] == ["style", "grounding"]
    with pytest.raises(UnknownNameError, match="valid evaluators: consistency, goal_coverage"):
        default_evaluators(keys=["grounding", "vibes"])


def test_evaluate_turns_an_evaluator_error_into_a_skipped_result() -> None:
    def broken(*, transcript: Transcript) -> Any:
        raise RuntimeError("bad transcript")

    broken.key = "broken"  # type: ignore[attr-defined]
    results = evaluate(fin_chat("MRR is $45,210."), [broken, grounding_evaluator()])
    assert results[0].skipped and results[0].key == "broken" and "RuntimeError: bad transcript" in results[0].comment
    assert results[1].passed


def test_evaluation_settings_errors_name_the_file_and_field(tmp_path) -> None:
    import yaml

    from app.datafiles import data_dir, load_model
    from app.errors import DataFileError
    from app.formats.evaluation import EvaluationSettings

    raw = yaml.safe_load((data_dir() / "evaluation.yaml").read_text(encoding="utf-8"))
    raw["style"]["max_wrds"] = raw["style"].pop("max_words")
    bad = tmp_path / "evaluation.yaml"
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"evaluation.yaml: field 'style.max_wrds': unknown field"):
        load_model(bad, EvaluationSettings)


def test_default_evaluators_skip_the_judge_without_a_model() -> None:
    results = evaluate(fin_chat("MRR is $45,210."), default_evaluators(keys=["judge", "consistency"]))
    assert [r.key for r in results] == ["judge", "consistency"]
    assert results[0].skipped and not results[1].skipped
