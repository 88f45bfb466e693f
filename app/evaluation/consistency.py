"""Consistency: CJ never states the same metric with two different values in one conversation.

Definition. In every CJ text message, a number is attributed to a metric when one of the
metric's labels (``data/evaluation.yaml`` ``consistency.labels``: "MRR", "churn rate", "CAC",
"active subscribers", ...) precedes it in the same sentence, at most ``max_gap`` characters
before it, with no other number in between, and the number has a kind the label allows (MRR is
money, churn a percentage). Labels do not overlap: the one starting first takes its whole
phrase ("net growth after cancellations" is net growth, not cancellations). The time window
stated in the rest of the sentence ("over the last 7 days", "(30d)", "previously") qualifies
the statement.

Two statements of one metric contradict when their windows are the same (both unstated, or
the same stated window) and their rounding intervals do not overlap: ``$45.2K`` and
``$45,210`` agree, ``5.2%`` and ``5.9%`` do not. Statements whose windows differ are never
compared, nor are two values that both come from tool results but never from the same call
(another window or category, e.g. shipping tickets vs all tickets) -- the heuristic prefers
missing a contradiction to a false alarm.

Score = 1 - contradicting metrics / metrics stated (1.0 when none); passed when there is no
contradiction.

Example: "MRR is $45.2K." ... "MRR: $45,210" is consistent; "Churn is 5.2%." ... "Churn is
6.1%." is a contradiction; "Churn is 5.2% over the last 30 days" ... "churn is 1.3% over the
last 7 days" is not.

    >>> consistency_evaluator().key
    'consistency'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from app.analysis.claims import Claim
from app.catalog import Catalog
from app.evaluation.grounding import analyze
from app.evaluation.grounding.kinds import SENTENCE_END, Labels, compile_labels, label_spans
from app.evaluation.result import EvalResult
from app.formats.evaluation import ConsistencySettings
from app.transcript import Transcript

__all__ = ["Statement", "metric_statements", "consistency_evaluator"]




@dataclass(frozen=True)
class Statement:
    """A value CJ gave a metric: where, as written, and the window stated with it."""

    metric: str
    message: int
    text: str
    value: float
    tolerance: float
    window: str | None
    start: int = 0
    scopes: frozenset[str] = frozenset()
    """Tool calls (tool and arguments) whose results hold this value; empty when none does."""


@dataclass(frozen=True)
class _Compiled:
    labels: Labels
    windows: tuple[tuple[str, re.Pattern[str]], ...]


_COMPILED: dict[int, tuple[ConsistencySettings, _Compiled]] = {}


def _compile(settings: ConsistencySettings) -> _Compiled:
    hit = _COMPILED.get(id(settings))
    if hit is not None and hit[0] is settings:
        return hit[1]
    windows = tuple(
        (name, re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)) for name, pats in settings.windows.items()
    )
    compiled = _Compiled(compile_labels(settings), windows)
    _COMPILED[id(settings)] = (settings, compiled)
    return compiled


def _window(text: str, compiled: _Compiled) -> str | None:
    for name, rx in compiled.windows:
        if rx.search(text):
            return name
    return None


def metric_statements(message: int, text: str, claims: list[Claim], settings: ConsistencySettings) -> list[Statement]:
    """The metric values stated in one message (see the module docstring for the rule)."""
    compiled = _compile(settings)
    if not claims:
        return []
    labels = label_spans(text, compiled.labels)
    out: list[Statement] = []
    for start, end, metric, kinds in labels:
        nxt = next((c for c in claims if c.start >= end), None)
        if nxt is None or nxt.kind not in kinds or nxt.unit is not None or nxt.start - end > compiled.labels.max_gap:
            continue
        between = text[end : nxt.start]
        if SENTENCE_END.search(between) or any(s[0] >= end and s[0] < nxt.start for s in labels):
            continue
        stop = SENTENCE_END.search(text, nxt.end)
        clause = text[start : stop.start() if stop else len(text)]
        out.append(
            Statement(metric, message, nxt.text, nxt.value, nxt.tolerance, _window(clause, compiled), nxt.start)
        )
    return out


def _agree(a: Statement, b: Statement) -> bool:
    if abs(a.value - b.value) <= a.tolerance + b.tolerance + 1e-9:
        return True
    # Both values come from tool calls, never the same one: different scopes (window, category), not a contradiction.
    return bool(a.scopes and b.scopes and not (a.scopes & b.scopes))


class _ConsistencyEvaluator:
    key = "consistency"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def __call__(self, *, transcript: Transcript) -> EvalResult:
        settings = self.catalog.evaluation.consistency
        analysis = analyze(transcript, self.catalog)
        scope_of = {r.message: f"{r.tool}{sorted(r.args.items())}" for r in analysis.results}
        by_metric: dict[tuple[str, str | None], list[Statement]] = {}
        for i in analysis.replies:
            checks = {c.start: c for c in analysis.checks[i] if c.claim is not None}
            claims = [c.claim for c in checks.values() if c.claim is not None]
            for s in metric_statements(i, transcript.messages[i].content, claims, settings):
                scopes = frozenset(scope_of.get(src.message, "") for src in checks[s.start].sources)
                s = replace(s, scopes=scopes)
                by_metric.setdefault((s.metric, s.window), []).append(s)
        contradictions: list[dict[str, Any]] = []
        for (metric, window), statements in by_metric.items():
            first = statements[0]
            for other in statements[1:]:
                if not _agree(first, other):
                    contradictions.append(
                        {
                            "metric": metric,
                            "window": window,
                            "messages": [first.message, other.message],
                            "values": [first.text, other.text],
                        }
                    )
                    break
        metrics = {m for m, _ in by_metric}
        details = {
            "statements": [
                {"metric": s.metric, "message": s.message, "text": s.text, "window": s.window}
                for ss in by_metric.values()
                for s in ss
            ],
            "contradictions": contradictions,
        }
        if not metrics:
            return EvalResult(key=self.key, score=1.0, passed=True, comment="no labelled metrics", details=details)
        bad = {c["metric"] for c in contradictions}
        score = 1.0 - len(bad) / len(metrics)
        if contradictions:
            comment = "; ".join(
                f"{c['metric']} stated as {c['values'][0]} (message {c['messages'][0]}) and {c['values'][1]} "
                f"(message {c['messages'][1]})"
                for c in contradictions
            )
        else:
            comment = f"{len(metrics)} metrics stated consistently"
        return EvalResult(key=self.key, score=score, passed=not contradictions, comment=comment, details=details)


def consistency_evaluator(*, catalog: Catalog | None = None) -> _ConsistencyEvaluator:
    """Evaluator ``consistency``: one value per metric (and stated window) per conversation.

    Args:
        catalog: evaluation settings and intents to use (default: ``Catalog.default()``).
    """
    catalog = catalog or Catalog.default()
    _compile(catalog.evaluation.consistency)
    return _ConsistencyEvaluator(catalog)
