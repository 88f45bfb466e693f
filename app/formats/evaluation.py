"""The format of ``data/evaluation.yaml``: the evaluators' settings.

Thresholds, patterns and labels live in the data file so they can be tuned (and a saved batch
re-scored with ``cjsim eval``) without touching code; the format is in ``data/README.md``. The
settings are loaded with the rest of the data folder by :class:`~app.catalog.Catalog`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.models import RegexPattern, StressLevel, StrictModel

__all__ = [
    "PerUnit",
    "GroundingSettings",
    "MetricLabel",
    "OfferedAction",
    "ConsistencySettings",
    "StyleSettings",
    "GoalSettings",
    "JudgeSettings",
    "EvaluationSettings",
]


_SOURCE_KINDS = Literal["money", "percent", "hours", "points", "ratio", "per_day", "rating", "score", "days", "number"]


class PerUnit(StrictModel):
    """A declared per-unit derivation: ``numerator / denominator`` of one result's fields."""

    name: str = Field(description="What the ratio is (a metric id when it is one, e.g. arpu).")
    numerator: str = Field(description="Top-level field of the result (a trend's current value).")
    denominator: str
    kind: _SOURCE_KINDS = Field(description="Kind of the result (money for ARPU).")


class GroundingSettings(StrictModel):
    """How claims are matched to tool results (``grounding`` of ``data/evaluation.yaml``)."""

    fraction_fields: RegexPattern = Field(description="Fields holding fractions CJ may state as percentages.")
    field_kinds: dict[_SOURCE_KINDS, RegexPattern] = Field(
        description="Source kind -> regex on the field name; first match wins, other fields are counts."
    )
    clause_continues: RegexPattern = Field(
        description="What after a comma continues a metric's statement (else the comma ends its clause)."
    )
    stated_window: RegexPattern = Field(
        description="A window stated in a sentence, with groups n and unit ('over the last 30 days', '(7d)')."
    )
    question_windows: dict[str, list[RegexPattern]] = Field(
        default_factory=dict,
        description="Window -> phrases of a merchant question that ask for it; results fetched for it must cover it.",
    )
    points_nouns: list[str] = Field(description="Words after a number that make it a percentage-point change.")
    per_unit: list[PerUnit] = Field(default_factory=list, description="Declared per-unit derivations.")
    customer_id_fields: list[str] = Field(min_length=1)
    customer_name_fields: list[str] = Field(min_length=1)
    ticket_id_fields: list[str] = Field(min_length=1)
    derive_relations: bool = Field(default=True, description="Accept the declared derivations.")


class MetricLabel(StrictModel):
    kinds: list[str] = Field(min_length=1, description="Claim kinds the label applies to (money, percent, ...).")
    patterns: list[RegexPattern] = Field(min_length=1)
    fields: list[RegexPattern] = Field(
        default_factory=list, description="Field paths (view-relative) holding the metric; grounding checks them."
    )
    after: list[RegexPattern] = Field(
        default_factory=list,
        description="How the metric is named right after its number ('788 subscribers cancelled'); grounding only.",
    )


class ConsistencySettings(StrictModel):
    max_gap: int = Field(ge=1, le=400, description="Most characters between a label and its number.")
    labels: dict[str, MetricLabel] = Field(min_length=1, description="Metric id -> how it is named in text.")
    windows: dict[str, list[RegexPattern]] = Field(description="Window id -> phrases that state it.")


class OfferedAction(StrictModel):
    """Something CJ may offer to do, and the tools that can do it."""

    pattern: RegexPattern = Field(description="How the action is named in an offer.")
    tools: list[str] = Field(description="Tools or actions that do it; empty: none of CJ's tools can.")


class StyleSettings(StrictModel):
    leak_patterns: list[RegexPattern] = Field(min_length=1)
    offer_pattern: RegexPattern = Field(description="A sentence in which CJ offers to do something.")
    actions: dict[str, OfferedAction] = Field(
        default_factory=dict, description="Actions an offer may name; offered, one of its tools must be bound."
    )
    max_words: dict[StressLevel, int] = Field(description="Longest reply in words per stress level.")
    min_words: int = Field(ge=0)
    unavailable_pattern: RegexPattern
    recommendation_intents: list[str]
    pushback_intents: list[str]
    key_args: list[str]
    answer_fields: dict[str, RegexPattern] = Field(default_factory=dict)


class GoalSettings(StrictModel):
    recommendation_intents: list[str]
    flat_pattern: RegexPattern = Field(description="Saying a value did not change (answers a change goal whose trend is flat).")


class JudgeSettings(StrictModel):
    pass_threshold: float = Field(ge=0.0, le=1.0)
    max_transcript_chars: int = Field(ge=500, description="Budget of the conversation text sent to the judge.")
    tool_result_chars: int = Field(ge=50, description="Budget of each tool result's text within it.")
    criteria: list[str] = Field(min_length=1, description="Criteria of rubrics.yaml graded by default.")


class EvaluationSettings(StrictModel):
    """The whole ``data/evaluation.yaml``."""

    version: int = Field(ge=1)
    grounding: GroundingSettings
    consistency: ConsistencySettings
    style: StyleSettings
    goals: GoalSettings
    judge: JudgeSettings
