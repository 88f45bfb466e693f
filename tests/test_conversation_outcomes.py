"""Outcomes of a conversation's interventions: measured over the generated world's next days against
the world without them, stored outside any orchestrator run, summed up in the transcript's meta,
scored by the ``outcome`` evaluator (skipped when nothing was measured) and pooled over seeds."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.batch.run import batch_manifest
from app.cli import app as cli
from app.errors import InvalidArgumentError
from app.evaluation.outcome import outcome_evaluator
from app.evaluation.registry import EVALUATOR_KEYS, default_evaluators
from app.journeys import records
from app.journeys.measure import measure
from app.reporting.outcome import outcome_interval
from app.reporting.stats import bootstrap_interval
from app.simulation import RunConfig, run_conversation
from app.storage.ops import OpsStore
from app.transcript import Transcript
from tests.conftest import cached_agent

WORKFLOW = "retention_planning"
runner = CliRunner()


def test_the_launched_intervention_is_measured_stored_and_scored(tmp_path: Path) -> None:
    agent = copy.copy(cached_agent("churn_spike", "marcus_thompson"))
    agent.ops = OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.db'}")
    t = run_conversation(RunConfig(scenario="churn_spike", merchant="marcus_thompson", workflow=WORKFLOW, outcome_days=30),
                         provider=agent)  # fmt: skip
    summary = t.meta["outcome"]
    (row,) = agent.ops.read(lambda c: records.read_interventions(c, launched_by_cj=True))
    (want,) = measure(agent.world, [row], 30)  # the same measurement, made directly
    (got,) = summary["interventions"]
    assert (got["intervention_id"], got["outcome"], got["kept"], got["revenue_saved_cents"], got["cost_cents"]) == (
        want.intervention_id, want.outcome, want.kept, want.revenue_saved_cents, want.cost_cents)
    assert (summary["measured"], summary["customers_kept"], summary["horizon_days"]) == (1, int(want.kept), 30)
    assert agent.ops.read(lambda c: records.read_outcomes(c, None)) == [want]  # stored outside any run
    assert agent.get_view("playbook_performance").measured_runs == 1  # and the performance view reads it
    result = outcome_evaluator()(transcript=t)
    assert not result.skipped and result.score == float(want.kept) and result.details["cost_cents"] == want.cost_cents
    assert result.passed is (want.kept or want.revenue_saved_cents > want.cost_cents)
    assert "outcome" not in t.body()  # the summary is metadata: the conversation itself is unchanged
    plain = run_conversation(RunConfig(scenario="churn_spike", merchant="marcus_thompson", workflow=WORKFLOW))
    assert plain.body() == t.body()


def test_no_measured_outcome_is_skipped_not_scored() -> None:
    (ev,) = default_evaluators(keys=["outcome"])
    plain = run_conversation(RunConfig(scenario="steady_operations", merchant="sarah_chen", workflow="daily_briefing"))
    result = ev(transcript=plain)
    assert result.skipped and result.score is None and result.passed is None and "--outcome-days" in result.comment
    nothing = run_conversation(RunConfig(scenario="steady_operations", merchant="sarah_chen", workflow="daily_briefing",
                                         outcome_days=7))  # fmt: skip
    assert nothing.meta["outcome"]["measured"] == 0
    assert ev(transcript=nothing).skipped and "no intervention ran" in ev(transcript=nothing).comment
    assert "outcome" in EVALUATOR_KEYS


def test_outcome_days_are_refused_where_they_cannot_be_measured(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="outcome days must be between 1 and 365, got 0"):
        run_conversation(RunConfig(workflow=WORKFLOW, outcome_days=0))
    with pytest.raises(InvalidArgumentError, match=r"outcome days must be between 1 and 30 \(the world is simulated up to"):
        run_conversation(RunConfig(workflow=WORKFLOW, outcome_days=31))
    result = runner.invoke(cli, ["run", "-w", WORKFLOW, "--outcome-days", "400"])
    assert result.exit_code == 2 and "outcome days must be between 1 and 365, got 400" in result.output
    with pytest.raises(InvalidArgumentError, match="outcome days need generated worlds"):
        batch_manifest("b", provider="production", db_url="sqlite:///x.db", outcome_days=5)
    assert batch_manifest("b", outcome_days=5).outcome_days == 5
    assert "outcome_days" not in batch_manifest("b").model_dump()  # batches without it keep their manifest


def test_on_a_database_outcome_days_are_refused_before_the_conversation(tmp_path: Path) -> None:
    from app.providers.production import ProductionDataProvider
    from app.storage.admin import init_database, store_rows, writable_connection

    agent = cached_agent("churn_spike", "sarah_chen")
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    init_database(url)
    with writable_connection(url) as conn:
        store_rows(conn, agent.world.snapshot(agent.clock), kind="import", source="test", url=url)
    provider = ProductionDataProvider(url, allow_writable_user=True)
    try:
        with pytest.raises(InvalidArgumentError, match="outcome days need a generated world"):
            run_conversation(RunConfig(scenario="churn_spike", merchant="sarah_chen", workflow=WORKFLOW, outcome_days=5),
                             provider=provider)  # fmt: skip
    finally:
        provider.close()


def _transcript(seed: int, measured: int, kept: int, saved: int, cost: int) -> Transcript:
    summary = {"horizon_days": 30, "interventions": [], "measured": measured, "customers_kept": kept,
               "revenue_saved_cents": saved, "cost_cents": cost}  # fmt: skip
    return Transcript(meta={"outcome": summary}, scenario="churn_spike", merchant="sarah_chen", workflow=WORKFLOW,
                      seed=seed, merchant_context={}, messages=[], workflow_path=[], stages_reached=[],
                      termination_reason="merchant_done", usage={})  # fmt: skip


def test_the_interval_is_taken_over_seeds() -> None:
    ts = [_transcript(0, 1, 1, 1000, 300), _transcript(0, 1, 0, 0, 300),  # seed 0: 1 of 2 kept, 1000 / 600
          _transcript(1, 1, 1, 3000, 1200), _transcript(2, 2, 0, 0, 400)]
    ts.append(Transcript(**{**ts[0].model_dump(), "meta": {}}))  # not measured: left out
    o = outcome_interval(ts)
    assert (o.seeds, o.skipped, o.measured, o.customers_kept, o.revenue_saved_cents, o.cost_cents) == (3, 1, 5, 2, 4000, 2200)
    assert o.kept_share.values == (0.5, 1.0, 0.0)
    assert o.revenue_per_cost.values == (1000 / 600, 3000 / 1200, 0.0)
    low, high = bootstrap_interval([1000 / 600, 3000 / 1200, 0.0])
    assert (o.revenue_per_cost.low, o.revenue_per_cost.high) == (round(low, 4), round(high, 4))
    assert o.kept_share.mean == 0.5 and o.kept_share.low is not None and o.kept_share.low <= 0.5 <= o.kept_share.high
    assert outcome_interval([]).seeds == 0 and outcome_interval([]).kept_share.mean is None
