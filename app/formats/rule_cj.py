"""Answer templates of the rule-based CJ (``data/prompts/rule_cj.yaml``) and their rendering.

A template is text with placeholders ``{path|formatter}``: ``path`` walks a tool result's JSON
artifact (:func:`~app.analysis.artifacts.resolve`: dots between keys, list items by index, e.g.
``top_cancel_reasons.0.reason``) and
``formatter`` is one of :data:`FORMATTERS` (the number formats of :mod:`app.formatting`, so CJ
writes every number exactly as the tool text does). A placeholder whose value is missing or
null makes the whole template unrenderable: the fact is skipped rather than stated as "n/a".

Conditions (``when``, ``alarm``) are one comparison ``<path> <op> <literal>`` with ``op`` in
``== != > >= < <=``, or ``<path> exists`` / ``<path> missing``.

Example:
    >>> render("MRR {mrr.current|money} ({mrr|trend:money})",
    ...        {"mrr": {"current": 73023.0, "previous": 70356.0, "change_pct": 3.8, "direction": "up"}})
    'MRR $73,023 (up 3.8% from $70,356)'
    >>> Condition.parse("churn_rate.direction == up").holds({"churn_rate": {"direction": "up"}})
    True
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import Field, PrivateAttr, field_validator, model_validator

from app.analysis.artifacts import resolve
from app.errors import DataFileError
from app.formatting import count, hours, money, pct, points, rate_pct, signed_pct
from app.models import CommunicationStyle, Placeholders, RegexPattern, StressLevel, StrictModel
from app.tools import ALL_TOOLS as TOOL_NAMES

if TYPE_CHECKING:
    from app.intents import IntentCatalog

__all__ = [
    "FORMATTERS",
    "Condition",
    "render",
    "placeholders",
    "FactTemplate",
    "ItemsSpec",
    "AnswerSpec",
    "AdviceRule",
    "TimeRangePhrase",
    "StressTone",
    "StyleTone",
    "Tone",
    "Phrases",
    "RuleCJTemplates",
]

_WINDOWS = {"24h": "24 hours", "3d": "3 days", "7d": "7 days", "30d": "30 days", "60d": "60 days", "90d": "90 days"}


def _num(fmt: Callable[[float], str]) -> Callable[[Any], str | None]:
    def apply(value: Any) -> str | None:
        return None if value is None or isinstance(value, bool) else fmt(value)

    return apply


FORMATTERS: dict[str, Callable[[Any], str | None]] = {
    "money": _num(money),
    "rate_pct": _num(rate_pct),
    "share": _num(lambda v: rate_pct(v, 0)),
    "pct": _num(pct),
    "signed_pct": _num(signed_pct),
    "count": _num(count),
    "hours": _num(hours),
    "score": _num(lambda v: f"{v:.2f}"),
    "per_day": _num(lambda v: f"{v:.1f}"),
    "ratio": _num(lambda v: f"{v:.1f}x"),
    "label": lambda v: None if v is None else str(v).replace("_", " "),
    "text": lambda v: None if v is None else str(v),
    "window": lambda v: None if v is None else _WINDOWS.get(str(v), str(v)),
    "len": lambda v: count(len(v)) if isinstance(v, list) else None,
}
"""Formatter name -> function; ``trend:<name>`` formats a Trend dict with ``<name>``."""

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)(?:\|([a-z_]+(?::[a-z_]+)?))?\}")


def _trend(value: Any, fmt: Callable[[Any], str | None]) -> str | None:
    """A trend as an analyst states it: relative change, points for rates, both values across zero."""
    if not isinstance(value, Mapping) or value.get("unavailable") or value.get("current") is None:
        return None
    previous = fmt(value.get("previous"))
    if previous is None:
        return None
    change = value.get("change_pct")
    direction = value.get("direction", "flat")
    pts = value.get("change_points")
    if pts is not None:
        if pts == 0:
            return f"unchanged from {previous}"
        move = "up" if pts > 0 else "down"
        lead = "about flat, " if direction == "flat" else ""
        return f"{lead}{move} {points(pts)} from {previous}"
    if change is None:
        return f"flat vs {previous}" if direction == "flat" else f"{direction} from {previous}"
    if direction == "flat":
        if change == 0:
            return f"unchanged from {previous}"
        return f"about flat, {'down' if change < 0 else 'up'} {abs(change):.1f}% from {previous}"
    return f"{direction} {abs(change):.1f}% from {previous}"


def _format(value: Any, name: str | None, currency: str | None = None) -> str | None:
    if name is None:
        return FORMATTERS["text"](value)
    if name.startswith("trend:"):
        inner = name.split(":", 1)[1]
        return _trend(value, _money_in(currency) if inner == "money" else FORMATTERS[inner])
    if name == "money":
        return _money_in(currency)(value)
    return FORMATTERS[name](value)


def _with_currency(item: Any, currency: Any) -> Any:
    """A list item inherits the result's currency (money inside it is in the same currency)."""
    if currency is None or not isinstance(item, Mapping) or "currency" in item:
        return item
    return {**item, "currency": currency}


