"""The conversation graph with scripted fake models: routing, binding, errors, termination, HITL."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.sqlite import SqliteSaver

from app.graph import build_graph
from app.simulation import HumanConversation, RunConfig, run_conversation
from app.tools import ALL_TOOLS
from app.transcript import Transcript
from tests.conftest import cached_agent
from tests.fakes import ScriptedChatModel, call

SNAPSHOT = Path(__file__).parent / "snapshots" / "conversation_graph.mmd"


def test_graph_structure_snapshot() -> None:
    drawing = build_graph().get_graph().draw_mermaid()
    assert drawing == SNAPSHOT.read_text(), "graph changed: update tests/snapshots/conversation_graph.mmd if intended"


def test_conversation_graph_doc_shows_the_current_graph_and_every_tool() -> None:
    """docs/conversation_graph.md draws the snapshot, whose tools node lists exactly app/tools.py's tools."""
    doc = (Path(__file__).parents[1] / "docs" / "conversation_graph.md").read_text(encoding="utf-8")
    drawing = SNAPSHOT.read_text()
    assert f"```mermaid\n{drawing.rstrip()}\n```" in doc, "paste tests/snapshots/conversation_graph.mmd into the doc"
    listed = re.search(r"__tools = ([^<]+)<", drawing)
    assert listed is not None and tuple(listed.group(1).split(", ")) == ALL_TOOLS


def run(workflow: str, cj_replies: list, merchant_replies: list, scenario: str = "growth_stall", turns: int = 6):
    cj = ScriptedChatModel(replies=cj_replies)
    merchant = ScriptedChatModel(replies=merchant_replies)
    provider = cached_agent(scenario, "marcus_thompson", 0)
    cfg = RunConfig(scenario=scenario, workflow=workflow, max_turns=turns)
    return run_conversation(cfg, provider=provider, cj_model=cj, merchant_model=merchant), cj, merchant


def tool_messages(t: Transcript) -> list:
    return [m for m in t.messages if m.role == "tool"]


def test_cj_opening_workflow_calls_tools_and_ends_when_merchant_is_done() -> None:
    t, _cj, _ = run("daily_briefing", [call("get_daily_briefing"), "Good morning! MRR is flat."], ["Thanks [DONE]"])
    assert t.termination_reason == "merchant_done"
    assert [m.role for m in t.messages] == ["cj", "tool", "cj", "merchant"]
    assert t.messages[1].artifact["as_of"] and t.messages[1].status == "success"
    assert t.messages[-1].content == "Thanks"  # the done marker is stripped
    assert {"workflow": "daily_briefing", "stage": "deliver_briefing", "at_message": 1} in t.stages_reached


def test_cj_is_bound_to_exactly_its_workflow_tools() -> None:
    _, cj, _ = run("crisis_response", ["ok"], ["Our carrier had an outage!", "bye [DONE]"])
    from app.workflows import get_workflow

    assert cj.bound[0] == get_workflow("crisis_response").tools_available


def test_unbound_tool_gets_an_error_message_the_model_can_recover_from() -> None:
    t, _cj, _ = run(
        "crisis_response",
        [call("analyze_customer_segment", {"segment": "at_risk"}), call("get_crisis_analysis", {}, "c2"), "Here's the impact."],
        ["The carrier had an outage!", "ok [DONE]"],
    )
    errors = [m for m in tool_messages(t) if m.status == "error"]
    assert len(errors) == 1
    assert "not available in the crisis_response workflow" in errors[0].content
    assert "get_crisis_analysis" in errors[0].content  # lists what is available
    assert tool_messages(t)[1].status == "success"
    assert t.termination_reason == "merchant_done"


def test_bad_arguments_come_back_as_an_error_message() -> None:
    t, _, _ = run("ad_hoc_support", [call("get_ticket_metrics", {"time_range": "2w"}), "Sorry."], ["Tickets?", "ok [DONE]"])
    err = tool_messages(t)[0]
    assert err.status == "error"
    assert "time_range" in err.content and "24h" in err.content


class ExplodingProvider:
    """Wraps a provider; one view raises like a failing database."""

    def __init__(self, inner, broken: str) -> None:
        self.inner, self.broken, self.name = inner, broken, "exploding"

    def default_as_of(self):
        return self.inner.default_as_of()

    def get_view(self, name, as_of=None, /, **args):
        if name == self.broken:
            raise ConnectionError("database went away")
        return self.inner.get_view(name, as_of, **args)


