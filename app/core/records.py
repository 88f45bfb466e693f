"""Strict models of what is written to the universal core: entities, outcomes and their sources.

Every write goes through these models (``extra="forbid"``, ranges checked), so an import, a
generated world and a library caller all meet the same rules: scores 0-100, a data quality of 0-1,
money in minor units, a known lifecycle stage. Industry attributes are checked separately, against
the industry's JSON Schema (:mod:`app.core.industries`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ENTITY_TYPES", "LIFECYCLE_STAGES", "ATTRIBUTION_MODELS", "SourceRef", "EntityIn", "OutcomeIn"]

ENTITY_TYPES = ("individual", "household", "business", "property")
LIFECYCLE_STAGES = ("prospect", "new", "active", "at_risk", "churned")
ATTRIBUTION_MODELS = ("last_touch", "first_touch", "linear", "ml_model")

Score = float | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceRef(_Strict):
    """Where a core row came from: a record of a table of a source system (for ``core_lineage``)."""

    system: str = Field(min_length=1, max_length=100, description="The source system, e.g. telco_churn_export.")
    table: str = Field(min_length=1, max_length=100, description="The table or file of the source system.")
    record_id: str = Field(min_length=1, max_length=255, description="The record's id in that table.")


class EntityIn(_Strict):
    """One entity to write (its ``industry`` comes from the writer).

    Example:
        >>> EntityIn(entity_type="individual", external_id="C1", risk_score=40).lifecycle_stage is None
        True
    """

    entity_type: Literal["individual", "household", "business", "property"] = Field(description="What the entity is.")
    external_id: str = Field(min_length=1, max_length=255, description="The id in the source system.")
    segment_id: str | None = Field(default=None, max_length=100)
    subsegment_ids: list[str] | None = None
    cohort_id: str | None = Field(default=None, max_length=100)
    lifecycle_stage: Literal["prospect", "new", "active", "at_risk", "churned"] | None = None
    tenure_days: int | None = Field(default=None, ge=0, le=2**31 - 1)
    first_interaction_date: dt.date | None = None
    last_interaction_date: dt.date | None = None
    lifetime_value_cents: int | None = Field(default=None, ge=-(2**62), le=2**62, description="Minor units.")
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    current_value_score: Score = Field(default=None, ge=0, le=100)
    risk_score: Score = Field(default=None, ge=0, le=100)
    engagement_score: Score = Field(default=None, ge=0, le=100)
    responsiveness_score: Score = Field(default=None, ge=0, le=100)
    demographics: dict[str, Any] | None = None
    preferences: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = None
    is_active: bool = True
    data_quality_score: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _dates_in_order(self) -> EntityIn:
        first, last = self.first_interaction_date, self.last_interaction_date
        if first is not None and last is not None and last < first:
            raise ValueError(f"last_interaction_date {last} is before first_interaction_date {first}")
        return self


class OutcomeIn(_Strict):
    """One outcome of an entity (its type must be one of the entity's industry outcome types)."""

    outcome_type: str = Field(min_length=1, max_length=100)
    outcome_at: dt.datetime
    value_cents: int | None = Field(default=None, ge=-(2**62), le=2**62, description="Minor units.")
    outcome_count: int = Field(default=1, ge=1, le=2**31 - 1)
    attribution_model: Literal["last_touch", "first_touch", "linear", "ml_model"] | None = None
    attribution_weight: float = Field(default=1.0, ge=0, le=1)
    exposure_id: int | None = None
    meta: dict[str, Any] | None = None
