"""The retention_ops workflow offline: CJ reads the alert and context, builds the queue, drafts the
brief and asks before triggering the playbook; the scripted merchant answers by persona; every
number CJ states comes from a tool result."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from app.evaluation.registry import default_evaluators
from app.retention.runs import RunLog
from app.scenarios import get_persona
from app.simulation import RunConfig, run_conversation
from app.storage.ops import OpsStore
from app.workflows import workflows
from tests.conftest import cached_agent
from tests.test_conversations import ungrounded

STAGES = [s.id for s in workflows().get("retention_ops").conversation_flow]


@pytest.mark.parametrize("merchant", ["marcus_thompson", "sarah_chen"])
@pytest.mark.parametrize("scenario", ["churn_spike", "shipping_crisis", "steady_operations"])
def test_retention_ops_asks_before_the_playbook_and_states_grounded_numbers(
    scenario: str, merchant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a playbook that runs writes its brief and exports here
    agent = copy.copy(cached_agent(scenario, merchant))
    agent.ops = OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.db'}")
    t = run_conversation(RunConfig(scenario=scenario, merchant=merchant, workflow="retention_ops"), provider=agent)

    decision = get_persona(merchant).approvals.decision("trigger_playbook")
    assert t.termination_reason == "merchant_done", t.error
    reached = [s["stage"] for s in t.stages_reached if s["workflow"] == "retention_ops"]
    assert reached == (STAGES if decision == "approved" else STAGES[:-1])  # a declined playbook never ran
    assert ungrounded(t) == []
    called = [c.name for m in t.messages if m.role == "cj" for c in (m.tool_calls or [])]
    assert called.index("get_alert_decision") < called.index("build_priority_queue") < called.index("trigger_playbook")

    # the approval pause: the merchant was asked, answered by persona, and the answer is audited
    (row,) = agent.ops.audit("trigger_playbook")
    assert (row.approval, row.actor) == (decision, "cj")
    (msg,) = [m for m in t.messages if m.role == "tool" and m.name == "trigger_playbook"]
    runs = RunLog(agent.ops).list()
    if decision == "declined":
        assert row.status == "declined" and msg.status == "error" and msg.content.startswith("Not done")
        assert runs == []
    else:
        alert = next(m.artifact for m in t.messages if m.role == "tool" and m.name == "get_alert_decision")
        assert row.status == "succeeded" and len(runs) == 1
        assert runs[0].status == ("success" if alert["alert_flag"] else "skipped")
        assert runs[0].severity == alert["severity"] and runs[0].actor == "cj"
        assert runs[0].webhook_status == ("shadow" if alert["alert_flag"] else None)  # shadow mode by default


def test_the_merchant_pursues_the_workflows_own_goals_and_the_transcript_records_them() -> None:
    t = run_conversation(RunConfig(scenario="steady_operations", merchant="marcus_thompson", workflow="retention_ops"))
    wanted = workflows().get("retention_ops").merchant_goals
    assert t.goals is not None and t.goals.source == "workflow" and t.goals.goals == wanted
    (coverage,) = default_evaluators(keys=["goal_coverage"])
    assert coverage(transcript=t).passed, coverage(transcript=t).comment
    # a conversation started elsewhere keeps its scenario's goals
    other = run_conversation(RunConfig(scenario="steady_operations", merchant="marcus_thompson", workflow="daily_briefing"))
    assert other.goals is None


def test_a_declined_playbook_is_the_merchants_answer_not_a_tool_failure(tmp_path: Path) -> None:
    agent = copy.copy(cached_agent("churn_spike", "sarah_chen"))  # sarah_chen declines the playbook
    agent.ops = OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.db'}")
    t = run_conversation(RunConfig(scenario="churn_spike", merchant="sarah_chen", workflow="retention_ops"), provider=agent)
    calls = [c.name for m in t.messages if m.role == "cj" for c in (m.tool_calls or [])]
    assert calls.count("trigger_playbook") == 1  # asking for numbers afterwards does not ask again
    (declined,) = [m for m in t.messages if m.role == "tool" and m.name == "trigger_playbook"]
    assert declined.declined
    reply = next(m for m in t.messages[t.messages.index(declined) :] if m.role == "cj" and m.content)
    assert "playbook" in reply.content and "nothing was" in reply.content
    results = {ev.key: ev(transcript=t) for ev in default_evaluators(keys=["tool_use", "style"])}
    assert all(r.passed for r in results.values()), {k: r.comment for k, r in results.items()}
    assert results["tool_use"].details["failed"] == 0


def test_tool_use_checks_an_actions_arguments_against_its_model() -> None:
    t = run_conversation(RunConfig(scenario="steady_operations", merchant="marcus_thompson", workflow="retention_ops"))
    (tool_use,) = default_evaluators(keys=["tool_use"])
    assert tool_use(transcript=t).details["invalid_args"] == 0  # build_priority_queue() is a valid call
    broken = t.model_copy(deep=True)
    call = next(c for m in broken.messages if m.role == "cj" for c in (m.tool_calls or []) if c.name == "build_priority_queue")
    call.args = {"date": "yesterday"}
    r = tool_use(transcript=broken)
    assert not r.passed and r.details["invalid_args"] == 1
    assert any(p["kind"] == "invalid_args" and "date" in p["why"] for p in r.details["problems"])
