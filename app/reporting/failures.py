"""Failures grouped by reason category: which kinds of problem a batch has, and how often.

A failed evaluator result says *what* failed in its details -- a grounding claim with status
``ungrounded``, a goal ``wrong_value``, a style violation ``leak``, a workflow problem
``off_workflow`` -- so the category is read from there: every item of a list in ``details``
that carries a ``status``, ``check`` or ``kind`` label names a category ``<list>: <label>``
(statuses that mean success, such as ``grounded`` or ``answered``, are not problems); lists of
``contradictions``, ``problems``, ``missing`` or ``violations`` without labels count by their
name. A result whose details name no category falls back to its comment with numbers and quoted
values blanked (``superset: N/N calls matched``). A failed conversation is categorised by its
error type.

Example:
    >>> from app.evaluation.result import EvalResult
    >>> r = EvalResult(key="goal_coverage", score=0.5, passed=False, comment="1/2 goals answered",
    ...                details={"goals": [{"status": "answered"}, {"status": "wrong_value"}]})
    >>> reason_categories(r)
    ['goals: wrong_value']
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from app.batch.records import RunRecord
from app.evaluation.result import EvalResult

__all__ = ["FailureGroup", "reason_categories", "failure_groups", "CONVERSATION_KEY"]

CONVERSATION_KEY = "conversation"
"""The evaluator column of a failed conversation's group."""

_LABELS = ("status", "check", "kind")
_SUCCESS = frozenset({"grounded", "derived", "answered", "not_asked", "ok", "passed", "matched"})
_PROBLEM_LISTS = frozenset({"contradictions", "problems", "missing", "violations"})


@dataclass(frozen=True)
class FailureGroup:
    """Conversations failing ``evaluator`` for one reason ``category``: how many, and examples."""

    evaluator: str
    category: str
    count: int
    cases: list[str]


def _comment_shape(comment: str) -> str:
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", comment.strip())
    text = re.sub(r"\d+(?:[.,]\d+)*", "N", text)
    return text[:60].rstrip() or "(no comment)"


def reason_categories(result: EvalResult) -> list[str]:
    """The reason categories of a failed result, in first-seen order (see the module docstring)."""
    found: dict[str, None] = {}
    for name, value in result.details.items():
        if not isinstance(value, list):
            continue
        for item in value:
            if not isinstance(item, dict):
                continue
            label = next((item[f] for f in _LABELS if isinstance(item.get(f), str)), None)
            if label is not None and label not in _SUCCESS:
                found.setdefault(f"{name}: {label}", None)
            elif label is None and name in _PROBLEM_LISTS:
                found.setdefault(name, None)
    return list(found) or [_comment_shape(result.comment)]


def failure_groups(records: Sequence[RunRecord], examples: int = 3) -> list[FailureGroup]:
    """Every (evaluator, category) with its number of conversations, most frequent first."""
    cases: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in records:
        if r.status != "ok":
            error = (r.error or "no reason recorded").split(":", 1)[0].strip()
            cases[(CONVERSATION_KEY, f"{r.status}: {error}")].append(r.case.id)
            continue
        for s in r.scores:
            if not s.skipped and s.passed is False:
                for category in reason_categories(s):
                    cases[(s.key, category)].append(r.case.id)
    ranked = sorted(cases.items(), key=lambda item: (-len(item[1]), item[0]))
    return [FailureGroup(key, category, len(ids), ids[:examples]) for (key, category), ids in ranked]
