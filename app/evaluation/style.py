"""Style: CJ's replies read like a copilot talking to a merchant, and answer what was asked.

Each CJ text reply gets up to five sub-checks:

(a) ``leak`` -- no leaked reasoning or meta-commentary: none of ``style.leak_patterns`` of
    ``data/evaluation.yaml`` matches ("Thought: ...", "I will call get_financial_metrics",
    "(internal: ...)", "as an AI", "system prompt", raw tool names, JSON blobs).
(b) ``length`` -- between ``min_words`` and ``max_words[stress]`` words, by the merchant's stress
    level (``transcript.merchant_context["stress_level"]``): shorter under pressure.
(c) ``promise`` -- CJ offers only what it can do: a sentence with offer phrasing
    (``style.offer_pattern``: "want me to", "I can", ...) that names an action of
    ``style.actions`` (refunds, discount codes, pausing subscriptions, a note) needs one of that
    action's tools bound in the current workflow; an action no tool can do is always a broken
    promise.
(d) ``answer`` -- only for the first reply after a merchant question whose intents
    (``data/intents.yaml``) name a tool or ask for advice. A pushback such as "Can you give me
    actual numbers?" is checked against the question before it.

    * data questions: some claim of the reply (a number, name, id or date) must be backed by a
      successful result of the question's tool (or one of its ``fallbacks`` in
      ``data/intents.yaml``) received before the reply -- with the question's key
      arguments (segment, category, customer id, ...) and, where ``style.answer_fields`` lists
      the fields that answer the intent, from one of those fields. When no such tool is bound in
      the current workflow, or every call of it failed, the reply must instead say it cannot get
      that (``style.unavailable_pattern``); after such a reply, a pushback need not repeat it.
    * advice questions (``style.recommendation_intents``): the reply recommends (milestone
      ``recommended_action`` of ``data/milestones.yaml``).

(e) ``caveat`` -- only once the conversation holds a data_quality result whose verdict is not ok:
    a reply with numbers from a view it flags carries a caveat (:mod:`app.evaluation.caveats`).

Score = sub-checks passed / sub-checks run (1.0 with no replies); passed when none failed.
``details`` lists each violation with the message index (and, for ``answer``, the question's).

Example: merchant "What's our CAC now?" (intent ``acquisition`` -> ``get_financial_metrics``);
CJ, after that tool returned ``cac.current = 46.45``: "CAC is $46.45, up 36.3%." passes (c);
replying "MRR is $83,786" from the same result fails it (MRR does not answer ``acquisition``),
"Thought: I will call get_financial_metrics" fails (a), and "I can refund the affected customers
right away" fails (c) (no tool of CJ refunds).

    >>> style_evaluator().key
    'style'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.analysis.arguments import normalize_args
from app.catalog import Catalog
from app.evaluation.caveats import caveat_checks
from app.evaluation.grounding import ClaimCheck, ConversationAnalysis, ToolResultRecord, analyze
from app.evaluation.grounding.kinds import SENTENCE_END
from app.evaluation.result import EvalResult
from app.formats.evaluation import StyleSettings
from app.intents import IntentMatch
from app.models import StressLevel
from app.transcript import Transcript

__all__ = ["Question", "merchant_questions", "reply_after", "style_evaluator"]


@dataclass(frozen=True)
class Question:
    """A merchant message that asks for data or advice, with what would answer it.

    Attributes:
        message: index of the merchant message.
        asks: index of the message whose question it is (an earlier one for a pushback).
        matches: the question's intents that name a tool.
        recommend: whether it asks for advice.
    """

    message: int
    asks: int
    matches: tuple[IntentMatch, ...]
    recommend: bool


@dataclass(frozen=True)
class _Compiled:
    settings: StyleSettings
    leak: re.Pattern[str]
    unavailable: re.Pattern[str]
    answer_fields: dict[str, re.Pattern[str]]
    offer: re.Pattern[str]
    actions: tuple[tuple[str, re.Pattern[str], frozenset[str]], ...]


_COMPILED: dict[int, tuple[StyleSettings, _Compiled]] = {}


def _compile(settings: StyleSettings) -> _Compiled:
    hit = _COMPILED.get(id(settings))
    if hit is not None and hit[0] is settings:
        return hit[1]
    compiled = _Compiled(
        settings,
        re.compile("|".join(f"(?:{p})" for p in settings.leak_patterns), re.IGNORECASE | re.MULTILINE),
        re.compile(settings.unavailable_pattern, re.IGNORECASE),
        {k: re.compile(v) for k, v in settings.answer_fields.items()},
        re.compile(settings.offer_pattern, re.IGNORECASE),
        tuple((k, re.compile(a.pattern, re.IGNORECASE), frozenset(a.tools)) for k, a in settings.actions.items()),
    )
    _COMPILED[id(settings)] = (settings, compiled)
    return compiled


def merchant_questions(
    transcript: Transcript,
    recommendation_intents: frozenset[str],
    pushback_intents: frozenset[str],
    catalog: Catalog,
) -> list[Question]:
    """Every merchant message that asks for data or advice (by ``catalog``'s intents), in order."""
    out: list[Question] = []
    previous: tuple[int, list[IntentMatch]] | None = None
    analysis = analyze(transcript, catalog)
    for i, m in enumerate(transcript.messages):
        if m.role != "merchant":
            continue
        matches = analysis.intents_of(i)
        ids = {x.intent.id for x in matches}
        asks = i
        tool_matches = [x for x in matches if x.intent.tool]
        if not tool_matches and ids & pushback_intents and previous is not None:
            asks, matches = previous
            ids = {x.intent.id for x in matches}
            tool_matches = [x for x in matches if x.intent.tool]
        recommend = bool(ids & recommendation_intents)
        if tool_matches or recommend:
            out.append(Question(i, asks, tuple(tool_matches), recommend))
        previous = (asks, matches)
    return out


def reply_after(transcript: Transcript, index: int) -> int | None:
    """The first CJ text reply after message ``index``, before the merchant speaks again."""
    for j in range(index + 1, len(transcript.messages)):
        m = transcript.messages[j]
        if m.role == "merchant":
            return None
        if m.role == "cj" and m.content:
            return j
    return None


def _bound_tools(transcript: Transcript, index: int, catalog: Catalog) -> frozenset[str]:
    name = transcript.workflow
    for step in transcript.workflow_path:
        if int(step.get("at_message", 0)) <= index:
            name = str(step.get("workflow", name))
    # 'auto' before resolution, or a workflow of another data folder: every tool
    return catalog.workflows.bound_tools(name)


def _key_args_match(result: ToolResultRecord, wanted: dict[str, Any], key_args: list[str]) -> bool:
    if not any(k in wanted for k in key_args):
        return True
    got = normalize_args(result.tool, result.args)
    want = normalize_args(result.tool, {k: v for k, v in wanted.items() if k in key_args})
    return all(str(got.get(k)).lower() == str(want.get(k)).lower() for k in key_args if k in wanted)


def _backs(
    analysis: ConversationAnalysis,
    result: ToolResultRecord,
    reply: int,
    checks: list[ClaimCheck],
    fields: re.Pattern[str] | None,
) -> bool:
    """Whether some claim of the reply comes from ``result`` (from an answering field, if given)."""
    prefix = len(result.view) + 1
    if fields is None:
        dates = analysis.result_dates(result)
        if dates and any(d in dates for d in analysis.dates.get(reply, ())):
            return True
    for check in checks:
        if check.claim is None:
            if check.status == "grounded" and isinstance(check.value, str) and check.value in result.content:
                return True
            continue
        for match in analysis.sources_in(result, check):
            if fields is None or fields.search(match.label[prefix:]):
                return True
    return False


def _broken_promise(text: str, bound: frozenset[str], compiled: _Compiled) -> str | None:
    """The first offer of ``text`` naming an action no bound tool can do, or None."""
    for sentence in SENTENCE_END.split(text):
        if not compiled.offer.search(sentence):
            continue
        for name, pattern, tools in compiled.actions:
            if pattern.search(sentence) and not tools & bound:
                return f"offers to {name} ({sentence.strip()[:80]!r}), which no bound tool can do"
    return None


def _said_unavailable(transcript: Transcript, question: int, compiled: _Compiled) -> bool:
    reply = reply_after(transcript, question)
    return reply is not None and bool(compiled.unavailable.search(transcript.messages[reply].content))


def _check_answer(
    transcript: Transcript,
    analysis: ConversationAnalysis,
    q: Question,
    reply: int,
    compiled: _Compiled,
    catalog: Catalog,
) -> str | None:
    """The problem with ``reply`` as an answer to ``q``, or None."""
    text = transcript.messages[reply].content
    problems = []
    if q.matches:
        bound = _bound_tools(transcript, q.message, catalog)
        checks = analysis.checks.get(reply, [])
        backed = False
        tools_wanted: list[str] = []
        attempted_ok = False
        for match in q.matches:
            tool = match.intent.tool or ""
            for candidate in [tool, *catalog.intents.fallback_tools(tool)]:
                own = candidate == tool
                fields = compiled.answer_fields.get(match.intent.id) if own else None
                tools_wanted.append(candidate)
                for r in analysis.results:
                    if r.message >= reply or r.tool != candidate or not r.ok:
                        continue
                    if own and not _key_args_match(r, match.args, compiled.settings.key_args):
                        continue
                    attempted_ok = True
                    if _backs(analysis, r, reply, checks, fields):
                        backed = True
                        break
                if backed:
                    break
            if backed:
                break
        if not backed and any(r.declined and r.tool in tools_wanted and q.message < r.message < reply for r in analysis.results):
            backed = True  # CJ asked to run the action and the merchant said no: that is the answer
        if not backed:
            available = any(t in bound for t in tools_wanted)
            failed = any(
                not r.ok and r.tool in tools_wanted and q.message < r.message < reply for r in analysis.results
            )
            says_unavailable = bool(compiled.unavailable.search(text))
            if (not available or (failed and not attempted_ok)) and says_unavailable:
                pass
            elif not available and q.asks != q.message and _said_unavailable(transcript, q.asks, compiled):
                pass  # a pushback after CJ already said it cannot get that: no need to repeat it
            elif not available:
                problems.append(f"{tools_wanted[0]} is not available here and the reply does not say so")
            else:
                wanted = ", ".join(dict.fromkeys(m.intent.tool or "" for m in q.matches))
                problems.append(f"reply is not backed by the asked data ({wanted})")
    if q.recommend and "recommended_action" not in catalog.milestones.found(text, "cj"):
        problems.append("advice was asked for but the reply recommends nothing")
    return "; ".join(problems) or None


class _StyleEvaluator:
    key = "style"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def __call__(self, *, transcript: Transcript) -> EvalResult:
        catalog = self.catalog
        settings = catalog.evaluation.style
        compiled = _compile(settings)
        analysis = analyze(transcript, catalog)
        stress = transcript.merchant_context.get("stress_level", StressLevel.moderate.value)
        try:
            max_words = settings.max_words[StressLevel(stress)]
        except (ValueError, KeyError):
            max_words = max(settings.max_words.values())
        violations: list[dict[str, Any]] = []
        run = 0
        for i in analysis.replies:
            text = transcript.messages[i].content
            run += 2
            leak = compiled.leak.search(text)
            if leak:
                violations.append({"check": "leak", "message": i, "text": leak.group(0)[:80]})
            run += 1
            promise = _broken_promise(text, _bound_tools(transcript, i, catalog), compiled)
            if promise:
                violations.append({"check": "promise", "message": i, "text": promise})
            words = len(text.split())
            if words > max_words or words < settings.min_words:
                bound = f"at most {max_words}" if words > max_words else f"at least {settings.min_words}"
                text_ = f"{words} words ({bound} for {stress} stress)"
                violations.append({"check": "length", "message": i, "text": text_})
        questions = merchant_questions(
            transcript, frozenset(settings.recommendation_intents), frozenset(settings.pushback_intents), catalog
        )
        for q in questions:
            reply = reply_after(transcript, q.message)
            if reply is None:
                continue
            run += 1
            problem = _check_answer(transcript, analysis, q, reply, compiled, catalog)
            if problem:
                violations.append({"check": "answer", "message": reply, "question": q.message, "text": problem})
        caveats_run, caveat_violations = caveat_checks(transcript, analysis.replies)
        run += caveats_run
        violations += caveat_violations
        details = {"violations": violations, "checks": run, "max_words": max_words}
        if not run:
            return EvalResult(key=self.key, score=1.0, passed=True, comment="no replies", details=details)
        score = (run - len(violations)) / run
        if violations:
            counts: dict[str, int] = {}
            for v in violations:
                counts[v["check"]] = counts.get(v["check"], 0) + 1
            first = violations[0]
            comment = (
                ", ".join(f"{n} {k}" for k, n in counts.items())
                + f" violation(s); first in message {first['message']}: {first['text']}"
            )
        else:
            comment = f"{len(analysis.replies)} replies, {run} checks passed"
        return EvalResult(key=self.key, score=max(0.0, score), passed=not violations, comment=comment, details=details)


def style_evaluator(*, catalog: Catalog | None = None) -> _StyleEvaluator:
    """Evaluator ``style``: no leaked reasoning, length suited to stress, answers the question asked.

    Args:
        catalog: evaluation settings, intents, workflows and milestones to use (default: ``Catalog.default()``).
    """
    catalog = catalog or Catalog.default()
    _compile(catalog.evaluation.style)
    return _StyleEvaluator(catalog)