def test_a_tool_raising_mid_run_does_not_end_the_run() -> None:
    provider = ExplodingProvider(cached_agent("growth_stall", "marcus_thompson", 0), "ticket_metrics")
    cj = ScriptedChatModel(replies=[call("get_ticket_metrics", {}), call("get_daily_briefing", {}, "c2"), "Answer."])
    merchant = ScriptedChatModel(replies=["How are tickets?", "thanks [DONE]"])
    t = run_conversation(RunConfig(workflow="ad_hoc_support"), provider=provider, cj_model=cj, merchant_model=merchant)
    tools = tool_messages(t)
    assert tools[0].status == "error" and "database went away" in tools[0].content
    assert tools[1].status == "success"
    assert t.termination_reason == "merchant_done"


def test_repeated_tool_errors_end_with_tool_error_limit() -> None:
    t, _, _ = run("ad_hoc_support", [call("get_customer_profile", {"customer_id": "C999999"})], ["Who is C999999?"])
    assert t.termination_reason == "tool_error_limit"
    assert len(tool_messages(t)) == 3


def test_an_unreadable_tool_call_next_to_a_valid_one_gets_its_own_error_message() -> None:
    both = AIMessage(
        content="",
        tool_calls=[{"id": "ok1", "name": "get_daily_briefing", "args": {}, "type": "tool_call"}],
        invalid_tool_calls=[{"id": None, "name": None, "args": "{oops", "error": "bad json", "type": "invalid_tool_call"}],
    )
    t, cj, _ = run("daily_briefing", [both, "Morning! Here is the briefing."], ["thanks [DONE]"])
    assert t.termination_reason == "merchant_done"
    cj_msg, *tools = t.messages[:3]
    assert [(c.id, c.name) for c in cj_msg.invalid_tool_calls] == [("invalid_call_0", "unknown")]
    by_id = {m.tool_call_id: m for m in tools}
    assert by_id["ok1"].status == "success" and by_id["invalid_call_0"].status == "error"
    assert "'{oops'" in by_id["invalid_call_0"].content
    assert {"workflow": "daily_briefing", "stage": "deliver_briefing", "at_message": 2} in t.stages_reached
    # the model's next call saw both results
    assert {m.tool_call_id for m in cj.calls[1] if isinstance(m, ToolMessage)} == {"ok1", "invalid_call_0"}


def test_a_failing_model_ends_with_agent_error() -> None:
    cj = ScriptedChatModel(replies=["x"], fail_on_call=1)
    merchant = ScriptedChatModel(replies=["Hi"])
    t = run_conversation(
        RunConfig(workflow="ad_hoc_support"), provider=cached_agent("growth_stall", "marcus_thompson", 0),
        cj_model=cj, merchant_model=merchant,
    )
    assert t.termination_reason == "agent_error"
    assert "model exploded" in t.error


def test_max_turns() -> None:
    t, _, _ = run("ad_hoc_support", ["Sure."], ["And another thing?"], turns=3)
    assert t.termination_reason == "max_turns"
    assert sum(m.role == "merchant" for m in t.messages) == 3


def test_briefing_transitions_to_crisis_response_on_a_crisis_report() -> None:
    t, cj, _ = run(
        "daily_briefing",
        [call("get_daily_briefing"), "Morning!", call("get_crisis_analysis", {}, "c2"), "On it."],
        ["Our carrier had an outage and everyone is complaining!", "thanks [DONE]"],
    )
    assert [p["workflow"] for p in t.workflow_path] == ["daily_briefing", "crisis_response"]
    assert t.workflow_path[1]["trigger"] == "crisis_report"
    from app.workflows import get_workflow

    assert cj.bound[-1] == get_workflow("crisis_response").tools_available
    assert tool_messages(t)[1].status == "success"
    assert any(s["workflow"] == "crisis_response" and s["stage"] == "assess_impact" for s in t.stages_reached)


@pytest.mark.parametrize(
    ("opening", "expected"),
    [
        ("Which customers are at risk of leaving?", "customer_deep_dive"),
        ("We have a shipping meltdown, the carrier is down", "crisis_response"),
        ("Hello there", "ad_hoc_support"),
    ],
)
def test_auto_workflow_picks_from_the_opening(opening: str, expected: str) -> None:
    t, _, _ = run("auto", ["Sure."], [opening, "ok [DONE]"])
    assert t.workflow == "auto"
    assert t.workflow_path[0]["workflow"] == expected


