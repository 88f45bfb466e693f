"""The retention_ops workflow offline: CJ reads the alert and context, builds the queue, drafts the
brief and asks before triggering the playbook; the scripted merchant answers by persona; every
number CJ states comes from a tool result."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

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
