"""Goal coverage: CJ answers each of the scenario's ``merchant_goals``.

Definition. For every goal of the transcript's scenario:

* **asked** -- the first merchant message quoting ``goal.ask`` (case and spacing ignored; the
  scripted merchant quotes it verbatim), else the first merchant message sharing an intent with
  ``goal.ask`` (paraphrasing merchants) that no earlier goal claimed.
* **expected** -- for a goal naming a metric (``view.field.path`` + ``args``): the value at that
  path in the artifact of a tool result of that view whose call arguments include the goal's
  arguments; or, when ``provider_for(transcript)`` returns a provider,
  ``provider.get_view(view, as_of, **args)`` with ``as_of`` the date of the first message.
* **answered** -- a CJ text reply to the question states the expected value. The replies to a
  question are those after it and before the merchant's next question (a message with a data or
  advice intent, or another goal's ask; a pushback such as "actual numbers, please" stays with
  the question), so an answer to a later question never counts; when the merchant never asked,
  any CJ reply. The expected value is stated when numbers within the claim's rounding tolerance (fractions also as
  percentages, signs ignored), text case-insensitively with ``_`` and spaces alike
  (``shipping_delay`` = "shipping delay"); a goal on a change (``change_pct``, ``change_points``)
  whose trend is ``flat`` is also answered by saying so ("unchanged", "about flat", "-0.0%";
  ``goals.flat_pattern``). A goal without a metric is answered by a reply with a
  number, or -- when its ask is a request for advice (``goals.recommendation_intents``) -- by a
  reply that recommends (milestone ``recommended_action``). A metric goal whose value no tool
  result carries is not answered even when the reply has numbers (status ``unverified``): CJ
  never fetched the data, so whatever it said cannot be the checked value.

Statuses: ``answered``, ``unverified``, ``wrong_value`` (replied with numbers, never the expected
value), ``unanswered``, ``not_asked``. Score = answered / goals; passed when every goal is
answered.

Example: goal ``churn_rate`` (``financial_metrics.churn_rate.current``, ``time_range: 30d``);
``get_financial_metrics(time_range="30d")`` returned ``churn_rate.current = 0.0598``; the
merchant asks "What's our churn rate this month?" and CJ replies "Churn is 6.0%" -> answered.

    >>> goal_coverage_evaluator().key
    'goal_coverage'
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from app.analysis.arguments import normalize_args
from app.analysis.artifacts import resolve
from app.catalog import Catalog
from app.data_views import DataProvider
from app.errors import InvalidArgumentError
from app.evaluation.grounding import ConversationAnalysis, analyze
from app.evaluation.result import EvalResult
from app.models import MerchantGoal
from app.tools import TOOL_VIEWS
from app.transcript import Transcript

__all__ = ["goal_coverage_evaluator", "same_text"]

ProviderFor = Callable[[Transcript], DataProvider | None]
_SPACES = re.compile(r"[\s_]+")


def _norm(text: str) -> str:
    return _SPACES.sub(" ", text).strip().lower()


def same_text(expected: str, text: str) -> bool:
    """Whether ``text`` mentions ``expected`` as a phrase (case-insensitive, ``_`` = space)."""
    want = _norm(expected)
    return bool(want) and re.search(rf"(?<![a-z0-9]){re.escape(want)}(?![a-z0-9])", _norm(text)) is not None


def _asked(
    t: Transcript, analysis: ConversationAnalysis, goals: list[MerchantGoal], catalog: Catalog
) -> list[int | None]:
    merchant = [(i, m.content) for i, m in enumerate(t.messages) if m.role == "merchant"]
    out: list[int | None] = []
    claimed: set[int] = set()
    for goal in goals:
        ask = _norm(goal.ask)
        found = next((i for i, text in merchant if ask in _norm(text)), None)
        if found is None:
            want = {m.intent.id for m in catalog.intents.detect(goal.ask)}
            found = next(
                (i for i, _ in merchant if i not in claimed and want & {m.intent.id for m in analysis.intents_of(i)}),
                None,
            )
        if found is not None:
            claimed.add(found)
        out.append(found)
    return out


def _expected(
    t: Transcript,
    analysis: ConversationAnalysis,
    goal: MerchantGoal,
    provider: DataProvider | None,
    key_args: set[str],
) -> tuple[Any, str | None]:
    """(expected value, where it came from) of a metric goal."""
    assert goal.metric is not None
    view, path = goal.metric.split(".", 1)
    if provider is not None:
        as_of = dt.date.fromisoformat(t.messages[0].timestamp[:10]) if t.messages else None
        artifact = provider.get_view(view, as_of, **goal.args).to_json()
        return resolve(artifact, path), f"provider {view}"
    candidates = [
        r for r in analysis.results if r.ok and TOOL_VIEWS.get(r.tool) == view and isinstance(r.artifact, dict)
    ]
    # Exact arguments first (defaults filled in), then any call agreeing on the goal's and the key arguments.
    normalized = [(r, normalize_args(r.tool, r.args), normalize_args(r.tool, goal.args)) for r in candidates]
    for exact in (True, False):
        for r, args, want in normalized:
            keys = want.keys() if exact else (set(goal.args) | key_args) & want.keys()
            if all(str(args.get(k)) == str(want.get(k)) for k in keys):
                value = resolve(r.artifact, path)
                if value is not None:
                    return value, f"message {r.message}"
    return None, None


def _states(analysis: ConversationAnalysis, reply: int, text: str, expected: Any, fraction: bool) -> str | None:
    """The text of the reply stating ``expected``, or None."""
    if isinstance(expected, str):
        return expected if same_text(expected, text) else None
    if isinstance(expected, bool) or not isinstance(expected, (int, float)):
        return None
    targets = [abs(float(expected))] + ([abs(float(expected)) * 100] if fraction and abs(expected) <= 1 else [])
    for check in analysis.checks.get(reply, []):
        if check.claim is None:
            continue
        tol = check.claim.tolerance + 1e-9
        if any(abs(abs(check.claim.value) - v) <= tol for v in targets):
            return check.text
    return None


_CHANGE_FIELDS = ("change_pct", "change_points")


def _flat_trend(t: Transcript, goal: MerchantGoal, origin: str | None) -> bool:
    """Whether the goal asks for a change whose trend the source result calls flat."""
    assert goal.metric is not None
    path = goal.metric.split(".", 1)[1]
    trend, _, leaf = path.rpartition(".")
    if leaf not in _CHANGE_FIELDS or origin is None or not origin.startswith("message "):
        return False
    artifact = t.messages[int(origin.split()[1])].artifact
    return isinstance(artifact, dict) and resolve(artifact, f"{trend}.direction") == "flat"


def _window(t: Transcript, analysis: ConversationAnalysis, at: int | None, asks: set[int], catalog: Catalog) -> list[int]:
    """The CJ replies that answer the merchant message ``at``: until the merchant asks something else."""
    if at is None:
        return list(analysis.replies)
    end = len(t.messages)
    for i in range(at + 1, len(t.messages)):
        if t.messages[i].role != "merchant":
            continue
        if i in asks or any(m.intent.tool or m.intent.id in _advice(catalog) for m in analysis.intents_of(i)):
            end = i
            break
    return [j for j in analysis.replies if at < j < end]


def _advice(catalog: Catalog) -> frozenset[str]:
    return frozenset(catalog.evaluation.goals.recommendation_intents)


def _recommends(text: str, catalog: Catalog) -> bool:
    return "recommended_action" in catalog.milestones.found(text, "cj")


def _has_number(analysis: ConversationAnalysis, reply: int) -> bool:
    return any(c.claim is not None for c in analysis.checks.get(reply, []))


class _GoalCoverageEvaluator:
    key = "goal_coverage"

    def __init__(self, provider_for: ProviderFor | None, catalog: Catalog) -> None:
        self.provider_for = provider_for
        self.catalog = catalog

    def __call__(self, *, transcript: Transcript) -> EvalResult:
        catalog = self.catalog
        settings = catalog.evaluation
        fraction_fields = settings.grounding.fraction_fields
        key_args = set(settings.style.key_args)
        advice = frozenset(settings.goals.recommendation_intents)
        goals = list(catalog.scenarios.get(transcript.scenario).merchant_goals)
        analysis = analyze(transcript, catalog)
        provider = self.provider_for(transcript) if self.provider_for is not None else None
        asked = _asked(transcript, analysis, goals, catalog)
        asks = {a for a in asked if a is not None}
        flat = re.compile(settings.goals.flat_pattern, re.IGNORECASE)
        rows: list[dict[str, Any]] = []
        for goal, at in zip(goals, asked, strict=True):
            replies = _window(transcript, analysis, at, asks, catalog)
            row: dict[str, Any] = {"goal": goal.id, "asked": at, "answered": None, "expected": None, "stated": None}
            if goal.metric is not None:
                expected, origin = _expected(transcript, analysis, goal, provider, key_args)
                row["expected"] = expected
                row["expected_from"] = origin
                field_name = goal.metric.rsplit(".", 2)[-2] if "." in goal.metric else ""
                fraction = re.search(fraction_fields, field_name, re.IGNORECASE) is not None
                if expected is not None:
                    is_flat = _flat_trend(transcript, goal, origin)
                    for j in replies:
                        text = transcript.messages[j].content
                        stated = _states(analysis, j, text, expected, fraction)
                        if stated is None and is_flat:
                            said = flat.search(text)
                            stated = said.group(0) if said else None
                        if stated is not None:
                            row.update(answered=j, stated=stated, status="answered")
                            break
                    else:
                        numeric = next((j for j in replies if _has_number(analysis, j)), None)
                        if at is None:
                            row["status"] = "not_asked"
                        elif numeric is None:
                            row["status"] = "unanswered"
                        else:
                            first = next(c for c in analysis.checks[numeric] if c.claim is not None)
                            row.update(stated=first.text, status="wrong_value")
                else:
                    numeric = next((j for j in replies if _has_number(analysis, j)), None) if at is not None else None
                    row.update(answered=numeric, status="unverified" if numeric is not None else _missing(at))
            else:
                wants_advice = bool(advice & {m.intent.id for m in catalog.intents.detect(goal.ask)})
                if wants_advice:
                    hit = next((j for j in replies if _recommends(transcript.messages[j].content, catalog)), None)
                else:
                    hit = next((j for j in replies if _has_number(analysis, j)), None)
                if at is None:
                    hit = None
                row.update(answered=hit, status="answered" if hit is not None else _missing(at))
            rows.append(row)
        covered = sum(r["status"] == "answered" for r in rows)
        details = {"goals": rows}
        score = covered / len(rows) if rows else 1.0
        missing = [f"{r['goal']} ({r['status']})" for r in rows if r["status"] != "answered"]
        comment = f"{covered}/{len(rows)} goals answered" + (f"; not: {', '.join(missing)}" if missing else "")
        return EvalResult(key=self.key, score=score, passed=not missing, comment=comment, details=details)


def _missing(asked: int | None) -> str:
    return "not_asked" if asked is None else "unanswered"


def goal_coverage_evaluator(
    provider_for: ProviderFor | None = None, *, catalog: Catalog | None = None
) -> _GoalCoverageEvaluator:
    """Evaluator ``goal_coverage``: every merchant goal of the scenario is answered with the right value.

    Args:
        provider_for: optional ``transcript -> DataProvider | None``; reference values then come
            from the provider's views instead of the conversation's tool results.
        catalog: scenarios, intents, milestones and settings to use (default: ``Catalog.default()``).
    """
    if provider_for is not None and not callable(provider_for):
        raise InvalidArgumentError("provider_for must be a callable taking a transcript and returning a provider")
    return _GoalCoverageEvaluator(provider_for, catalog or Catalog.default())
