"""The alert_triage workflow offline: CJ lists today's critical and high health alerts, shows the top
customer's evidence, proposes next-best actions, then acknowledges the alert the merchant takes on and
records their feedback (actions that need no approval pause); every number CJ states comes from a tool result."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.agents.data_agent import DataAgent
from app.catalog import Catalog
from app.evaluation.registry import DETERMINISTIC_KEYS, default_evaluators
from app.health.feedback import statuses
from app.health.truth import customer_left
from app.scenarios import get_persona
from app.simulation import RunConfig, run_conversation
from app.storage.ops import OpsStore, alert_feedback
from app.transcript import Transcript
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
    # one step's actions run in the order CJ gave them, so their audit ids follow it in every run
    audit_ids = [m.artifact["audit_id"] for m in t.messages
                 if m.role == "tool" and m.name in ("acknowledge_alert", "record_alert_feedback")]  # fmt: skip
    assert len(audit_ids) == 2 and audit_ids == sorted(audit_ids)
    # the feedback follows the world's truth about that customer and the persona, as the merchant said it
    accuracy, priority = expected_feedback(agent, health["customer_id"], health["alert"]["severity"], merchant)
    assert said_feedback(t) == (accuracy, priority)
    assert acted["record_alert_feedback"] == {"alert_id": alert_id, "alert_accuracy": accuracy, "priority_rating": priority}

    # both actions ran once at the merchant's word (neither needs an approval pause), audited and written
    for action in ("acknowledge_alert", "record_alert_feedback"):
        (row,) = agent.ops.audit(action)
        assert (row.approval, row.actor, row.status) == ("not_required", "cj", "succeeded")
    assert agent.ops.read(lambda c: statuses(c, [alert_id])) == {alert_id: ("acknowledged", None)}
    (fb,) = agent.ops.read(lambda c: c.execute(select(alert_feedback)).mappings().all())
    assert (fb["alert_id"], fb["alert_accuracy"], fb["priority_rating"]) == (alert_id, accuracy, priority)


FEEDBACK_WORDS = re.compile(r"the alert was (somewhat accurate|accurate|inaccurate)\D*(\d)", re.IGNORECASE)
"""The feedback in the merchant's own words (written here, not taken from intents.yaml)."""


def said_feedback(t: Transcript) -> tuple[str, int]:
    """(accuracy as an argument value, priority) the merchant said; exactly one line says it."""
    (said,) = [m.content for m in t.messages if m.role == "merchant" and FEEDBACK_WORDS.search(m.content)]
    match = FEEDBACK_WORDS.search(said)
    assert match is not None
    return match.group(1).lower().replace(" ", "_"), int(match.group(2))


def expected_feedback(agent: DataAgent, customer_id: str, severity: str, merchant: str) -> tuple[str, int]:
    """What the merchant's persona says of an alert whose customer did (not) leave in the world's future."""
    style = Catalog.default().prompts.merchant_script.alert_feedback[get_persona(merchant).communication_style]
    left = customer_left(agent, customer_id, agent.clock)
    assert left is not None  # a generated world holds the horizon after its as_of
    spoken = "accurate" if left else style.stayed
    base = {"critical": 5, "high": 4}[severity] - {"accurate": 0, "somewhat accurate": 1, "inaccurate": 2}[spoken]
    return spoken.replace(" ", "_"), max(1, min(5, base + style.priority_shift))


def test_the_feedback_differs_with_the_truth_and_the_persona() -> None:
    """A customer who left is called accurate by every persona; one who stayed is not, each in its own way."""
    seen = {}
    for scenario, merchant in (("churn_spike", "sarah_chen"), ("steady_operations", "marcus_thompson"),
                               ("steady_operations", "sarah_chen")):  # fmt: skip
        t = run_conversation(RunConfig(scenario=scenario, merchant=merchant, workflow="alert_triage"))
        health = next(m.artifact for m in t.messages if m.role == "tool" and m.name == "get_customer_health")
        left = customer_left(cached_agent(scenario, merchant), health["customer_id"], cached_agent(scenario, merchant).clock)
        seen[(scenario, merchant)] = (left, said_feedback(t))
    assert seen[("churn_spike", "sarah_chen")] == (True, ("accurate", 5))
    assert seen[("steady_operations", "marcus_thompson")] == (False, ("inaccurate", 3))
    assert seen[("steady_operations", "sarah_chen")] == (False, ("somewhat_accurate", 4))


def test_on_a_database_the_feedback_is_the_personas_alone(tmp_path: Path) -> None:
    """A database holds no future: the merchant cannot know whether the customer left, so each persona
    says its ``unknown`` wording; CJ records exactly that."""
    from app.providers.production import ProductionDataProvider
    from app.storage.admin import init_database, store_rows, writable_connection

    agent = cached_agent("churn_spike", "sarah_chen")
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    init_database(url)
    with writable_connection(url) as conn:
        store_rows(conn, agent.world.snapshot(agent.clock), kind="import", source="test", url=url)
    script = Catalog.default().prompts.merchant_script
    for merchant in ("marcus_thompson", "sarah_chen"):
        provider = ProductionDataProvider(url, allow_writable_user=True)
        try:
            t = run_conversation(RunConfig(scenario="churn_spike", merchant=merchant, workflow="alert_triage"),
                                 provider=provider)  # fmt: skip
        finally:
            provider.close()
        unknown = script.alert_feedback[get_persona(merchant).communication_style].unknown
        accuracy, priority = said_feedback(t)
        assert accuracy == unknown.replace(" ", "_")
        (call,) = [c for m in t.messages if m.role == "cj" for c in (m.tool_calls or []) if c.name == "record_alert_feedback"]
        assert (call.args["alert_accuracy"], call.args["priority_rating"]) == (accuracy, priority)


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
    (m,) = [m for m in intents.detect("I'd say the alert was Somewhat accurate, priority 3") if m.intent.id == "alert_feedback"]
    assert m.args == {"alert_accuracy": "somewhat_accurate", "priority_rating": 3}


def test_cj_does_not_act_on_an_alert_before_a_result_names_it() -> None:
    """Taking an alert on before any alert was listed calls nothing: the alert id comes from a result."""
    t = run_conversation(RunConfig(scenario="steady_operations", merchant="marcus_thompson", workflow="alert_triage"))
    calls = [c.name for m in t.messages if m.role == "cj" for c in (m.tool_calls or [])]
    first_action = min(calls.index("acknowledge_alert"), calls.index("record_alert_feedback"))
    assert calls.index("get_health_alerts") < calls.index("get_customer_health") < first_action


@pytest.mark.parametrize("merchant", ["marcus_thompson", "sarah_chen", "zoe_martinez"])
def test_the_opening_states_the_critical_and_high_counts_under_critical_stress(merchant: str) -> None:
    """Under critical stress CJ states two facts at most; for alert_triage they are the critical and the
    high counts (the stage's point), not the total matching, which is their sum."""
    t = run_conversation(RunConfig(scenario="churn_spike", merchant=merchant, workflow="alert_triage",
                                   merchant_context={"stress_level": "critical"}))  # fmt: skip
    alerts = next(m.artifact for m in t.messages if m.role == "tool" and m.name == "get_health_alerts")
    opening = next(m.content for m in t.messages if m.role == "cj" and m.content)
    counts = [int(n) for n in re.findall(r"\b\d+\b", opening)]
    assert counts == [alerts["by_severity"]["critical"], alerts["by_severity"]["high"]], opening
