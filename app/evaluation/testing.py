"""Scenario conversations as ordinary pytest tests.

A test runs one conversation and asserts evaluator verdicts; a failing assertion names each
failing evaluator with its comment and, for grounding, the ungrounded claims::

    from app.evaluation.testing import check_conversation, scenario_cases

    @pytest.mark.parametrize("case", scenario_cases(scenarios=["churn_spike"], workflows=["crisis_response"]))
    def test_crisis(case):
        check_conversation(**case).assert_passed()

The ``cjsim`` pytest fixture (:mod:`app.evaluation.pytest_plugin`) does the same with worlds
shared across a session and the CJ model chosen on the command line (``--cjsim-cj-model``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel

from app.catalog import Catalog
from app.data_views import DataProvider
from app.evaluation.registry import DETERMINISTIC_KEYS, default_evaluators, evaluate
from app.evaluation.result import EvalResult, Evaluator
from app.transcript import Transcript

__all__ = ["ConversationCheck", "check_conversation", "scenario_cases"]


@dataclass
class ConversationCheck:
    """A finished conversation with its evaluator results, ready to assert on."""

    transcript: Transcript
    results: dict[str, EvalResult] = field(default_factory=dict)

    def __getitem__(self, key: str) -> EvalResult:
        return self.results[key]

    def failures(self, keys: Iterable[str] | None = None) -> list[EvalResult]:
        """Results among ``keys`` (default: every result) that ran and did not pass."""
        wanted = set(self.results) if keys is None else set(keys)
        return [r for k, r in self.results.items() if k in wanted and not r.skipped and r.passed is False]

    def assert_passed(self, *keys: str, min_score: float | None = None) -> None:
        """Fail the test unless every named evaluator (default: all that ran) passed.

        Args:
            keys: evaluator keys to check; a key that was not scored is an error, not a pass.
            min_score: also require at least this score from each checked evaluator.
        """
        missing = [k for k in keys if k not in self.results]
        if missing:
            raise AssertionError(f"evaluators not run: {', '.join(missing)}; scored: {', '.join(self.results)}")
        checked = keys or tuple(self.results)
        problems = [self._describe(r) for r in self.failures(checked)]
        if min_score is not None:
            problems += [
                f"{k}: score {self.results[k].score:.2f} < {min_score:.2f}"
                for k in checked
                if not self.results[k].skipped and (self.results[k].score or 0.0) < min_score
            ]
        if problems:
            t = self.transcript
            head = f"{t.scenario}/{t.merchant}/{t.workflow} seed {t.seed} ({t.termination_reason})"
            raise AssertionError(head + "\n" + "\n".join(f"  - {p}" for p in problems))

    def _describe(self, result: EvalResult) -> str:
        text = f"{result.key}: {result.comment or 'failed'}"
        claims = [c for c in result.details.get("claims", []) if c.get("status") == "ungrounded"]
        if claims:
            text += "; ungrounded: " + ", ".join(repr(c["text"]) for c in claims[:10])
        return text


def check_conversation(
    scenario: str,
    merchant: str,
    workflow: str,
    *,
    seed: int = 0,
    cj_model: str = "rules",
    merchant_model: str = "script",
    max_turns: int = 8,
    cj: BaseChatModel | None = None,
    provider: DataProvider | None = None,
    evaluators: Sequence[Evaluator] | None = None,
    keys: Sequence[str] | None = None,
    catalog: Catalog | None = None,
) -> ConversationCheck:
    """Run one conversation and score it.

    Args:
        scenario / merchant / workflow / seed: the case (names as in ``cjsim list``).
        cj_model / merchant_model: model specs; ``cj`` overrides CJ's with a chat model object.
        provider: the data (default: a DataAgent for the case's world).
        evaluators: evaluators to run; default the deterministic ones (or ``keys`` of them).
        catalog: the data folder of the run and the evaluators (default: ``Catalog.default()``).
    """
    from app.simulation import RunConfig, run_conversation

    cfg = RunConfig(
        scenario=scenario,
        merchant=merchant,
        workflow=workflow,
        seed=seed,
        max_turns=max_turns,
        cj_model=cj_model,
        merchant_model=merchant_model,
        catalog=catalog,
    )
    transcript = run_conversation(cfg, provider=provider, cj_model=cj)
    if evaluators is None:
        evaluators = default_evaluators(keys=keys or DETERMINISTIC_KEYS, catalog=catalog)
    return ConversationCheck(transcript, {r.key: r for r in evaluate(transcript, evaluators)})


def scenario_cases(
    scenarios: Sequence[str] | str = "all",
    merchants: Sequence[str] | str = "all",
    workflows: Sequence[str] | str = "all",
    seeds: Sequence[int] = (0,),
    catalog: Catalog | None = None,
) -> list[Any]:
    """``pytest.param`` objects (with readable ids) for every combination, for ``parametrize``.

    Each param is a dict of ``check_conversation`` keyword arguments; unknown names (in
    ``catalog``, default: ``Catalog.default()``) raise :class:`~app.errors.UnknownNameError` at
    collection time.
    """
    import pytest

    c = catalog or Catalog.default()
    names = {
        "scenarios": _names(scenarios, c.scenarios.names(), lambda n: c.scenarios.get(n).id),
        "merchants": _names(merchants, c.personas.names(), lambda n: c.personas.get(n).id),
        "workflows": _names(workflows, c.workflows.names(), lambda n: c.workflows.get(n).name),
    }
    return [
        pytest.param(
            {"scenario": s, "merchant": m, "workflow": w, "seed": seed}, id=f"{s}-{m}-{w}-{seed}"
        )
        for s in names["scenarios"]
        for m in names["merchants"]
        for w in names["workflows"]
        for seed in seeds
    ]


def _names(given: Sequence[str] | str, every: list[str], resolve: Any) -> list[str]:
    if given == "all":
        return list(every)
    return [resolve(n) for n in ([given] if isinstance(given, str) else given)]