def test_merchant_sees_a_role_flipped_transcript_without_tool_traffic() -> None:
    _, _, merchant = run("daily_briefing", [call("get_daily_briefing"), "Morning, MRR is flat."], ["ok", "bye [DONE]"])
    seen = merchant.calls[-1]
    assert not any(isinstance(m, ToolMessage) for m in seen)
    assert [type(m).__name__ for m in seen[1:]] == ["HumanMessage", "AIMessage", "HumanMessage"]
    assert seen[1].content == "Morning, MRR is flat."
    assert all(not getattr(m, "tool_calls", None) for m in seen)


def test_human_in_the_loop_pauses_and_resumes(tmp_path: Path) -> None:
    cfg = RunConfig(workflow="ad_hoc_support")
    cj = ScriptedChatModel(replies=[call("get_financial_metrics", {}), "Churn is 5.9%.", "Bye!"])
    chat = HumanConversation(cfg, provider=cached_agent("growth_stall", "marcus_thompson", 0), cj_model=cj)
    assert chat.start() == ""
    assert chat.send("How is churn?") == "Churn is 5.9%."
    assert not chat.finished
    chat.send("/quit")
    assert chat.finished
    t = chat.transcript()
    assert t.termination_reason == "human_quit"
    assert [m.content for m in t.messages if m.role == "merchant"] == ["How is churn?"]  # no invented words


@pytest.mark.parametrize("leave", ["", "/exit", "  /DONE "])
def test_a_human_leaving_is_recorded_as_human_quit(leave: str) -> None:
    chat = HumanConversation(RunConfig(workflow="ad_hoc_support"), provider=cached_agent("growth_stall", "marcus_thompson", 0),
                             cj_model=ScriptedChatModel(replies=["Churn is 5.9%."]))  # fmt: skip
    chat.start()
    chat.send("How is churn?")
    chat.send(leave)
    t = chat.transcript()
    assert t.termination_reason == "human_quit" and [m.role for m in t.messages] == ["merchant", "cj"]


def test_end_of_input_is_recorded_as_human_quit() -> None:
    chat = HumanConversation(RunConfig(workflow="daily_briefing"), provider=cached_agent("growth_stall", "marcus_thompson", 0),
                             cj_model=ScriptedChatModel(replies=["Morning!"]))  # fmt: skip
    assert chat.start() == "Morning!"
    chat.quit()
    assert chat.finished and chat.transcript().termination_reason == "human_quit"
    assert [m.role for m in chat.transcript().messages] == ["cj"]


def test_sqlite_checkpointer_resumes_in_a_new_process_object(tmp_path: Path) -> None:
    db = tmp_path / "checkpoints.sqlite"
    provider = cached_agent("growth_stall", "marcus_thompson", 0)
    cfg = RunConfig(workflow="ad_hoc_support")
    first = HumanConversation(
        cfg, provider=provider, checkpointer=SqliteSaver(sqlite3.connect(db, check_same_thread=False)),
        cj_model=ScriptedChatModel(replies=["First answer.", "Second answer."]),
    )
    first.start()
    assert first.send("question one") == "First answer."
    # a fresh object on the same checkpoint file continues where the first stopped
    second = HumanConversation(
        cfg, provider=provider, checkpointer=SqliteSaver(sqlite3.connect(db, check_same_thread=False)),
        cj_model=ScriptedChatModel(replies=["Second answer."]),
    )
    assert second.send("question two") == "Second answer."
    merchant_lines = [m.content for m in second.transcript().messages if m.role == "merchant"]
    assert merchant_lines == ["question one", "question two"]


def test_transcript_round_trip_and_openai_export() -> None:
    t, _, _ = run("daily_briefing", [call("get_daily_briefing"), "Morning!"], ["ok [DONE]"])
    again = Transcript.from_json(t.to_json())
    assert again.body() == t.body()
    oa = t.to_openai(system_prompt="sys")
    roles = [m["role"] for m in oa["messages"]]
    assert roles == ["system", "assistant", "tool", "assistant", "user"]
    assert json.loads(oa["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {}
    assert oa["messages"][2]["tool_call_id"] == oa["messages"][1]["tool_calls"][0]["id"]


def test_timestamps_come_from_the_simulation_clock() -> None:
    t, _, _ = run("daily_briefing", [call("get_daily_briefing"), "Morning!"], ["ok [DONE]"])
    provider_day = cached_agent("growth_stall", "marcus_thompson", 0).clock.isoformat()
    assert all(m.timestamp.startswith(provider_day) for m in t.messages)
    assert [m.timestamp for m in t.messages] == sorted(m.timestamp for m in t.messages)
