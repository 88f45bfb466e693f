"""The evaluator registry: every built-in evaluator by key, and scoring a transcript with them.

Example:
    >>> [e.key for e in default_evaluators(keys=["grounding", "style"])]
    ['grounding', 'style']
    >>> default_evaluators(keys=["nope"])
    Traceback (most recent call last):
    ...
    app.errors.UnknownNameError: unknown evaluator 'nope'; valid evaluators: consistency, goal_coverage, grounding, judge, outcome, style, tool_use, trajectory, workflow_adherence
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from app.catalog import Catalog
from app.errors import UnknownNameError
from app.evaluation.result import EvalResult, Evaluator
from app.transcript import Transcript

__all__ = ["EVALUATOR_KEYS", "DETERMINISTIC_KEYS", "evaluator_factories", "default_evaluators", "evaluate"]

EVALUATOR_KEYS: tuple[str, ...] = (
    "grounding",
    "tool_use",
    "trajectory",
    "workflow_adherence",
    "goal_coverage",
    "consistency",
    "style",
    "outcome",
    "judge",
)
"""Every built-in evaluator, in report order."""

DETERMINISTIC_KEYS: tuple[str, ...] = tuple(k for k in EVALUATOR_KEYS if k not in ("judge", "outcome"))
"""Evaluators of the conversation that need no model and judge every transcript: same transcript, same
result. ``outcome`` needs no model either, but judges what the interventions did and is skipped
unless the run measured them (``outcome_days``)."""


def _judge_factory(judge_model: Any, catalog: Catalog) -> Evaluator:
    from app.evaluation.judge import judge_evaluator

    return judge_evaluator(judge_model, catalog=catalog)


def evaluator_factories() -> dict[str, Callable[[Any, Catalog], Evaluator]]:
    """Key -> factory taking the judge model (ignored by deterministic evaluators) and the catalog."""
    from app.evaluation.adherence import workflow_adherence_evaluator
    from app.evaluation.consistency import consistency_evaluator
    from app.evaluation.goals import goal_coverage_evaluator
    from app.evaluation.grounding import grounding_evaluator
    from app.evaluation.outcome import outcome_evaluator
    from app.evaluation.style import style_evaluator
    from app.evaluation.tool_use import tool_use_evaluator
    from app.evaluation.trajectory import trajectory_evaluator

    return {
        "grounding": lambda _, catalog: grounding_evaluator(catalog=catalog),
        "tool_use": lambda _, catalog: tool_use_evaluator(catalog=catalog),
        "trajectory": lambda _, catalog: trajectory_evaluator(catalog=catalog),
        "workflow_adherence": lambda _, catalog: workflow_adherence_evaluator(catalog=catalog),
        "goal_coverage": lambda _, catalog: goal_coverage_evaluator(catalog=catalog),
        "consistency": lambda _, catalog: consistency_evaluator(catalog=catalog),
        "style": lambda _, catalog: style_evaluator(catalog=catalog),
        "outcome": lambda _, _catalog: outcome_evaluator(),
        "judge": _judge_factory,
    }


def default_evaluators(
    *, judge_model: Any = None, keys: Iterable[str] | None = None, catalog: Catalog | None = None
) -> list[Evaluator]:
    """The built-in evaluators named by ``keys`` (default: all), in the order given.

    Args:
        judge_model: chat model for the ``judge`` (from a spec such as ``openai:gpt-4o-mini`` with
            :func:`app.batch.make_judge_model`); without one the judge's results are skipped.
        keys: evaluator keys; an unknown key raises :class:`~app.errors.UnknownNameError`.
        catalog: the data folder the evaluators judge by (default: ``Catalog.default()``).
    """
    wanted = list(EVALUATOR_KEYS if keys is None else keys)
    for key in wanted:
        if key not in EVALUATOR_KEYS:
            raise UnknownNameError("evaluator", key, EVALUATOR_KEYS)
    factories = evaluator_factories()
    catalog = catalog or Catalog.default()
    return [factories[key](judge_model, catalog) for key in dict.fromkeys(wanted)]


def evaluate(
    transcript: Transcript, evaluators: Sequence[Evaluator] | None = None, *, catalog: Catalog | None = None
) -> list[EvalResult]:
    """Score ``transcript`` with ``evaluators`` (default: every built-in over ``catalog``, judge skipped).

    An evaluator that raises yields a skipped result naming the error, so a batch never stops
    on one bad transcript.
    """
    if evaluators is None:
        evaluators = default_evaluators(catalog=catalog)
    results = []
    for ev in evaluators:
        key = str(getattr(ev, "key", getattr(ev, "__name__", "evaluator")))
        try:
            results.append(ev(transcript=transcript))
        except Exception as exc:  # one broken evaluator or transcript must not end a batch
            results.append(EvalResult.skip(key, f"evaluator error: {type(exc).__name__}: {exc}"[:300]))
    return results
