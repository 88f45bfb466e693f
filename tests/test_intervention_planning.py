"""The intervention_planning workflow offline: the merchant asks what an offer would do, CJ simulates
it on the merchant's own generated world and answers with the uplift, its 95% interval, the cost and
the ROI the simulation returned, then launches it only after the merchant approves; the simulation
is kept as a simulation run, with the conversation's tokens and cost when a chat model took part."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage

from app.errors import ActionFailedError, InvalidArgumentError
from app.evaluation.registry import DETERMINISTIC_KEYS, default_evaluators
from app.experiments import simulation_run_rows
from app.formatting import money, rate_pct
from app.policies.scripted_merchant import ScriptedMerchant
from app.scenarios import get_persona, get_scenario
from app.simulation import RunConfig, run_conversation
from app.storage.ops import OpsStore
from app.tools import call_tool, tool_error_message
from app.transcript import Transcript
from app.views.simulation import SimulateArgs, scaled_offer
from app.workflows import workflows
from app.world.effects import load_intervention_effects
from tests.conftest import cached_agent
from tests.fakes import ScriptedChatModel, call
from tests.test_conversations import ungrounded

WORKFLOW = "intervention_planning"
STAGES = [s.id for s in workflows().get(WORKFLOW).conversation_flow]


def _calls(t: Transcript) -> list:
    return [c for m in t.messages if m.role == "cj" for c in (m.tool_calls or [])]


def _result(t: Transcript, tool: str) -> dict:
    return next(m.artifact["result"] for m in t.messages if m.role == "tool" and m.name == tool and m.status != "error")


def _agent(scenario: str, merchant: str, tmp_path: Path):
    agent = copy.copy(cached_agent(scenario, merchant))
    agent.ops = OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.db'}")
    return agent


@pytest.mark.parametrize(("scenario", "merchant"), [("churn_spike", "marcus_thompson"), ("steady_operations", "zoe_martinez")])
def test_cj_answers_with_the_simulations_numbers_and_launches_after_approval(scenario: str, merchant: str,
                                                                             tmp_path: Path) -> None:  # fmt: skip
    agent = _agent(scenario, merchant, tmp_path)
    t = run_conversation(RunConfig(scenario=scenario, merchant=merchant, workflow=WORKFLOW), provider=agent)

    assert t.termination_reason == "merchant_done", t.error
    assert "what if i offer 20% to at-risk customers?" in t.messages[0].content.lower()  # the workflow's opening line
    assert sorted(s["stage"] for s in t.stages_reached if s["workflow"] == WORKFLOW) == sorted(STAGES)
    assert ungrounded(t) == []
    results = {ev.key: ev(transcript=t) for ev in default_evaluators(keys=list(DETERMINISTIC_KEYS))}
    assert all(r.passed for r in results.values()), {k: r.comment for k, r in results.items() if not r.passed}

    # the merchant's words became the simulation's arguments
    names = [c.name for c in _calls(t)]
    (sim_call,) = [c for c in _calls(t) if c.name == "simulate_intervention"]
    assert sim_call.args == {"segment": "at_risk", "action": "loyalty_discount", "offer_percent": 20}
    assert names.index("simulate_intervention") < names.index("launch_simulated_intervention")

    # the answer right after the simulation states its uplift, interval, cost and ROI as returned
    r = _result(t, "simulate_intervention")
    at = next(i for i, m in enumerate(t.messages) if m.role == "tool" and m.name == "simulate_intervention")
    answer = next(m.content for m in t.messages[at:] if m.role == "cj" and m.content)
    for stated in (rate_pct(r["retention_uplift"]), rate_pct(r["retention_uplift_low"]), rate_pct(r["retention_uplift_high"]),
                   money(r["revenue_uplift"]), money(r["revenue_uplift_low"]), money(r["revenue_uplift_high"]),
                   money(r["cost_per_customer"]), money(r["total_cost"]), str(r["roi"]), str(r["roi_low"]), str(r["roi_high"])):  # fmt: skip
        assert stated in answer, (stated, answer)
    assert "95% interval" in answer and r["interval_percent"] == 95 and r["offer_percent"] == 20

    # the run is kept; the rule-based models report no usage, so tokens and cost stay null
    (row,) = simulation_run_rows(agent.ops)
    assert row.run_id == r["run_id"] and row.action == "loyalty_discount" and row.iterations == r["iterations"]
    assert row.parameters["target"] == {"segment": "at_risk", "customers": r["target_customers"], "offer_percent": 20,
                                        "source": "conversation"}  # fmt: skip
    assert (row.llm_tokens, row.llm_cost_cents) == (None, None)

    # the launch waited for the merchant's yes and is audited
    (audit,) = agent.ops.audit("launch_simulated_intervention")
    assert (audit.approval, audit.actor, audit.status) == ("approved", "cj", "succeeded")
    assert audit.arguments == {"run_id": r["run_id"]}
    launched = _result(t, "launch_simulated_intervention")
    assert launched["target_customers"] == r["target_customers"] and launched["run_id"] == r["run_id"]


def test_a_declined_launch_runs_nothing(tmp_path: Path) -> None:
    agent = _agent("churn_spike", "sarah_chen", tmp_path)
    persona = get_persona("sarah_chen")
    persona = persona.model_copy(update={"approvals": persona.approvals.model_copy(
        update={"actions": {"launch_simulated_intervention": "decline"}})})  # fmt: skip
    scenario = get_scenario("churn_spike")
    wf = workflows().get(WORKFLOW)
    merchant = ScriptedMerchant(persona=persona, scenario=scenario.model_copy(
        update={"merchant_goals": wf.merchant_goals, "opening_line": wf.opening_line}))  # fmt: skip
    t = run_conversation(RunConfig(scenario="churn_spike", merchant="sarah_chen", workflow=WORKFLOW),
                         provider=agent, merchant_model=merchant)  # fmt: skip
    assert t.termination_reason == "merchant_done", t.error
    (audit,) = agent.ops.audit("launch_simulated_intervention")
    assert (audit.approval, audit.status) == ("declined", "declined")
    assert not agent.ops.audit("launch_simulated_intervention", status="succeeded")
    assert ungrounded(t) == []


def test_the_same_seed_gives_the_same_transcript() -> None:
    cfg = RunConfig(scenario="churn_spike", merchant="marcus_thompson", workflow=WORKFLOW, seed=2)
    first, second = run_conversation(cfg), run_conversation(cfg)
    assert first.body() == second.body()
    assert any(c.name == "launch_simulated_intervention" for c in _calls(first))


def test_a_bad_call_gets_one_message_naming_every_problem() -> None:
    agent = cached_agent("churn_spike", "marcus_thompson")
    with pytest.raises(InvalidArgumentError) as err:
        call_tool(agent, "simulate_intervention", {"segment": "whales", "offer_percent": 90, "colour": "red"})
    message = tool_error_message(err.value)
    assert message.count("Error:") == 1 and "simulate_intervention" in message
    for problem in ("segment: Input should be 'at_risk'", "offer_percent: Input should be less than or equal to 50",
                    "colour: unknown argument"):  # fmt: skip
        assert problem in message, message
    with pytest.raises(InvalidArgumentError, match="offer_percent applies to a discount offer .*loyalty_discount.*pause_offer takes none"):
        call_tool(agent, "simulate_intervention", {"action": "pause_offer", "offer_percent": 20})
    with pytest.raises(InvalidArgumentError, match="unknown action 'coupon'; choose one of .*loyalty_discount"):
        call_tool(agent, "simulate_intervention", {"action": "coupon"})
    assert SimulateArgs(segment="At-Risk").segment == "at_risk"  # the merchant's wording names the same customers


def test_a_database_has_no_counterfactual_to_simulate_on(tmp_path: Path) -> None:
    from app.providers.loading import load_world
    from app.providers.production import ProductionDataProvider
    from app.storage.admin import init_database

    source = tmp_path / "shop.db"
    init_database(f"sqlite:///{source}")
    load_world(f"sqlite:///{source}", "churn_spike", "marcus_thompson", seed=0)
    provider = ProductionDataProvider(f"sqlite:///{source}", ops_url=f"sqlite:///{tmp_path / 'ops.db'}")
    with pytest.raises(ActionFailedError, match="needs a generated world: .*`cjsim simulate intervention`"):
        call_tool(provider, "simulate_intervention", {"iterations": 2})
    assert provider.ops is not None and simulation_run_rows(provider.ops) == []


def test_a_chat_model_s_tokens_and_cost_so_far_are_kept_with_the_run(tmp_path: Path) -> None:
    usage = {"input_tokens": 1000, "output_tokens": 200, "total_tokens": 1200}
    first = call("simulate_intervention", {"segment": "at_risk", "offer_percent": 20, "iterations": 3})
    first.usage_metadata = usage
    done = AIMessage(content="Simulated.", usage_metadata={"input_tokens": 3000, "output_tokens": 100, "total_tokens": 3100})
    agent = _agent("churn_spike", "marcus_thompson", tmp_path)
    cfg = RunConfig(scenario="churn_spike", merchant="marcus_thompson", workflow=WORKFLOW, max_turns=1,
                    token_prices=(2.5, 10.0))  # fmt: skip
    t = run_conversation(cfg, provider=agent, cj_model=ScriptedChatModel(replies=[first, done]))
    assert t.usage["cj"]["total_tokens"] == 4300  # the whole conversation's
    (row,) = simulation_run_rows(agent.ops)
    # what was spent before the simulation ran: the reply that called it (1000 in at $2.50/M, 200 out at $10/M)
    assert row.llm_tokens == 1200
    assert row.llm_cost_cents == round((1000 * 2.5 + 200 * 10.0) / 1e6 * 100)

    (tmp_path / "unpriced").mkdir()
    priced = _agent("churn_spike", "marcus_thompson", tmp_path / "unpriced")
    cfg.token_prices = None
    run_conversation(cfg, provider=priced, cj_model=ScriptedChatModel(replies=[first, done]))
    (row,) = simulation_run_rows(priced.ops)
    assert (row.llm_tokens, row.llm_cost_cents) == (1200, None)  # tokens known, prices not: no made-up cost


def test_an_offer_at_another_percentage_scales_its_effect_with_diminishing_returns() -> None:
    model = load_intervention_effects().get("loyalty_discount")
    assert model.offer_percent == 15
    same, more, most = scaled_offer(model, 15), scaled_offer(model, 20), scaled_offer(model, 45)
    assert same.churn_effect == model.churn_effect and same.cost == model.cost
    for seg, e in model.churn_effect.items():
        assert e < more.churn_effect[seg] < most.churn_effect[seg] < 1
        assert most.churn_effect[seg] - more.churn_effect[seg] < 5 * (more.churn_effect[seg] - e)
    assert more.cost == 16.0 and re.match(r"20% off", more.description)
