"""Answer templates of the rule-based CJ (``data/prompts/rule_cj.yaml``): the file's model.

Templates are rendered by :mod:`app.formats.templating` (placeholders ``{path|formatter}``,
number formats, conditions); this module validates the file: facts per tool, advice rules, time
phrases, tone, phrases and the cross-checks against intents and tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from app.analysis.artifacts import resolve
from app.errors import DataFileError
from app.formats.templating import check_condition, check_formatters, render, with_currency
from app.models import CommunicationStyle, Placeholders, RegexPattern, StressLevel, StrictModel
from app.tools import ALL_TOOLS as TOOL_NAMES

if TYPE_CHECKING:
    from app.intents import IntentCatalog

__all__ = [
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
        return check_formatters(v)

    def render(self, data: Any) -> str | None:
        """The rendered items joined, or ``None`` when the list is empty."""
        items = resolve(data, self.path)
        if not isinstance(items, list):
            return None
        currency = data.get("currency") if isinstance(data, Mapping) else None
        shown_items = items[self.start : self.start + self.limit]
        texts = [render(self.template, with_currency(item, currency)) for item in shown_items]
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
        return check_formatters(v)

    @field_validator("when", "alarm")
    @classmethod
    def _conditions(cls, v: str | None) -> str | None:
        return check_condition(v)


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
        return check_condition(v)

    @field_validator("text")
    @classmethod
    def _formatters(cls, v: str) -> str:
        return check_formatters(v)


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
    unavailable_aside: list[Annotated[str, Placeholders("what")]] = Field(
        default_factory=lambda: ["I can't see {what} here, so let's keep to today's plan."],
        min_length=1,
        description="The question needs a tool this workflow does not bind, and CJ goes on with the workflow; {what}.",
    )
    declined: list[Annotated[str, Placeholders("what")]] = Field(
        default_factory=lambda: ["Understood, I'll leave {what} for now; nothing was done."],
        min_length=1,
        description="The merchant declined an action CJ asked to run; {what}.",
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
    result_args: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict,
        description="Per tool: argument -> '<tool>.<path>' values of earlier results, the first found filling the "
        "argument (an alert id from the alerts listed); a call with such an argument unfilled is not made.",
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
