"""Goal coverage of conversations about a database's own merchant: scored against the questions
that merchant asked (recorded in the transcript), never against the base scenario's goals; and a
production batch scored end to end by ``cjsim batch`` and re-scored by ``cjsim eval``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.agents.database_merchant import data_scenario, database_persona
from app.analysis.claims import extract_claims
from app.batch import RunDir
from app.catalog import Catalog
from app.cli import app
from app.evaluation import goal_coverage_evaluator
from app.providers.production import ProductionDataProvider
from app.simulation import RunConfig, run_conversation
from app.transcript import Transcript
from tests.test_orders_only import ROWS, _fill

runner = CliRunner()


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> str:
    return _fill(f"sqlite:///{tmp_path_factory.mktemp('goals') / 'retail.db'}")


def _run(url: str, out: Path, workflow: str = "weekly_review") -> Transcript:
    result = runner.invoke(
        app, ["run", "--provider", "production", "--db-url", url, "--allow-writable-user", "--workflow", workflow,
              "--format", "json", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return Transcript.from_json(out.read_text(encoding="utf-8"))


def test_a_production_run_is_scored_against_its_own_questions(shop: str, tmp_path: Path) -> None:
    t = _run(shop, tmp_path / "t.json")
    catalog = Catalog.default()
    p = ProductionDataProvider(shop, allow_writable_user=True)
    persona = database_persona(p.merchant_identity(), catalog.personas.get("marcus_thompson"))
    asked = data_scenario(p, catalog.scenarios.get("growth_stall"), persona).merchant_goals
    p.close()
    assert t.scenario == "growth_stall" and t.goals is not None and t.goals.source == "database"
    assert t.goals.as_of == max(o["ordered_on"] for o in ROWS["orders"]).isoformat()
    assert t.goals.goals == asked  # the questions derived from the data, recorded as the merchant asked them
    merchant_text = " ".join(m.content for m in t.messages if m.role == "merchant")
    assert all(g.ask in merchant_text for g in asked)
    result = goal_coverage_evaluator()(transcript=t)
    assert [row["goal"] for row in result.details["goals"]] == [g.id for g in asked]
    assert {"subscription_data", "support_data"} <= {g.id for g in asked}  # an orders-only shop's gaps
    scenario_goals = {g.id for g in catalog.scenarios.get("growth_stall").merchant_goals}
    assert not scenario_goals & {row["goal"] for row in result.details["goals"]}
    assert result.passed, result.comment
    gaps = {r["goal"]: r for r in result.details["goals"]}
    assert gaps["support_data"]["expected"] == "no support ticket data"
    assert gaps["subscription_data"]["expected"] == "no subscription data"


def test_a_database_merchant_without_recorded_goals_is_skipped(shop: str, tmp_path: Path) -> None:
    t = _run(shop, tmp_path / "t.json")
    older = t.model_copy(update={"goals": None})  # as written before goals were recorded
    result = goal_coverage_evaluator()(transcript=older)
    assert result.skipped and result.score is None and result.passed is None
    assert "'uk_gifts' is a database's own and its goals were not recorded" in result.comment
    assert "run the conversation again" in result.comment


def test_an_unknown_scenario_is_skipped_with_its_name() -> None:
    t = run_conversation(RunConfig(scenario="churn_spike", merchant="sarah_chen", workflow="daily_briefing"))
    result = goal_coverage_evaluator()(transcript=t.model_copy(update={"scenario": "no_such_scenario"}))
    assert result.skipped and result.comment == "scenario 'no_such_scenario' is not in the catalog, so its goals are unknown"


def test_a_generated_world_run_keeps_the_scenario_goals_and_its_form() -> None:
    t = run_conversation(RunConfig(scenario="growth_stall", merchant="marcus_thompson", workflow="weekly_review"))
    assert t.goals is None and "goals" not in json.loads(t.to_json())
    result = goal_coverage_evaluator()(transcript=t)
    assert [r["goal"] for r in result.details["goals"]] == ["mrr_trend", "cac", "churn_rate", "next_steps"]


def test_batch_and_eval_score_a_production_run_end_to_end(shop: str, tmp_path: Path) -> None:
    out = tmp_path / "prod"
    result = runner.invoke(
        app, ["batch", "--out", str(out), "--provider", "production", "--db-url", shop, "--allow-writable-user",
              "--scenarios", "growth_stall", "--merchants", "marcus_thompson", "--workflows", "weekly_review",
              "--seeds", "0", "--jobs", "1", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (record,) = RunDir(out).records()
    assert record.status == "ok" and record.transcript is not None and record.transcript.goals is not None
    goals = next(s for s in record.scores if s.key == "goal_coverage")
    assert goals.passed and [r["goal"] for r in goals.details["goals"]] == [g.id for g in record.transcript.goals.goals]
    grounding = next(s for s in record.scores if s.key == "grounding")
    pounds = [c for c in grounding.details["claims"] if c["text"].startswith("£")]
    assert pounds and all(c["kind"] == "money" for c in pounds)  # amounts in pounds are money, not counts
    assert any(c["status"] == "grounded" for c in pounds)
    rescored = runner.invoke(app, ["eval", str(out), "--evaluators", "goal_coverage,grounding", "--quiet"])
    assert rescored.exit_code == 0, rescored.output
    assert "re-scored 1 conversations (goal_coverage, grounding)" in rescored.output
    (again,) = RunDir(out).records()
    assert next(s for s in again.scores if s.key == "goal_coverage") == goals
    assert again.transcript == record.transcript


def test_eval_of_a_transcript_file_names_the_fix(shop: str, tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    _run(shop, path)
    result = runner.invoke(app, ["eval", str(path)])
    assert result.exit_code == 2 and "is not a folder; pass a batch folder written by cjsim batch --out" in result.output
    assert "Traceback" not in result.output


def test_money_in_the_merchants_currency_is_a_money_claim() -> None:
    found = [(c.text, c.kind, c.value) for c in extract_claims("£6,090 (was £3,678), -€12.50, CHF 40.00, CA$1,234, ABC$5")]
    assert found == [("£6,090", "money", 6090.0), ("£3,678", "money", 3678.0), ("-€12.50", "money", -12.5),
                     ("CHF 40.00", "money", 40.0), ("CA$1,234", "money", 1234.0), ("5", "count", 5.0)]  # fmt: skip
