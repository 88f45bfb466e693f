"""The defect profiles that test the evaluators against data they did not produce: a few
conversations each, every one caught by the evaluator built for it (the full matrix is in
benchmarks/calibration.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from app.catalog import Catalog
from app.datafiles import data_dir
from app.errors import DataFileError
from app.evaluation.registry import default_evaluators
from app.simulation import RunConfig, run_conversation
from app.transcript import Transcript
from tests.conftest import cached_agent
from tests.test_catalog import replace_in

CASES = [("churn_spike", "sarah_chen", "daily_briefing"), ("growth_stall", "zoe_martinez", "customer_deep_dive")]
CAUGHT_BY = {
    "hallucinate_numbers": "grounding",
    "wrong_metric": "grounding",
    "stale_window": "tool_use",
    "wrong_customer": "grounding",
    "overpromise": "style",
    "ignored_tool_error": "tool_use",
}


def _run(case: tuple[str, str, str], model: str) -> Transcript:
    scenario, merchant, workflow = case
    cfg = RunConfig(scenario=scenario, merchant=merchant, workflow=workflow, cj_model=model)
    return run_conversation(cfg, provider=cached_agent(scenario, merchant))


def _results(t: Transcript) -> list[Any]:
    return [(m.name, m.args if hasattr(m, "args") else None, m.artifact) for m in t.messages if m.role == "tool"]


@pytest.mark.parametrize("defect", sorted(CAUGHT_BY))
@pytest.mark.parametrize("case", CASES, ids=lambda c: "/".join(c))
def test_each_defect_is_caught_by_its_evaluator(defect: str, case: tuple[str, str, str]) -> None:
    t = _run(case, f"rules:{defect}")
    (evaluator,) = default_evaluators(keys=[CAUGHT_BY[defect]])
    result = evaluator(transcript=t)
    assert result.passed is False, result.comment
    (clean_ev,) = default_evaluators(keys=[CAUGHT_BY[defect]])
    assert clean_ev(transcript=_run(case, "rules")).passed is True


@pytest.mark.parametrize("defect", ["hallucinate_numbers", "wrong_metric", "wrong_customer"])
def test_falsified_data_defects_keep_the_real_tool_results_in_the_transcript(defect: str) -> None:
    clean, broken = _run(CASES[0], "rules"), _run(CASES[0], f"rules:{defect}")
    assert _results(broken) == _results(clean)  # only CJ's copy was falsified
    assert [m.content for m in broken.messages if m.role == "cj"] != [m.content for m in clean.messages if m.role == "cj"]


def test_stale_window_fetches_another_window_than_asked() -> None:
    calls = [c.args.get("time_range") for c in _run(CASES[0], "rules:stale_window").tool_calls() if "time_range" in c.args]
    clean = [c.args.get("time_range") for c in _run(CASES[0], "rules").tool_calls() if "time_range" in c.args]
    assert calls and all(a != b for a, b in zip(calls, clean, strict=False))


def test_wrong_customer_names_nobody_in_the_results() -> None:
    t = _run(CASES[1], "rules:wrong_customer")
    grounding = default_evaluators(keys=["grounding"])[0](transcript=t)
    bad = [c for c in grounding.details["claims"] if c["status"] == "ungrounded"]
    assert bad and all(c["kind"] == "customer" for c in bad)


def test_defects_are_deterministic() -> None:
    for defect in CAUGHT_BY:
        assert _run(CASES[0], f"rules:{defect}").body() == _run(CASES[0], f"rules:{defect}").body()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"30d": "90d"', '"30d": "30d"', "permutation"),
        ("financial_metrics: [[mrr, revenue", "financial_metric: [[mrr, revenue", "unknown view 'financial_metric'"),
        ("factors: [1.37", "factors: [1.01", "at least 5% away from 1"),
    ],
)
def test_bad_defect_settings_name_the_fix(tmp_path: Path, old: str, new: str, message: str) -> None:
    data = tmp_path / "data"
    shutil.copytree(data_dir(), data)
    assert old in (data / "prompts/defects.yaml").read_text(encoding="utf-8")
    replace_in(data / "prompts/defects.yaml", old, new)
    with pytest.raises(DataFileError) as info:
        Catalog.load(data)
    assert message in str(info.value) and "defects.yaml" in str(info.value)
