"""Calibration of the deterministic evaluators on a slice of the scenario x merchant x workflow matrix.

Each defective variant of the rule-based CJ (``rules:<defect>``) must be caught by the evaluator
built to catch it in at least 97% of the conversations, and the clean ``rules`` CJ must pass
every deterministic evaluator in at least 95% of them. The slice is every merchant and workflow
in four scenarios of different kinds (a crisis, a stall, a steady shop, an operations outage):
``benchmarks/calibration.py`` measures every profile over the whole matrix, and
``tests/test_conversations.py`` runs the clean CJ over all of it. One test per profile, so
pytest-xdist spreads the conversations over the workers.
"""

from __future__ import annotations

from functools import cache

import pytest

from app.catalog import Catalog
from app.evaluation.registry import DETERMINISTIC_KEYS, default_evaluators
from app.evaluation.result import EvalResult
from app.evaluation.tool_use import trace
from app.scenarios import personas, scenarios
from app.simulation import RunConfig, run_conversation
from app.transcript import Transcript
from app.workflows import workflows
from tests.conftest import cached_agent

SCENARIOS = ("churn_spike", "growth_stall", "shipping_crisis", "steady_operations")
RATE = 0.97
CLEAN_RATE = 0.95
CATCHERS = {
    "hallucinate_numbers": "grounding",
    "skip_tools": "tool_use",
    "off_workflow": "workflow_adherence",
    "leak_reasoning": "style",
    "ignore_question": "style",
}


@cache
def matrix(cj_model: str) -> tuple[Transcript, ...]:
    """Every merchant x workflow conversation of the slice's scenarios (seed 0) with ``cj_model``."""
    runs = []
    for scenario in SCENARIOS:
        for merchant in personas().names():
            for workflow in workflows().names():
                cfg = RunConfig(scenario=scenario, merchant=merchant, workflow=workflow, seed=0, cj_model=cj_model)
                runs.append(run_conversation(cfg, provider=cached_agent(scenario, merchant, 0)))
    return tuple(runs)


def _case(t: Transcript, r: EvalResult) -> str:
    return f"{t.scenario}/{t.merchant}/{t.workflow}: {r.key} {r.score} {r.comment}"


def test_the_matrix_is_the_full_330() -> None:
    assert len(scenarios().names()) * len(personas().names()) * len(workflows().names()) == 330


@pytest.mark.parametrize("defect", sorted(CATCHERS))
def test_each_defect_is_caught_by_its_evaluator(defect: str) -> None:
    key = CATCHERS[defect]
    (evaluator,) = default_evaluators(keys=[key])
    runs = matrix(f"rules:{defect}")
    results = [(t, evaluator(transcript=t)) for t in runs]
    missed = [_case(t, r) for t, r in results if r.passed is not False]
    rate = 1 - len(missed) / len(runs)
    print(f"{defect}: caught by {key} in {rate:.1%} of {len(runs)}")
    assert rate >= RATE, f"{defect} caught by {key} in only {rate:.1%}; missed:\n" + "\n".join(missed)


def test_the_clean_rule_cj_passes_every_deterministic_evaluator() -> None:
    evaluators = default_evaluators(keys=DETERMINISTIC_KEYS)
    runs = matrix("rules")
    failures: dict[str, list[str]] = {ev.key: [] for ev in evaluators}
    clean = 0
    for t in runs:
        ok = True
        for ev in evaluators:
            r = ev(transcript=t)
            if r.passed is not True:
                failures[ev.key].append(_case(t, r))
                ok = False
        clean += ok
    rates = {key: 1 - len(f) / len(runs) for key, f in failures.items()}
    print("clean pass rates:", {k: f"{v:.1%}" for k, v in rates.items()}, f"all: {clean / len(runs):.1%}")
    listing = "\n".join(line for lines in failures.values() for line in lines)
    assert clean / len(runs) >= CLEAN_RATE, f"clean CJ passes every evaluator in only {clean / len(runs):.1%}:\n{listing}"
    assert min(rates.values()) >= CLEAN_RATE, f"pass rates {rates}:\n{listing}"
    assert not failures["grounding"], "clean CJ flagged by grounding:\n" + "\n".join(failures["grounding"])


def test_skipping_tools_fails_trajectory_where_a_data_question_was_asked() -> None:
    (evaluator,) = default_evaluators(keys=["trajectory"])
    catalog = Catalog.default()
    asked = [t for t in matrix("rules:skip_tools") if any(turn.requested for turn in trace(t, catalog).turns)]
    missed = [_case(t, r) for t in asked if (r := evaluator(transcript=t)).passed is not False]
    assert asked and len(missed) <= 0.05 * len(asked), "\n".join(missed)
