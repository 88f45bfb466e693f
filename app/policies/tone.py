"""How the rule-based CJ words an answer: tone by stress level and communication style.

The wording lives in ``data/prompts/rule_cj.yaml`` (``tone`` and ``phrases``); this module
chooses among the variants deterministically (by seed and turn) and lays out the facts:

* stress low/moderate: relaxed, up to four facts; high/critical: calm, fewer facts, the most
  alarming fact first, no small talk.
* style direct: ``Label: value`` lines, numbers first; collaborative: full sentences with "we"
  and what the numbers mean; scattered: "First:"/"Next:"/"Then:" steps and a reassuring close.

Example:
    >>> from app.catalog import Catalog
    >>> tone = ToneRenderer(Catalog.default().prompts.rule_cj, "critical", "direct", seed=0, turn=1)
    >>> tone.max_facts
    2
    >>> tone.body([SpokenFact("Churn", "6.0%", "Churn is 6.0%.")])
    'Churn: 6.0%'
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from app.formats.rule_cj import RuleCJTemplates, StressTone, StyleTone
from app.models import CommunicationStyle, StressLevel

__all__ = ["pick", "lower_first", "SpokenFact", "ToneRenderer"]


def pick(options: Sequence[str], seed: int, *salt: object) -> str:
    """One of ``options``, the same for the same seed and salt (stable across processes)."""
    if not options:
        return ""
    digest = hashlib.sha256(repr((seed, *salt)).encode()).digest()
    return options[int.from_bytes(digest[:8], "big") % len(options)]


def lower_first(text: str) -> str:
    """``Churn is`` -> ``churn is``; leaves acronyms (``MRR``) and numbers alone."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


@dataclass(frozen=True)
class SpokenFact:
    """A rendered fact: terse ``label``/``value`` and a full ``sentence``."""

    label: str
    value: str
    sentence: str


@dataclass(frozen=True)
class ToneRenderer:
    """Tone choices for one CJ turn.

    Args:
        templates: the loaded ``rule_cj.yaml``.
        stress: the merchant's stress level.
        style: the merchant's communication style.
        seed: the model's seed (variant choice).
        turn: a per-turn salt so consecutive answers vary.
    """

    templates: RuleCJTemplates
    stress: StressLevel | str
    style: CommunicationStyle | str
    seed: int = 0
    turn: int = 0

    @property
    def _stress(self) -> StressTone:
        return self.templates.tone.stress[StressLevel(self.stress)]

    @property
    def _style(self) -> StyleTone:
        return self.templates.tone.style[CommunicationStyle(self.style)]

    @property
    def calm(self) -> bool:
        """High or critical stress: short, calm, most important fact first."""
        return StressLevel(self.stress) in (StressLevel.high, StressLevel.critical)

    @property
    def max_facts(self) -> int:
        """Facts stated per tool result."""
        return min(self._stress.max_facts, self._style.max_facts)

    @property
    def lead_with_alarm(self) -> bool:
        return self._stress.lead_with_alarm

    def pick(self, options: Sequence[str], *salt: object) -> str:
        return pick(options, self.seed, self.turn, *salt)

    def intro(self) -> str:
        """Opening words of an answer ('' for a direct merchant who is not stressed)."""
        options = self._stress.intros if self.calm and self._style.calm_intros else self._style.intros
        return self.pick(options, "intro")

    def greeting(self, first_name: str) -> str:
        """CJ's first words when it opens the conversation."""
        return self.pick(self._stress.greetings, "greeting").format(first_name=first_name).strip()

    def body(self, facts: Sequence[SpokenFact]) -> str:
        """The facts laid out in the merchant's style."""
        layout = self._style.layout
        if layout == "lines":
            return "\n".join(f"{f.label}: {f.value}" for f in facts)
        if layout == "steps":
            words = self._style.step_words
            return "\n".join(f"{words[min(i, len(words) - 1)]} {f.sentence}" for i, f in enumerate(facts))
        return " ".join(f.sentence for f in facts)

    def explain(self, text: str | None) -> str:
        """The explanation sentence, for collaborative merchants who are not under pressure."""
        return text if text and self._style.explain and not self.calm else ""

    def outro(self) -> str:
        """Closing words; only scattered merchants get one under pressure (reassurance)."""
        if self.calm and CommunicationStyle(self.style) is not CommunicationStyle.scattered:
            return ""
        return self.pick(self._style.outros, "outro")

    def compose(self, head: str, body: str, extras: Sequence[str], tail: Sequence[str]) -> str:
        """Join the parts: head and body (one paragraph in prose), extra blocks, closing line."""
        glue = " " if self._style.layout == "prose" else "\n"
        first = glue.join(p for p in (head, body) if p)
        blocks = [first, *extras, " ".join(t for t in tail if t)]
        return "\n\n".join(b for b in blocks if b.strip()).strip()
