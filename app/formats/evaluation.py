"""The format of ``data/evaluation.yaml``: the evaluators' settings.

Thresholds, patterns and labels live in the data file so they can be tuned (and a saved batch
re-scored with ``cjsim eval``) without touching code; the format is in ``data/README.md``. The
settings are loaded with the rest of the data folder by :class:`~app.catalog.Catalog`.
"""

from __future__ import annotations

from pydantic import Field

from app.models import RegexPattern, StressLevel, StrictModel

__all__ = [
    "GroundingSettings",
    "MetricLabel",
    "ConsistencySettings",
    "StyleSettings",
    "GoalSettings",
    "JudgeSettings",
    "EvaluationSettings",
]


class GroundingSettings(StrictModel):
    fraction_fields: RegexPattern = Field(description="Fields holding fractions CJ may state as percentages.")
    customer_id_fields: list[str] = Field(min_length=1)
    customer_name_fields: list[str] = Field(min_length=1)
    ticket_id_fields: list[str] = Field(min_length=1)
    derive_relations: bool = Field(default=True, description="Accept differences, % changes and ratios.")


class MetricLabel(StrictModel):
    kinds: list[str] = Field(min_length=1, description="Claim kinds the label applies to (money, percent, ...).")
    patterns: list[RegexPattern] = Field(min_length=1)


class ConsistencySettings(StrictModel):
    max_gap: int = Field(ge=1, le=400, description="Most characters between a label and its number.")
    labels: dict[str, MetricLabel] = Field(min_length=1, description="Metric id -> how it is named in text.")
    windows: dict[str, list[RegexPattern]] = Field(description="Window id -> phrases that state it.")


class StyleSettings(StrictModel):
    leak_patterns: list[RegexPattern] = Field(min_length=1)
    max_words: dict[StressLevel, int] = Field(description="Longest reply in words per stress level.")
    min_words: int = Field(ge=0)
    unavailable_pattern: RegexPattern
    recommendation_intents: list[str]
    pushback_intents: list[str]
    key_args: list[str]
    answer_fields: dict[str, RegexPattern] = Field(default_factory=dict)


class GoalSettings(StrictModel):
    recommendation_intents: list[str]


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
