"""Journey playbooks (``data/playbooks.yaml``): reusable retention strategies for a journey stage.

A playbook names the stage and segments it is for, the risk above which it applies, the actions
it takes (effect models of ``data/intervention_effects.yaml``, checked here), whether those need
a human's approval, and what it is expected to cost and return. :func:`load_playbooks` validates
the file strictly; a playbook whose action has no effect model is named with the fix.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.datafiles import data_dir, load_model_once
from app.errors import DataFileError, InvalidArgumentError
from app.world.behaviour import SEGMENTS
from app.world.effects import InterventionEffects, load_intervention_effects

__all__ = ["JOURNEY_STAGES", "JourneyStage", "Playbook", "Playbooks", "load_playbooks", "PLAYBOOKS_FILE"]

PLAYBOOKS_FILE = "playbooks.yaml"
JourneyStage = Literal["onboarding", "engagement", "support", "retention", "churn_risk", "churned"]
JOURNEY_STAGES: tuple[JourneyStage, ...] = ("onboarding", "engagement", "support", "retention", "churn_risk", "churned")
PlaybookStatus = Literal["active", "retired", "draft"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Playbook(_Strict):
    """One playbook (fields of seed 000's ``journey_playbooks``)."""

    playbook_id: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    name: str = Field(min_length=1)
    journey_stage: JourneyStage
    eligible_segments: list[str] = Field(min_length=1)
    risk_threshold: float = Field(ge=0, le=1)
    default_actions: list[str] = Field(min_length=1)
    approval_required: bool
    avg_cost_estimate: float = Field(ge=0, description="per customer, in the merchant's currency")
    expected_value_range: tuple[float, float]
    created_at: dt.date
    status: PlaybookStatus

    @model_validator(mode="after")
    def _check(self) -> Playbook:
        known = {s.hint for s in SEGMENTS}
        unknown = sorted(set(self.eligible_segments) - known)
        if unknown:
            raise ValueError(f"eligible_segments: unknown {unknown}; segments are {sorted(known)}")
        lo, hi = self.expected_value_range
        if not 0 <= lo <= hi:
            raise ValueError(f"expected_value_range must be [low, high] with 0 <= low <= high, got [{lo}, {hi}]")
        return self

    def applies_to(self, stage: str, segment: str, risk: float) -> bool:
        """Whether a customer in ``stage`` and ``segment`` at ``risk`` is this (active) playbook's."""
        return (self.status == "active" and stage == self.journey_stage and segment in self.eligible_segments
                and risk >= self.risk_threshold)  # fmt: skip


class Playbooks(_Strict):
    """Every playbook, in file order (the order matching prefers)."""

    version: int = Field(ge=1)
    playbooks: list[Playbook] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Playbooks:
        seen: set[str] = set()
        for p in self.playbooks:
            if p.playbook_id in seen:
                raise ValueError(f"playbook_id {p.playbook_id!r} appears twice; ids must be unique")
            seen.add(p.playbook_id)
        return self

    def get(self, playbook_id: str) -> Playbook:
        """The playbook of ``playbook_id``; an unknown id is refused listing the known ones."""
        for p in self.playbooks:
            if p.playbook_id == playbook_id:
                return p
        raise InvalidArgumentError(
            f"unknown playbook {playbook_id!r}; choose one of {', '.join(p.playbook_id for p in self.playbooks)}"
        )


def load_playbooks(path: Path | None = None, effects: InterventionEffects | None = None) -> Playbooks:
    """Read and validate the playbooks (default: ``playbooks.yaml`` in the data folder).

    Every default action must have an effect model in ``effects`` (default: the data folder's).

    Raises:
        DataFileError: unreadable or malformed file, or an action without an effect model.
    """
    path = path or data_dir() / PLAYBOOKS_FILE
    playbooks = load_model_once(path, Playbooks)
    effects = effects or load_intervention_effects()
    for k, p in enumerate(playbooks.playbooks):
        for action in p.default_actions:
            if action not in effects.actions:
                raise DataFileError(
                    f"{path}: field 'playbooks.{k}.default_actions': action {action!r} has no effect model; "
                    f"use one of {', '.join(sorted(effects.actions))} or add it to intervention_effects.yaml"
                )
    return playbooks
