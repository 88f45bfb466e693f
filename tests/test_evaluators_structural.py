"""The structural evaluators (tool_use, trajectory, workflow_adherence) on hand-built transcripts,
and the defective rule-based CJ variants that calibrate them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.analysis.claims import extract_claims, find_source, source_values
from app.errors import InvalidArgumentError, UnknownNameError
from app.evaluation.adherence import workflow_adherence_evaluator
from app.evaluation.tool_use import tool_use_evaluator
from app.evaluation.trajectory import trajectory_evaluator
from app.intents import intents
from app.model_specs import make_cj_model
from app.policies.data_defects import scale_numbers
from app.policies.defects import DEFECTS, defect_wording
from app.simulation import RunConfig, run_conversation
from app.transcript import MessageRecord, ToolCallRecord, Transcript
from app.workflows import workflows
from tests.conftest import cached_agent

START = dt.datetime(2025, 5, 1, 9, 0)


class Build:
    """A transcript by hand: merchant lines, CJ calls (with their results) and CJ replies."""

    def __init__(self, workflow: str) -> None:
        self.workflow = workflow
        self.messages: list[MessageRecord] = []
        self.path: list[dict[str, Any]] = [{"workflow": workflow, "at_message": 0, "trigger": None}]
        self.stages: list[dict[str, Any]] = []
        self.clock = START
        self.n_calls = 0

    def _at(self, seconds: int) -> str:
        self.clock += dt.timedelta(seconds=seconds)
        return self.clock.isoformat()

    def merchant(self, text: str, switch: tuple[str, str | None] | None = None) -> Build:
        self.messages.append(MessageRecord(role="merchant", content=text, timestamp=self._at(10)))
        if switch:
            at = len(self.messages) - 1
            self.path.append({"workflow": switch[0], "at_message": at, "trigger": switch[1]})
            self.workflow = switch[0]
        return self

    def calls(self, *calls: tuple[str, dict[str, Any]], status: str = "success", wait: int = 2) -> Build:
        records = [ToolCallRecord(id=f"c{self.n_calls + i}", name=n, args=a) for i, (n, a) in enumerate(calls)]
        self.n_calls += len(calls)
        self.messages.append(MessageRecord(role="cj", content="", timestamp=self._at(wait), tool_calls=records))
        for r in records:
            self.messages.append(
                MessageRecord(role="tool", content="...", timestamp=self._at(1), tool_call_id=r.id, name=r.name, status=status)
            )
        return self

    def reached(self, *stages: str) -> Build:
        at = len(self.messages) - 1
        self.stages += [{"workflow": self.workflow, "stage": s, "at_message": at} for s in stages]
        return self

    def reply(self, text: str = "Churn is 5.0%.") -> Build:
        self.messages.append(MessageRecord(role="cj", content=text, timestamp=self._at(3)))
        return self

    def done(self) -> Transcript:
        return Transcript(
            meta={},
            scenario="growth_stall",
            merchant="marcus_thompson",
            workflow=self.path[0]["workflow"],
            seed=0,
            merchant_context={},
            messages=self.messages,
            workflow_path=self.path,
            stages_reached=self.stages,
            termination_reason="merchant_done",
            usage={},
        )


FIN = ("get_financial_metrics", {"time_range": "30d"})
CHURN_Q = "How bad is churn this month?"


# --------------------------------------------------------------------------- tool_use


def test_tool_use_passes_when_the_requested_tool_was_called() -> None:
    t = Build("weekly_review").merchant(CHURN_Q).calls(FIN).reached("financial_review").reply().done()
    r = tool_use_evaluator()(transcript=t)
    assert (r.key, r.passed, r.score) == ("tool_use", True, 1.0)


def test_tool_use_fails_an_answer_without_the_requested_tool() -> None:
    r = tool_use_evaluator()(transcript=Build("weekly_review").merchant(CHURN_Q).reply().done())
    assert not r.passed and r.score == 0.0
    assert r.details["missing"][0]["tools"] == ["get_financial_metrics"]


def test_tool_use_requires_the_first_stage_when_cj_opens_but_not_stages_never_reached() -> None:
    opened = Build("daily_briefing").calls(("get_daily_briefing", {})).reached("deliver_briefing").reply("MRR $1,000.")
    r = tool_use_evaluator()(transcript=opened.done())  # the merchant left before highlight_risks
    assert r.passed, r.details
    lazy = tool_use_evaluator()(transcript=Build("daily_briefing").reply("Good morning!").done())
    assert not lazy.passed
    assert lazy.details["missing"] == [
        {"kind": "stage", "turn": 0, "workflow": "daily_briefing", "stage": "deliver_briefing", "tools": ["get_daily_briefing"]}
    ]


def test_tool_use_flags_unbound_tools_and_invalid_arguments() -> None:
    unbound = Build("crisis_response").merchant("Our carrier had an outage").calls(("detect_anomalies", {}), status="error")
    r = tool_use_evaluator()(transcript=unbound.reply("Hm.").done())
    assert not r.passed and r.details["unbound"] == 1
    bad = Build("weekly_review").merchant(CHURN_Q).calls(("get_ticket_metrics", {"time_range": "1y"}), status="error")
    r = tool_use_evaluator()(transcript=bad.calls(FIN).reply().done())
    assert not r.passed and r.details["invalid_args"] == 1
    assert r.score == pytest.approx(1 - 1 / 3, abs=1e-3)  # 1 requirement + 2 calls, one problem
    assert "time_range" in r.details["problems"][0]["why"]


def test_tool_use_counts_redundant_calls_only_while_the_earlier_result_is_fresh() -> None:
    tickets = ("get_ticket_metrics", {"time_range": "3d"})
    again = Build("crisis_response").merchant("How many tickets?").calls(tickets).reply("12 tickets.")
    again.merchant("And the ticket count now?").calls(tickets, wait=60).reply("12 tickets.")
    r = tool_use_evaluator()(transcript=again.done())
    assert r.details["redundant"] == 1 and not r.passed
    assert tool_use_evaluator(max_redundant=1)(transcript=again.done()).passed
    later = Build("crisis_response").merchant("How many tickets?").calls(tickets).reply("12 tickets.")
    later.merchant("And the ticket count now?").calls(tickets, wait=400).reply("14 tickets.")  # > 5m refresh
    assert tool_use_evaluator()(transcript=later.done()).details["redundant"] == 0
    # equivalent arguments (defaults filled in) are the same call
    same = Build("weekly_review").merchant("How is support?").calls(("get_ticket_metrics", {}))
    same.reply("5 tickets.").merchant("How are tickets?").calls(("get_ticket_metrics", {"time_range": "7d"})).reply("5.")
    assert tool_use_evaluator()(transcript=same.done()).details["redundant"] == 1


def test_tool_use_factory_validates_its_argument() -> None:
    with pytest.raises(InvalidArgumentError):
        tool_use_evaluator(max_redundant=-1)


# --------------------------------------------------------------------------- workflow_adherence


def test_adherence_accepts_stages_the_merchant_asked_for_out_of_order() -> None:
    t = (
        Build("crisis_response")
        .merchant("Which customers exactly?")
        .calls(("get_customer_list", {"filter": "at_risk", "sort_by": "risk", "limit": 10}))
        .reached("identify_affected")
        .reply("Robert (C000001).")
        .done()
    )
    r = workflow_adherence_evaluator()(transcript=t)
    assert (r.key, r.passed, r.score) == ("workflow_adherence", True, 1.0)


def test_adherence_flags_stages_cj_takes_out_of_order_on_its_own() -> None:
    t = (
        Build("crisis_response")
        .merchant("Hello there.")  # no request: CJ has the initiative, assess_impact is due
        .calls(("get_customer_list", {"filter": "at_risk"}))
        .reached("identify_affected")
        .reply("Robert (C000001).")
        .done()
    )
    r = workflow_adherence_evaluator()(transcript=t)
    kinds = sorted(p["kind"] for p in r.details["problems"])
    assert kinds == ["out_of_order", "skipped"] and not r.passed
    assert r.score == pytest.approx(1 - 2 / 3, abs=1e-3)  # 1 stage reached + 1 due + 1 call


def test_adherence_checks_transitions_against_declared_triggers() -> None:
    ok = Build("daily_briefing").calls(("get_daily_briefing", {})).reached("deliver_briefing").reply("MRR $1.")
    ok.merchant("The carrier had an outage!", switch=("crisis_response", "crisis_report"))
    ok.calls(("get_crisis_analysis", {"crisis_type": "auto", "include_historical": True})).reached("assess_impact")
    assert workflow_adherence_evaluator()(transcript=ok.reply("Severe, 12 customers.").done()).passed
    bad = Build("daily_briefing").calls(("get_daily_briefing", {})).reached("deliver_briefing").reply("MRR $1.")
    bad.merchant(CHURN_Q, switch=("weekly_review", "churn")).calls(FIN).reached("financial_review").reply()
    r = workflow_adherence_evaluator()(transcript=bad.done())
    assert [p["kind"] for p in r.details["problems"]] == ["unjustified_transition"]
    unsaid = Build("daily_briefing").calls(("get_daily_briefing", {})).reached("deliver_briefing").reply("MRR $1.")
    unsaid.merchant("Tell me more.", switch=("crisis_response", "crisis_report"))
    r = workflow_adherence_evaluator()(transcript=unsaid.reply("Sure.").done())
    transition = [p for p in r.details["problems"] if p["kind"] == "unjustified_transition"]
    assert "does not carry" in transition[0]["why"]


def test_adherence_flags_off_workflow_calls() -> None:
    unbound = Build("weekly_review").merchant(CHURN_Q).calls(FIN, ("get_customer_list", {}))
    r = workflow_adherence_evaluator()(transcript=unbound.reached("financial_review").reply().done())
    assert [p["call"] for p in r.details["problems"]] == ["get_customer_list()"]
    unasked = Build("weekly_review").merchant(CHURN_Q).calls(FIN, ("detect_anomalies", {}))
    r = workflow_adherence_evaluator()(transcript=unasked.reached("financial_review").reply().done())
    assert r.details["problems"][0]["why"] == "not a stage tool and not asked for"


# --------------------------------------------------------------------------- trajectory

BRIEF = {"tool": "get_daily_briefing"}
RISK = {"tool": "analyze_customer_segment", "args": {"segment": "at_risk"}}
TICKETS = {"tool": "get_ticket_metrics", "args": {"time_range": "7d"}}


def _run(*calls: dict[str, Any]) -> Transcript:
    b = Build("ad_hoc_support").merchant("Hi")
    for c in calls:
        b.calls((c["tool"], c.get("args", {})))
    return b.reply("Done.").done()


@pytest.mark.parametrize(
    ("mode", "actual", "passed", "score"),
    [
        ("strict", [BRIEF, RISK], True, 1.0),
        ("strict", [RISK, BRIEF], False, 0.0),
        ("strict", [BRIEF, RISK, TICKETS], False, 2 / 3),
        ("unordered", [RISK, BRIEF], True, 1.0),
        ("unordered", [RISK, BRIEF, TICKETS], False, 2 / 3),
        ("subset", [RISK], True, 1.0),
        ("subset", [RISK, TICKETS], False, 0.5),
        ("superset", [TICKETS, RISK, BRIEF], True, 1.0),
        ("superset", [BRIEF, TICKETS], False, 0.5),
    ],
)
def test_trajectory_modes(mode: str, actual: list[dict[str, Any]], passed: bool, score: float) -> None:
    r = trajectory_evaluator([BRIEF, RISK], mode=mode)(transcript=_run(*actual))
    assert (r.key, r.passed, r.score) == ("trajectory", passed, pytest.approx(score, abs=1e-3))


def test_trajectory_matches_calls_one_to_one() -> None:
    ev = trajectory_evaluator([BRIEF, BRIEF], mode="superset")
    assert not ev(transcript=_run(BRIEF)).passed
    assert ev(transcript=_run(BRIEF, BRIEF)).passed


@pytest.mark.parametrize(
    ("args_mode", "actual_args", "passed"),
    [
        ("exact", {"segment": "at_risk"}, True),  # depth=summary is the default: same call
        ("exact", {"segment": "at_risk", "depth": "detailed"}, False),
        ("subset", {"segment": "at_risk", "depth": "detailed"}, True),
        ("subset", {"segment": "high_value"}, False),
        ("ignore", {"segment": "high_value"}, True),
        ({"analyze_customer_segment": "ignore"}, {"segment": "high_value"}, True),
        ({"get_ticket_metrics": "ignore"}, {"segment": "high_value"}, False),
    ],
)
def test_trajectory_argument_modes(args_mode: Any, actual_args: dict[str, Any], passed: bool) -> None:
    ev = trajectory_evaluator([RISK], mode="strict", args_mode=args_mode)
    assert ev(transcript=_run({"tool": "analyze_customer_segment", "args": actual_args})).passed is passed


def test_trajectory_against_a_golden_transcript() -> None:
    cfg = RunConfig(scenario="growth_stall", merchant="marcus_thompson", workflow="daily_briefing", max_turns=3)
    golden = run_conversation(cfg, provider=cached_agent("growth_stall", "marcus_thompson"))
    again = run_conversation(cfg, provider=cached_agent("growth_stall", "marcus_thompson"))
    assert trajectory_evaluator(golden, mode="strict", args_mode="exact")(transcript=again).passed
    off = run_conversation(
        RunConfig(scenario="growth_stall", merchant="marcus_thompson", workflow="daily_briefing", max_turns=3, cj_model="rules:off_workflow"),
        provider=cached_agent("growth_stall", "marcus_thompson"),
    )
    r = trajectory_evaluator(golden, mode="strict")(transcript=off)
    assert not r.passed
    assert [s["tool"] for s in r.details["reference"]] == [c.name for c in golden.tool_calls()]


def test_trajectory_default_reference_is_the_due_workflow_stages() -> None:
    t = Build("daily_briefing").calls(("get_daily_briefing", {})).reached("deliver_briefing").reply("MRR $1.").done()
    r = trajectory_evaluator()(transcript=t)
    assert r.passed and r.details["reference"] == [{"tool": "get_daily_briefing", "args": {}}]
    wrong = Build("daily_briefing").calls(("detect_anomalies", {})).reply("Orders +5%.").done()
    assert not trajectory_evaluator()(transcript=wrong).passed


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"mode": "sideways"}, UnknownNameError),
        ({"args_mode": "fuzzy"}, UnknownNameError),
        ({"args_mode": {"get_nothing": "exact"}}, UnknownNameError),
        ({"reference": [{"tool": "get_nothing"}]}, UnknownNameError),
        ({"reference": [{"name": "get_daily_briefing"}]}, InvalidArgumentError),
        ({"reference": "get_daily_briefing"}, InvalidArgumentError),
    ],
)
def test_trajectory_factory_validates_eagerly(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        trajectory_evaluator(**kwargs)


# --------------------------------------------------------------------------- defect variants


def test_an_unknown_defect_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        make_cj_model("rules:sloppy")
    assert "skip_tools" in str(info.value) and "off_workflow" in str(info.value)


def test_every_ignore_question_substitute_is_recognised_as_its_tool() -> None:
    for tool, question in defect_wording().ignore_question.questions.items():
        assert tool in [m.intent.tool for m in intents().detect(question)], (tool, question)


def test_scaling_a_result_moves_every_number_and_keeps_text() -> None:
    out = scale_numbers({"mrr": {"current": 68841, "previous": 0}, "segment": "at_risk", "share": 0.5}, lambda _p: 1.5)
    assert out == {"mrr": {"current": 103262, "previous": 1}, "segment": "at_risk", "share": 0.75}


def _short(defect: str, workflow: str = "weekly_review", scenario: str = "growth_stall") -> Transcript:
    cfg = RunConfig(scenario=scenario, merchant="marcus_thompson", workflow=workflow, max_turns=3, cj_model=f"rules:{defect}")
    return run_conversation(cfg, provider=cached_agent(scenario, "marcus_thompson"))


def _replies(t: Transcript) -> list[str]:
    return [m.content for m in t.messages if m.role == "cj" and m.content]


def test_hallucinate_numbers_states_numbers_no_tool_gave() -> None:
    t = _short("hallucinate_numbers")
    texts, artifacts, ungrounded = [], [], []
    for m in t.messages:
        if m.role == "tool":
            texts.append(m.content)
            artifacts.append(m.artifact)
        elif m.role == "cj" and m.content:
            values = source_values(texts, artifacts)
            ungrounded += [c.text for c in extract_claims(m.content) if find_source(c, values) is None]
    assert len(ungrounded) >= 3, ungrounded


def test_skip_tools_never_calls_a_tool_but_states_numbers() -> None:
    t = _short("skip_tools")
    assert t.tool_calls() == []
    assert all(extract_claims(r) for r in _replies(t))


def test_off_workflow_calls_tools_outside_the_workflow() -> None:
    t = _short("off_workflow")
    wf = workflows().get("weekly_review")
    stage_tools = {s.tool for s in wf.conversation_flow if s.tool}
    outside = [c.name for c in t.tool_calls() if c.name not in wf.tools_available or c.name not in stage_tools]
    assert outside, [c.name for c in t.tool_calls()]


def test_leak_reasoning_puts_internal_reasoning_in_replies() -> None:
    replies = _replies(_short("leak_reasoning"))
    assert replies and all(r.startswith("Thought:") and "(Internal note:" in r for r in replies)


def test_ignore_question_never_calls_the_asked_tool() -> None:
    t = _short("ignore_question")
    asked = {m.intent.tool for msg in t.messages if msg.role == "merchant" for m in intents().detect(msg.content)}
    assert "get_financial_metrics" in asked
    assert t.tool_calls() and not asked & {c.name for c in t.tool_calls()}


def test_defects_are_deterministic_and_registered() -> None:
    assert set(DEFECTS) == {
        "hallucinate_numbers", "skip_tools", "off_workflow", "leak_reasoning", "ignore_question",
        "wrong_metric", "stale_window", "wrong_customer", "overpromise", "ignored_tool_error",
    }  # fmt: skip
    assert _short("hallucinate_numbers").body() == _short("hallucinate_numbers").body()
