"""Evaluators: each judges one finished transcript, whatever model or data produced it.

Every evaluator is a keyword-only callable made by a factory, ``evaluator(transcript=t)``,
returning an :class:`EvalResult`; :func:`default_evaluators` builds the built-ins by key and
:func:`evaluate` scores one transcript with them. Evaluators read transcripts and the data
files that say what is correct (workflows, intents, scenarios, ``data/evaluation.yaml``); they
never open a data provider, build a chat model or run a conversation. Running conversations by
the hundred is :mod:`app.batch`; statistics and reports are :mod:`app.reporting`.

Example:
    >>> from app.evaluation import default_evaluators, evaluate, DETERMINISTIC_KEYS
    >>> evaluators = default_evaluators(keys=DETERMINISTIC_KEYS)
"""

from app.evaluation.adherence import workflow_adherence_evaluator
from app.evaluation.consistency import consistency_evaluator
from app.evaluation.goals import goal_coverage_evaluator
from app.evaluation.grounding import grounding_evaluator
from app.evaluation.judge import JudgeVerdict, judge_evaluator
from app.evaluation.registry import DETERMINISTIC_KEYS, EVALUATOR_KEYS, default_evaluators, evaluate
from app.evaluation.result import EvalResult, Evaluator
from app.evaluation.style import style_evaluator
from app.evaluation.tool_use import tool_use_evaluator
from app.evaluation.trajectory import trajectory_evaluator

__all__ = [
    "EvalResult",
    "Evaluator",
    "EVALUATOR_KEYS",
    "DETERMINISTIC_KEYS",
    "default_evaluators",
    "evaluate",
    "grounding_evaluator",
    "tool_use_evaluator",
    "trajectory_evaluator",
    "workflow_adherence_evaluator",
    "goal_coverage_evaluator",
    "consistency_evaluator",
    "style_evaluator",
    "judge_evaluator",
    "JudgeVerdict",
]