def _money_in(currency: str | None) -> Callable[[Any], str | None]:
    return _num(lambda v: money(v, currency))


def placeholders(template: str) -> list[tuple[str, str | None]]:
    """The ``(path, formatter)`` pairs of a template."""
    return [(m.group(1), m.group(2)) for m in _PLACEHOLDER.finditer(template)]


def render(template: str, data: Any, extra: Mapping[str, str] | None = None) -> str | None:
    """Fill ``template`` from ``data``; ``None`` if any placeholder has no value.

    ``extra`` supplies plain values by name (e.g. ``items``, ``first_name``) before ``data``.
    """
    missing = False
    # Money is written in the currency the tool result names (its ``currency`` field).
    currency = data.get("currency") if isinstance(data, Mapping) else None

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        path, fmt = match.group(1), match.group(2)
        if extra is not None and path in extra:
            return extra[path]
        text = _format(resolve(data, path), fmt, currency)
        if text is None:
            missing = True
            return ""
        return text

    out = _PLACEHOLDER.sub(fill, template)
    return None if missing else out


def _check_formatters(template: str) -> str:
    for _path, fmt in placeholders(template):
        if fmt is None:
            continue
        name = fmt.split(":", 1)[1] if fmt.startswith("trend:") else fmt
        if name not in FORMATTERS:
            raise ValueError(f"unknown formatter {fmt!r} in {template!r}; valid: {', '.join(FORMATTERS)}, trend:<name>")
    return template


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_CONDITION = re.compile(r"^\s*([A-Za-z0-9_.]+)\s+(==|!=|>=|<=|>|<|exists|missing)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Condition:
    """One test on an artifact: ``<path> <op> <literal>`` or ``<path> exists|missing``."""

    path: str
    op: str
    literal: Any = None

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Parse a condition; raises ``ValueError`` naming the expected form."""
        m = _CONDITION.match(text)
        if not m or (m.group(2) in ("exists", "missing")) != (m.group(3) == ""):
            raise ValueError(f"bad condition {text!r}; write '<path> <op> <value>' or '<path> exists|missing'")
        literal = yaml.safe_load(m.group(3)) if m.group(3) else None
        return cls(m.group(1), m.group(2), literal)

    def holds(self, data: Any) -> bool:
        """Whether the condition is true for ``data`` (comparisons with a missing value are false)."""
        value = resolve(data, self.path)
        if self.op == "exists":
            return value is not None and value != []
        if self.op == "missing":
            return value is None or value == []
        if self.op in ("==", "!=") and (self.literal is None or value is not None):
            return _OPS[self.op](value, self.literal)
        if value is None or isinstance(value, bool) != isinstance(self.literal, bool):
            return False
        try:
            return bool(_OPS[self.op](value, self.literal))
        except TypeError:
            return False


def _condition(text: str | None) -> str | None:
    if text is not None:
        Condition.parse(text)
    return text


# --------------------------------------------------------------------------- file model


class ItemsSpec(StrictModel):
    """A list in the artifact rendered as ``{items}`` inside a fact."""

    path: str = Field(description="Dotted path of the list, e.g. 'customers'.")
    template: str = Field(description="Template of one item, with paths relative to the item.")
    start: int = Field(default=0, ge=0, description="Skip this many items.")
    limit: int = Field(default=3, ge=1, le=20, description="At most this many items.")
    joiner: str = "; "

    @field_validator("template")
    @classmethod
    def _formatters(cls, v: str) -> str:
        return _check_formatters(v)

    def render(self, data: Any) -> str | None:
        """The rendered items joined, or ``None`` when the list is empty."""
        items = resolve(data, self.path)
        if not isinstance(items, list):
            return None
        currency = data.get("currency") if isinstance(data, Mapping) else None
        shown_items = items[self.start : self.start + self.limit]
        texts = [render(self.template, _with_currency(item, currency)) for item in shown_items]
        shown = [t for t in texts if t]
        return self.joiner.join(shown) or None


class FactTemplate(StrictModel):
    """One thing CJ can say about a tool result, in a terse and a spoken form."""

    label: str = Field(description="Short name, e.g. 'Churn' (direct style: 'label: value').")
    value: str = Field(description="The numbers, e.g. '{churn_rate.current|rate_pct}'.")
    sentence: str = Field(description="A full sentence (collaborative and scattered styles).")
    items: ItemsSpec | None = Field(default=None, description="A list rendered into '{items}'.")
    when: str | None = Field(default=None, description="Only state the fact if this condition holds.")
    focus: RegexPattern | None = Field(default=None, description="Regex on the merchant's message that puts this fact first.")
    alarm: str | None = Field(default=None, description="Condition that puts the fact first under high stress.")

    @field_validator("value", "sentence")
    @classmethod
    def _formatters(cls, v: str) -> str:
        return _check_formatters(v)

    @field_validator("when", "alarm")
    @classmethod
    def _conditions(cls, v: str | None) -> str | None:
        return _condition(v)


class AnswerSpec(StrictModel):
    """Which facts answer an intent (or a tool, when no intent applies), in order of importance."""

    facts: list[str] = Field(min_length=1, description="Fact ids of the tool's fact library.")
    explain: str | None = Field(default=None, description="What the numbers mean (collaborative style).")


class AdviceRule(StrictModel):
    """A recommendation derived from a tool result when a condition holds."""

    when: str | None = None
    text: str

    @field_validator("when")
    @classmethod
    def _conditions(cls, v: str | None) -> str | None:
        return _condition(v)

    @field_validator("text")
    @classmethod
    def _formatters(cls, v: str) -> str:
        return _check_formatters(v)


class TimeRangePhrase(StrictModel):
    """A phrase in the merchant's message that sets the ``time_range`` argument."""

    pattern: RegexPattern
    time_range: Literal["24h", "3d", "7d", "30d", "60d", "90d"]
    tools: list[str] | None = Field(default=None, description="Only for these tools (default: any with time_range).")


class CallSpec(StrictModel):
    """A tool and its arguments."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class GapCall(StrictModel):
    """With a data gap, a call the data cannot answer made as an equivalent it can answer."""

    tool: str = Field(description="The tool asked for.")
    when: dict[str, Any] = Field(default_factory=dict, description="Arguments the call must have for this to apply.")
    call: CallSpec = Field(description="The call made instead (tool and arguments).")


class StressTone(StrictModel):
    """Tone by stress level."""

    max_facts: int = Field(ge=1, le=10)
    lead_with_alarm: bool = Field(description="Put facts whose alarm holds first.")
    intros: list[str] = Field(min_length=1, description="Opening words of an answer ('' allowed).")
    greetings: list[Annotated[str, Placeholders("first_name")]] = Field(
        min_length=1, description="CJ's first words when it opens; {first_name}."
    )


class StyleTone(StrictModel):
    """Tone by the merchant's communication style."""

    max_facts: int = Field(ge=1, le=10)
    layout: Literal["lines", "prose", "steps"] = Field(
        description="lines: 'Label: value' per line; prose: sentences; steps: First/Next/Then sentences."
    )
    intros: list[str] = Field(min_length=1)
    outros: list[str] = Field(min_length=1)
    step_words: list[str] = Field(default_factory=list, description="Step openers of the steps layout.")
    explain: bool = Field(default=False, description="Add the answer's explanation sentence.")
    calm_intros: bool = Field(default=True, description="Under high stress, open with the stress level's intros.")

    @model_validator(mode="after")
    def _steps(self) -> StyleTone:
        if self.layout == "steps" and len(self.step_words) < self.max_facts:
            raise ValueError("the steps layout needs at least max_facts step_words")
        return self


class Tone(StrictModel):
    stress: dict[StressLevel, StressTone]
    style: dict[CommunicationStyle, StyleTone]

    @model_validator(mode="after")
    def _complete(self) -> Tone:
        missing = [s.value for s in StressLevel if s not in self.stress]
        missing += [s.value for s in CommunicationStyle if s not in self.style]
        if missing:
            raise ValueError(f"tone is missing {missing}")
        return self


class Phrases(StrictModel):
    """Fixed wording, each a list to choose from by seed."""

    recommend_header: str = Field(description="First line of a recommendation block.")
    openings: dict[str, list[Annotated[str, Placeholders("business_name")]]] = Field(
        description="Per workflow CJ opens (or 'default'): the line after the greeting; {business_name}."
    )
    errors: list[Annotated[str, Placeholders("what", "error")]] = Field(min_length=1, description="A tool failed; {what}, {error}.")
    topics: dict[str, str] = Field(default_factory=dict, description="Per tool: what it fetches, for {what}.")
    idle: list[Annotated[str, Placeholders("available")]] = Field(
        min_length=1, description="Nothing asked and nothing pending; {available}."
    )
    unavailable: list[Annotated[str, Placeholders("what", "available")]] = Field(
        min_length=1, description="The question needs a tool this workflow does not bind; {what}, {available}."
    )
    not_available: list[Annotated[str, Placeholders("what", "reason")]] = Field(
        default_factory=lambda: ["I can't report {what}: {reason}."],
        min_length=1,
        description="Facts the data cannot support (a result marks them unavailable); {what}, {reason}.",
    )
    sign_off: list[str] = Field(min_length=1, description="The merchant wraps up.")
    generic_advice: list[str] = Field(min_length=1, description="Used when no result suggests an action.")
    data_caveat: list[Annotated[str, Placeholders("problems")]] = Field(
        default_factory=lambda: ["Data-quality caveat: {problems}; treat these figures with care."],
        min_length=1,
        description="Added to an answer whose figures come from tables the data_quality view flags; {problems}.",
    )


class RuleCJTemplates(StrictModel):
    """The whole ``data/prompts/rule_cj.yaml``."""

    version: int = Field(ge=1)
    facts: dict[str, dict[str, FactTemplate]] = Field(description="Per tool: fact id -> template.")
    answers: dict[str, AnswerSpec] = Field(description="Per intent id or tool name: the facts that answer it.")
    advice: dict[str, list[AdviceRule]] = Field(default_factory=dict, description="Per tool: recommendation rules.")
    offers: dict[str, list[str]] = Field(description="Per stage id, tool or milestone: a proactive offer.")
    unanswerable: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per gap a tool result can name in `unavailable` (e.g. 'no subscription data'): the tools "
        "whose stages are then neither offered nor suggested.",
    )
    gap_advice: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per gap (as in `unanswerable`): the generic advice given instead of phrases.generic_advice.",
    )
    gap_calls: dict[str, list[GapCall]] = Field(
        default_factory=dict,
        description="Per gap (as in `unanswerable`): calls made as an equivalent the data supports instead "
        "(an orders-only shop's at-risk customers by their last order).",
    )
    companions: dict[str, list[str]] = Field(default_factory=dict)
    default_tools: list[str] = Field(min_length=1)
    time_ranges: list[TimeRangePhrase] = Field(default_factory=list)
    inherit_args: dict[str, list[str]] = Field(
        default_factory=dict, description="Per tool: arguments taken from its previous call when the wording sets none."
    )
    max_tools_per_ask: int = Field(default=2, ge=1, le=4)
    paired_intents: list[str] = Field(
        default_factory=list, description="Broad intents after which the next matching intent's tool is called too."
    )
    max_recommendations: int = Field(default=3, ge=1, le=6)
    recommend_intents: list[str] = Field(default_factory=list)
    pushback_intents: list[str] = Field(default_factory=list)
    closing_intents: list[str] = Field(default_factory=list)
    tone: Tone
    phrases: Phrases
    _answer_tools: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "fallbacks" in data:
            raise ValueError("'fallbacks' moved to data/intents.yaml (same format): move the section there")
        return data

    @model_validator(mode="after")
    def _tools_known(self) -> RuleCJTemplates:
        tools = [*self.facts, *self.advice, *self.companions, *self.default_tools, *self.inherit_args]
        tools += [t for p in self.time_ranges for t in p.tools or []]
        tools += [c for cs in self.companions.values() for c in cs]
        tools += [t for ts in self.unanswerable.values() for t in ts]
        tools += [t for gs in self.gap_calls.values() for g in gs for t in (g.tool, g.call.tool)]
        unknown = sorted({t for t in tools if t not in TOOL_NAMES})
        if unknown:
            raise ValueError(f"unknown tools {unknown}; valid tools: {', '.join(TOOL_NAMES)}")
        return self

    def callable_tools(self) -> set[str]:
        """Tools this file makes the rule-based CJ call on its own: defaults and companions."""
        return {*self.default_tools, *(c for cs in self.companions.values() for c in cs)}

    def answer_tool(self, key: str) -> str:
        """The tool whose facts an answer key uses (the key itself, or its intent's tool)."""
        return key if key in TOOL_NAMES else self._answer_tools[key]

    def validate_references(self, intents: IntentCatalog, source: str, callable_tools: Iterable[str]) -> None:
        """Check that answers name intents with a tool and facts of that tool, and that every tool
        the rule-based CJ can call (``callable_tools``) has a default answer.

        Also remembers each answer key's tool (:meth:`answer_tool`).
        """
        answer_tools: dict[str, str] = {}
        for key, spec in self.answers.items():
            if key in TOOL_NAMES:
                tool = key
            elif key not in intents:
                raise DataFileError(
                    f"{source}: field 'answers.{key}': neither a tool nor an intent id; "
                    f"use one of the tools or the intents of intents.yaml ({', '.join(intents.ids())})"
                )
            else:
                found = intents.get(key).tool
                if found is None:
                    raise DataFileError(
                        f"{source}: field 'answers.{key}': intent {key!r} has no tool, so no facts answer it; "
                        "remove the entry"
                    )
                tool = found
            answer_tools[key] = tool
            library = self.facts.get(tool, {})
            for fact in spec.facts:
                if fact not in library:
                    raise DataFileError(
                        f"{source}: field 'answers.{key}.facts': unknown fact {fact!r} of {tool}; "
                        f"valid: {', '.join(library) or '(none)'}"
                    )
        for tool in callable_tools:
            if tool not in self.answers:
                raise DataFileError(f"{source}: field 'answers': add a default answer for tool {tool!r}")
        self._answer_tools = answer_tools
