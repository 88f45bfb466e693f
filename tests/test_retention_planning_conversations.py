"""The retention_planning workflow offline: CJ reads the portfolio snapshot, the playbook performance
and the churn forecast, recommends playbooks for segments with their numbers, launches the playbook
the merchant agrees to for the customer with the most revenue at risk and, when the playbook
requires approval, asks the merchant before approving it; every number CJ states comes from a tool
result, and the same seed gives the same transcript."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest

from app.evaluation.registry import DETERMINISTIC_KEYS, default_evaluators
from app.journeys import records
from app.journeys.playbooks import load_playbooks
from app.simulation import RunConfig, run_conversation
from app.storage.ops import OpsStore
from app.transcript import Transcript
from app.workflows import workflows
from tests.conftest import cached_agent
from tests.test_conversations import ungrounded

WORKFLOW = "retention_planning"
STAGES = [s.id for s in workflows().get(WORKFLOW).conversation_flow]


def _artifact(t: Transcript, tool: str) -> dict:
    return next(m.artifact for m in t.messages if m.role == "tool" and m.name == tool and m.status != "error")


def _calls(t: Transcript) -> list:
    return [c for m in t.messages if m.role == "cj" for c in (m.tool_calls or [])]


@pytest.mark.parametrize(("scenario", "merchant"), [
    ("churn_spike", "marcus_thompson"),  # the top customer's playbook requires approval
    ("churn_spike", "sarah_chen"),  # it does not
    ("shipping_crisis", "zoe_martinez"),
    ("steady_operations", "marcus_thompson"),
    ("steady_operations", "sarah_chen"),
])  # fmt: skip
def test_retention_planning_launches_what_the_merchant_approves(scenario: str, merchant: str, tmp_path: Path) -> None:
    agent = copy.copy(cached_agent(scenario, merchant))
    agent.ops = OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.db'}")
    t = run_conversation(RunConfig(scenario=scenario, merchant=merchant, workflow=WORKFLOW), provider=agent)

    assert t.termination_reason == "merchant_done", t.error
    reached = [s["stage"] for s in t.stages_reached if s["workflow"] == WORKFLOW]
    assert sorted(reached) == sorted(STAGES)  # a merchant asking for the customers first brings the forecast forward
    assert ungrounded(t) == []
    results = {ev.key: ev(transcript=t) for ev in default_evaluators(keys=list(DETERMINISTIC_KEYS))}
    assert all(r.passed for r in results.values()), {k: r.comment for k, r in results.items() if not r.passed}

    # CJ read before it acted, and launched the churn forecast's top customer with their playbook
    names = [c.name for c in _calls(t)]
    assert names.index("get_portfolio_snapshot") < names.index("get_churn_forecast") < names.index("launch_intervention")
    assert names.index("get_playbooks") < names.index("launch_intervention") < names.index("approve_intervention")
    top = _artifact(t, "get_churn_forecast")["top"][0]
    (launch,) = [c for c in _calls(t) if c.name == "launch_intervention"]
    assert launch.args == {"customer_id": top["customer_id"], "playbook_id": top["playbook_id"]}

    # the intervention is on record, run by nobody but this conversation, and it lands tomorrow
    playbook = load_playbooks().get(top["playbook_id"])
    (row,) = agent.ops.read(lambda c: records.read_interventions(c, launched_by_cj=True))
    assert (row.customer_id, row.playbook_id, row.run_id) == (top["customer_id"], playbook.playbook_id, None)
    assert row.status == "launched" and row.executed_action == tuple(playbook.default_actions)
    assert row.lands_on == agent.clock + dt.timedelta(days=1)
    assert row.requires_human_approval is playbook.approval_required

    # the approval pause: the merchant was asked and said yes (the persona approves by default)
    (audit,) = agent.ops.audit("approve_intervention")
    assert (audit.approval, audit.actor, audit.status) == ("approved", "cj", "succeeded")
    approved = _artifact(t, "approve_intervention")["result"]
    assert approved["changed"] is playbook.approval_required  # a playbook needing no approval was launched already
    assert row.decided_by == "cj"

    # CJ recommended playbooks for segments with their customers, expected value and cost
    rec = _artifact(t, "get_playbooks")["recommended"][0]
    said = " ".join(m.content for m in t.messages if m.role == "cj" and m.content)
    assert f"{rec['name']} for the {rec['segment'].replace('_', ' ')} customers: {rec['customers']} customers" in said


def test_the_same_seed_gives_the_same_transcript() -> None:
    cfg = RunConfig(scenario="churn_spike", merchant="marcus_thompson", workflow=WORKFLOW, seed=3)
    first, second = run_conversation(cfg), run_conversation(cfg)
    assert first.body() == second.body()
    assert any(c.name == "approve_intervention" for c in _calls(first))


def test_the_merchant_pursues_the_workflows_own_goals() -> None:
    t = run_conversation(RunConfig(scenario="steady_operations", merchant="zoe_martinez", workflow=WORKFLOW))
    wanted = workflows().get(WORKFLOW).merchant_goals
    assert t.goals is not None and t.goals.source == "workflow" and t.goals.goals == wanted
    (coverage,) = default_evaluators(keys=["goal_coverage"])
    result = coverage(transcript=t)
    assert result.passed and result.score == 1.0, result.comment


def test_cj_does_not_launch_before_a_forecast_names_the_customer() -> None:
    """Launching takes the customer and the playbook from the churn forecast; before it, nothing is launched."""
    t = run_conversation(RunConfig(scenario="churn_spike", merchant="sarah_chen", workflow=WORKFLOW))
    names = [c.name for c in _calls(t)]
    assert names.count("launch_intervention") == 1 and names.index("get_churn_forecast") < names.index("launch_intervention")
