"""Health signatures of the scenarios: the oracle (tests/oracle_health.py, written from docs/health.md
without app.health) against the health model on a few worlds, and the ``per`` share of ``expected``.

The full matrix of scenarios x personas x seeds 0-9 is checked through the oracle in
tests/test_world_generator.py (test_scenario_signature); here a few worlds keep the suite fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.health.frame import rows_from
from app.health.score import score_all
from app.health.settings import load_health_settings
from app.models import Expectation
from app.scenarios import get_scenario
from app.signatures import STEADY_SCENARIO, check_expectations, expectation_value
from tests import oracle, oracle_health
from tests.conftest import cached_agent
from tests.test_catalog import data_copy, load_error, replace_in  # noqa: F401  (data_copy is a fixture)
from tests.test_cli_data import invoke

WORLDS = [("churn_spike", "sarah_chen", 0), ("steady_operations", "marcus_thompson", 1), ("shipping_crisis", "zoe_martinez", 2)]


@pytest.mark.parametrize(("scenario", "merchant", "seed"), WORLDS)
def test_the_oracle_scores_every_customer_as_the_model_does(scenario: str, merchant: str, seed: int) -> None:
    agent = cached_agent(scenario, merchant, seed)
    s = load_health_settings()
    with agent.engine.connect() as conn:
        app_rows = {r.customer_id: r for r in rows_from(score_all(conn, agent.clock, s), s)}
    mine = oracle_health.health(agent.world.snapshot(agent.clock), agent.clock)
    assert set(mine) == set(app_rows)
    for cid, row in app_rows.items():
        severity = row.alert.severity if row.alert else None
        got = (mine[cid]["components"], mine[cid]["risk"], mine[cid]["severity"])
        assert got == (row.components, row.risk, severity), cid
    assert sum(h["severity"] == "critical" for h in mine.values()) > 0  # the comparison covers alerts


@pytest.mark.parametrize(("scenario", "merchant", "seed"), WORLDS[:2])
def test_oracle_and_app_give_the_same_health_signature_values(scenario: str, merchant: str, seed: int) -> None:
    agent = cached_agent(scenario, merchant, seed)
    result = oracle_health.health_overview(agent.world.snapshot(agent.clock), agent.clock)
    for severity in ("critical", "high"):
        exp = Expectation(metric=f"health_overview.movement.alerts_now.{severity}", per="scored", min=0)
        assert oracle.bounded_value(result, exp) == expectation_value(agent, exp) > 0


def test_churn_spike_has_clearly_more_critical_alerts_per_scored_customer_than_steady() -> None:
    catalog_scenario = cached_agent("churn_spike", "marcus_thompson").scenario
    spike, steady = cached_agent("churn_spike", "marcus_thompson"), cached_agent(STEADY_SCENARIO, "marcus_thompson")
    results = [r for r in check_expectations(catalog_scenario, spike, steady) if r.expectation.per]
    assert len(results) == 2 and all(r.passed for r in results), [r.message for r in results]
    assert results[0].message.startswith("health_overview.movement.alerts_now.critical per scored = 0.0")
    assert results[0].value / results[0].steady_value >= 1.3


def test_a_share_below_its_bound_fails_with_the_share_named() -> None:
    steady = cached_agent(STEADY_SCENARIO, "sarah_chen")
    exp = Expectation(metric="health_overview.movement.alerts_now.critical", per="scored", max=0.001)
    (result,) = check_expectations(steady.scenario.model_copy(update={"expected": [exp]}), steady)
    assert not result.passed and "per scored" in result.message and "> max 0.001" in result.message


def test_per_must_name_a_value_of_the_same_view(data_copy: Path) -> None:  # noqa: F811
    replace_in(data_copy / "scenarios/churn_spike.yaml", "per: scored", "per: scrored")
    error = load_error(data_copy)
    assert "churn_spike.yaml: field 'expected." in error and ".per'" in error and "'scrored'" in error


def test_per_cannot_go_with_one_of() -> None:
    with pytest.raises(ValueError, match="'per' makes a share of a number"):
        Expectation(metric="ticket_metrics.by_category.0.category", per="created.current", one_of=["billing"])


def test_world_check_counts_the_health_signatures() -> None:
    n = len(get_scenario("churn_spike").expected)
    result = invoke("world", "check", "--scenario", "churn_spike", "--merchant", "sarah_chen", "--seeds", "0")
    assert result.exit_code == 0, result.output
    assert f"{n}/{n} expectations hold" in result.output
