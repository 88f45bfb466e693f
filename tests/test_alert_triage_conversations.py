"""The alert_triage workflow offline: CJ lists today's critical and high health alerts, shows the top
customer's evidence, proposes next-best actions, then acknowledges the alert the merchant takes on and
records their feedback (actions that need no approval pause); every number CJ states comes from a tool result."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from sqlalchemy import select

from app.catalog import Catalog
from app.evaluation.registry import DETERMINISTIC_KEYS, default_evaluators
from app.health.feedback import statuses
from app.simulation import RunConfig, run_conversation
from app.storage.ops import OpsStore, alert_feedback
from app.workflows import workflows
from tests.conftest import cached_agent
from tests.test_conversations import ungrounded

STAGES = [s.id for s in workflows().get("alert_triage").conversation_flow]


@pytest.mark.parametrize("merchant", ["marcus_thompson", "sarah_chen", "zoe_martinez"])
@pytest.mark.parametrize("scenario", ["churn_spike", "shipping_crisis", "steady_operations"])
def test_alert_triage_passes_every_deterministic_evaluator_and_writes_the_ops_store(
    scenario: str, merchant: str, tmp_path: Path
) -> None:
    agent = copy.copy(cached_agent(scenario, merchant))
    agent.ops = OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.db'}")
    t = run_conversation(RunConfig(scenario=scenario, merchant=merchant, workflow="alert_triage"), provider=agent)

    assert t.termination_reason == "merchant_done", t.error
    assert [s["stage"] for s in t.stages_reached if s["workflow"] == "alert_triage"] == STAGES
    assert ungrounded(t) == []
    results = {ev.key: ev(transcript=t) for ev in default_evaluators(keys=list(DETERMINISTIC_KEYS))}
    assert all(r.passed for r in results.values()), {k: r.comment for k, r in results.items() if not r.passed}

    # the alert acknowledged and given feedback is the top customer's, as the customer_health result names it
    health = next(m.artifact for m in t.messages if m.role == "tool" and m.name == "get_customer_health")
    alert_id = health["alert"]["alert_id"]
    calls = [c for m in t.messages if m.role == "cj" for c in (m.tool_calls or [])]
    acted = {c.name: c.args for c in calls if c.name in ("acknowledge_alert", "record_alert_feedback")}
    assert acted["acknowledge_alert"] == {"alert_id": alert_id}
    assert acted["record_alert_feedback"] == {"alert_id": alert_id, "alert_accuracy": "accurate", "priority_rating": 4}

    # both actions ran once at the merchant's word (neither needs an approval pause), audited and written
    for action in ("acknowledge_alert", "record_alert_feedback"):
        (row,) = agent.ops.audit(action)
        assert (row.approval, row.actor, row.status) == ("not_required", "cj", "succeeded")
    assert agent.ops.read(lambda c: statuses(c, [alert_id])) == {alert_id: ("acknowledged", None)}
    (fb,) = agent.ops.read(lambda c: c.execute(select(alert_feedback)).mappings().all())
    assert (fb["alert_id"], fb["alert_accuracy"], fb["priority_rating"]) == (alert_id, "accurate", 4)


def test_the_merchant_pursues_the_workflows_own_goals() -> None:
    t = run_conversation(RunConfig(scenario="churn_spike", merchant="marcus_thompson", workflow="alert_triage"))
    wanted = workflows().get("alert_triage").merchant_goals
    assert t.goals is not None and t.goals.source == "workflow" and t.goals.goals == wanted
    (coverage,) = default_evaluators(keys=["goal_coverage"])
    result = coverage(transcript=t)
    assert result.passed and result.score == 1.0, result.comment


def test_a_named_pattern_group_fills_the_argument_it_names() -> None:
    intents = Catalog.default().intents
    (m,) = [m for m in intents.detect("The alert was inaccurate, priority 2.") if m.intent.id == "alert_feedback"]
    assert m.args == {"alert_accuracy": "inaccurate", "priority_rating": 2}
    (m,) = [m for m in intents.detect("The alert is accurate") if m.intent.id == "alert_feedback"]
    assert m.args == {"alert_accuracy": "accurate"}


def test_cj_does_not_act_on_an_alert_before_a_result_names_it() -> None:
    """Taking an alert on before any alert was listed calls nothing: the alert id comes from a result."""
    t = run_conversation(RunConfig(scenario="steady_operations", merchant="marcus_thompson", workflow="alert_triage"))
    calls = [c.name for m in t.messages if m.role == "cj" for c in (m.tool_calls or [])]
    first_action = min(calls.index("acknowledge_alert"), calls.index("record_alert_feedback"))
    assert calls.index("get_health_alerts") < calls.index("get_customer_health") < first_action
