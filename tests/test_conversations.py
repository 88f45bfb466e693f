"""Offline conversations with the built-in models across the whole scenario x merchant x workflow matrix."""

from __future__ import annotations

from collections import Counter
from functools import cache

import pytest

from app.analysis.claims import extract_claims, find_source, source_values
from app.scenarios import personas, scenarios
from app.simulation import RunConfig, run_conversation
from app.transcript import Transcript
from app.workflows import workflows
from tests.conftest import cached_agent

SCENARIOS = scenarios().names()
MERCHANTS = personas().names()
WORKFLOWS = workflows().names()


@cache
def conversation(scenario: str, merchant: str, workflow: str, seed: int = 0) -> Transcript:
    cfg = RunConfig(scenario=scenario, merchant=merchant, workflow=workflow, seed=seed)
    return run_conversation(cfg, provider=cached_agent(scenario, merchant, seed))


def ungrounded(t: Transcript) -> list[str]:
    """Numbers CJ stated that no earlier tool result of the conversation supports."""
    texts: list[str] = []
    artifacts: list = []
    missing = []
    for m in t.messages:
        if m.role == "tool" and m.status != "error":
            texts.append(m.content)
            artifacts.append(m.artifact)
        elif m.role == "cj" and m.content:
            values = source_values(texts, artifacts)
            missing += [c.text for c in extract_claims(m.content) if find_source(c, values) is None]
    return missing


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_merchant_and_workflow_runs_offline(scenario: str) -> None:
    reasons = Counter()
    for merchant in MERCHANTS:
        for workflow in WORKFLOWS:
            t = conversation(scenario, merchant, workflow)
            assert t.termination_reason != "agent_error", (merchant, workflow, t.error)
            assert any(m.role == "tool" for m in t.messages), (merchant, workflow)
            reasons[t.termination_reason] += 1
    assert reasons["merchant_done"] >= 0.8 * sum(reasons.values()), reasons


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_number_the_rule_cj_states_comes_from_a_tool_result(scenario: str) -> None:
    for merchant in MERCHANTS:
        for workflow in WORKFLOWS:
            t = conversation(scenario, merchant, workflow)
            assert ungrounded(t) == [], (merchant, workflow)


def test_same_inputs_give_byte_identical_transcripts() -> None:
    cfg = RunConfig(scenario="churn_spike", merchant="zoe_martinez", workflow="crisis_response", seed=3)
    a, b = run_conversation(cfg), run_conversation(cfg)
    assert a.body() == b.body()
    other = run_conversation(RunConfig(scenario="churn_spike", merchant="zoe_martinez", workflow="crisis_response", seed=4))
    assert other.body() != a.body()


def test_a_crisis_report_during_a_briefing_switches_workflow() -> None:
    t = conversation("shipping_crisis", "marcus_thompson", "daily_briefing")
    path = [p["workflow"] for p in t.workflow_path]
    assert path[0] == "daily_briefing"
    assert "crisis_response" in path, path


def test_the_rule_cj_follows_the_workflow_stages() -> None:
    t = conversation("growth_stall", "marcus_thompson", "daily_briefing")
    reached = [s["stage"] for s in t.stages_reached if s["workflow"] == "daily_briefing"]
    assert reached == ["deliver_briefing", "highlight_risks", "recommend_actions"]
