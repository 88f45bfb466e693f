"""Writing the rule-based CJ's answers from tool results (grounded: numbers come from artifacts).

An :class:`AnswerWriter` turns the tool results of a turn into text: it picks the facts that
answer the merchant's question (the answer spec of the intent, with facts matching the
question's words first and alarming facts first under stress), renders them from the artifact
with the shared number formats, lays them out in the merchant's style, and appends error notes,
a "Recommended next steps:" block or a proactive offer.

A fact that reads a value the result marks unavailable (a Trend's ``unavailable`` or the view's
``unavailable`` mapping) is never stated with a number; when the merchant asked about it, or the
result supports no fact at all, CJ says it is not available and why.

Example:
    >>> from app.catalog import Catalog
    >>> from app.policies.tone import ToneRenderer
    >>> t = Catalog.default().prompts.rule_cj
    >>> writer = AnswerWriter(t, ToneRenderer(t, "moderate", "direct"))
    >>> trend = {"current": 0.0598, "previous": 0.056, "change_pct": 6.8, "direction": "up"}
    >>> item = Presented("churn", "get_financial_metrics", {"time_range": "30d", "churn_rate": trend}, "")
    >>> writer.facts(item, "How bad is churn?")[0].value
    '6.0% (up 6.8% from 5.6%)'
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.analysis.artifacts import resolve
from app.formats.rule_cj import FactTemplate, RuleCJTemplates
from app.formats.templating import Condition, placeholders, render
from app.models import Stage
from app.policies.tone import SpokenFact, ToneRenderer, lower_first

__all__ = ["Presented", "AnswerWriter", "error_summary", "unavailable_reason"]


@dataclass(frozen=True)
class Presented:
    """A tool result to talk about: the answer key (intent id or tool), tool, artifact, text."""

    key: str
    tool: str
    artifact: dict[str, Any] | None
    content: str
    limit: int | None = None
    numeric: bool = False
    """Prefer facts with numbers (a single fact backing a recommendation)."""


def error_summary(content: str) -> str:
    """The gist of a tool error message: first line, without the 'Error:' prefix and the advice."""
    first = content.strip().splitlines()[0] if content.strip() else "the tool failed"
    first = re.sub(r"^error:\s*", "", first, flags=re.IGNORECASE)
    first = re.split(r"\.\s+(?:Fix|Try|Check|Use)\b|;", first)[0].strip()
    if len(first) > 200:
        first = first[:197].rstrip() + "..."
    return first if first.endswith((".", "!", "?")) else first + "."


def _fact_paths(fact: FactTemplate) -> list[str]:
    """Every artifact path a fact reads (placeholders, its list and its items, its condition)."""
    paths = [path for text in (fact.label, fact.value, fact.sentence) for path, _ in placeholders(text)]
    if fact.items is not None:
        paths.append(fact.items.path)
        paths += [f"{fact.items.path}.{path}" for path, _ in placeholders(fact.items.template)]
    if fact.when:
        paths.append(Condition.parse(fact.when).path)
    return [p for p in paths if p != "items"]


def unavailable_reason(fact: FactTemplate, artifact: dict[str, Any]) -> str | None:
    """Why the data cannot support a fact, or None if it can.

    A path is unavailable when it, or a path it starts with, is named in the result's
    ``unavailable`` mapping, or resolves to an object with its own ``unavailable`` reason (a Trend).
    """
    marked = artifact.get("unavailable")
    marked = marked if isinstance(marked, Mapping) else {}
    for path in _fact_paths(fact):
        steps = [step for step in path.split(".") if not step.isdigit()]
        for i in range(1, len(steps) + 1):
            prefix = ".".join(steps[:i])
            if isinstance(marked.get(prefix), str):
                return marked[prefix]
            value = resolve(artifact, prefix)
            if isinstance(value, Mapping) and value.get("unavailable"):
                return str(value["unavailable"])
    return None


def _applies(fact: FactTemplate, artifact: dict[str, Any]) -> bool:
    """Whether a fact is about this result at all (its ``when``, if any, holds): one that is not
    (the subscription list of an orders-only shop's order list) is not reported as unavailable."""
    return fact.when is None or Condition.parse(fact.when).holds(artifact)


def _render_fact(fact: FactTemplate, artifact: dict[str, Any]) -> SpokenFact | None:
    if unavailable_reason(fact, artifact):
        return None
    if fact.when and not Condition.parse(fact.when).holds(artifact):
        return None
    extra: dict[str, str] = {}
    if fact.items is not None:
        items = fact.items.render(artifact)
        if items is None:
            return None
        extra["items"] = items
    label = render(fact.label, artifact, extra)
    value = render(fact.value, artifact, extra)
    sentence = render(fact.sentence, artifact, extra)
    if label is None or value is None or sentence is None:
        return None
    sentence = sentence[0].upper() + sentence[1:] if sentence else sentence
    return SpokenFact(label[0].upper() + label[1:], value, sentence)


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


@dataclass(frozen=True)
class AnswerWriter:
    """Composes one CJ answer.

    Args:
        templates: the loaded ``rule_cj.yaml``.
        tone: tone choices of this turn.
    """

    templates: RuleCJTemplates
    tone: ToneRenderer

    def _spec_facts(self, item: Presented) -> list[str]:
        spec = self.templates.answers.get(item.key)
        if spec is None or self.templates.answer_tool(item.key) != item.tool:
            spec = self.templates.answers[item.tool]
        return list(spec.facts)

    def explanation(self, item: Presented) -> str | None:
        spec = self.templates.answers.get(item.key)
        return spec.explain if spec is not None and self.templates.answer_tool(item.key) == item.tool else None

    def facts(self, item: Presented, focus: str, limit: int | None = None) -> list[SpokenFact]:
        """The facts to state about one result, most relevant first, at most ``limit``."""
        limit = self.tone.max_facts if limit is None else limit
        if item.artifact is None:
            line = item.content.strip().splitlines()[0] if item.content.strip() else ""
            return [SpokenFact("Result", line, line)] if line else []
        library = self.templates.facts.get(item.tool, {})
        listed = self._spec_facts(item)

        asked = focus if item.key != item.tool else ""  # only results of the merchant's own question

        def focused(fid: str) -> bool:
            pattern = library[fid].focus
            return bool(asked and pattern and re.search(pattern, asked, re.IGNORECASE))

        first = [f for f in listed if focused(f)] + [f for f in library if f not in listed and focused(f)]
        rest = [f for f in listed if f not in first]
        if self.tone.lead_with_alarm:
            alarming = [f for f in rest if _alarming(library[f].alarm, item.artifact)]
            rest = alarming + [f for f in rest if f not in alarming]
        rendered = [(fid, _render_fact(library[fid], item.artifact)) for fid in first + rest]
        available = [(fid, fact) for fid, fact in rendered if fact is not None]
        # Say what cannot be known when it was asked for, or when nothing else can be said.
        missing = [
            fid
            for fid in (first if available else first + rest)
            if dict(rendered)[fid] is None and _applies(library[fid], item.artifact)
        ]
        notes = self._not_available([library[fid] for fid in missing], item.artifact)
        if item.numeric:
            available.sort(key=lambda pair: not re.search(r"\d", pair[1].value))
        chosen = available[:limit]
        # The most important fact not asked about is always stated, unless the question fills every slot.
        headline = next((pair for pair in available if pair[0] in listed and pair[0] not in first), None)
        asked_facts = [fid for fid, _ in available if fid in first]
        if headline is not None and headline not in chosen and len(chosen) > len(asked_facts):
            chosen[-1] = headline
        return (notes + [fact for _, fact in chosen])[: max(limit, len(notes))]

    def _not_available(self, facts: Sequence[FactTemplate], artifact: dict[str, Any]) -> list[SpokenFact]:
        """One 'not available' statement per reason, naming the unavailable facts it covers."""
        by_reason: dict[str, list[str]] = {}
        for fact in facts:
            reason = unavailable_reason(fact, artifact)
            label = render(fact.label, artifact)
            if reason and label:
                names = by_reason.setdefault(reason, [])
                if label not in names:
                    names.append(label)
        notes = []
        for reason, labels in by_reason.items():
            what = _join([lower_first(label) for label in labels])
            sentence = self.tone.pick(self.templates.phrases.not_available, "not_available").format(
                what=what, reason=reason
            )
            notes.append(SpokenFact(what[0].upper() + what[1:], f"not available ({reason})", sentence))
        return notes

    def recommendations(
        self, artifacts: Sequence[tuple[str, dict[str, Any]]], gaps: Collection[str] = ()
    ) -> list[str]:
        """Next steps from results (newest first): their own recommended actions, then advice rules;
        without any, generic advice (the ``gap_advice`` of the first of ``gaps`` the templates name:
        data without subscriptions gets no advice about subscribers)."""
        found: list[str] = []
        newest_first = list(reversed(artifacts))
        for _tool, artifact in newest_first:
            found += [str(a) for a in artifact.get("recommended_actions") or [] if a]
        for tool, artifact in newest_first:
            for rule in self.templates.advice.get(tool, []):
                if rule.when is None or Condition.parse(rule.when).holds(artifact):
                    text = render(rule.text, artifact)
                    if text:
                        found.append(text)
        if not found:
            gap = next((g for g in self.templates.gap_advice if g in gaps), None)
            found = list(self.templates.gap_advice[gap] if gap else self.templates.phrases.generic_advice)
        unique = list(dict.fromkeys(a.rstrip(".") for a in found))
        return unique[: self.templates.max_recommendations]

    def recommendation_block(self, recs: Sequence[str]) -> str:
        """``Recommended next steps:`` followed by ``- ...`` lines."""
        return "\n".join([self.templates.phrases.recommend_header, *(f"- {r}" for r in recs)])

    def offer(self, stage: Stage | None) -> str:
        """A one-line offer to do the next pending stage ('' when there is none)."""
        if stage is None:
            return ""
        for key in (stage.id, stage.tool, stage.milestone):
            if key and key in self.templates.offers:
                return self.tone.pick(self.templates.offers[key], "offer", key)
        return ""

    def error_note(self, tool: str, content: str) -> str:
        what = self.templates.phrases.topics.get(tool, "that")
        return self.tone.pick(self.templates.phrases.errors, "error", tool).format(
            what=what, error=error_summary(content)
        )

    def declined_note(self, tool: str) -> str:
        """What CJ says after the merchant declined an action: it was not done."""
        what = self.templates.phrases.topics.get(tool, "that")
        return self.tone.pick(self.templates.phrases.declined, "declined", tool).format(what=what)

    def write(
        self,
        *,
        head: str,
        items: Sequence[Presented],
        focus: str,
        errors: Sequence[str] = (),
        recommendations: Sequence[str] = (),
        offer: str = "",
    ) -> str:
        """The full answer text."""
        facts: list[SpokenFact] = []
        for i, item in enumerate(items):
            limit = self.tone.max_facts if i == 0 else max(1, self.tone.max_facts - 1)
            facts += self.facts(item, focus, item.limit or limit)
        body = self.tone.body(facts)
        explain = self.tone.explain(self.explanation(items[0])) if items and facts else ""
        if explain:
            body = f"{body} {explain}"
        extras = [" ".join(errors)] if errors else []
        if recommendations:
            extras.append(self.recommendation_block(recommendations))
        tail = [self.tone.outro(), "" if recommendations else offer]
        return self.tone.compose(head, body, extras, tail)


def _alarming(condition: str | None, artifact: Any) -> bool:
    return condition is not None and Condition.parse(condition).holds(artifact)
