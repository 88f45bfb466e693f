"""The intervention effect models (``data/intervention_effects.yaml``): what each retention action
does to a generated world's subscriber, per segment, how fast it fades, and what it costs.

:func:`load_intervention_effects` validates the file strictly; :meth:`EffectModel.effect_at`
is the one place an effect's size on a given day is computed.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.datafiles import data_dir, load_model_once
from app.errors import InvalidArgumentError
from app.world.behaviour import SEGMENTS

__all__ = ["EffectModel", "InterventionEffects", "load_intervention_effects", "EFFECTS_FILE"]

EFFECTS_FILE = "intervention_effects.yaml"
_Share = Field(ge=0, le=1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EffectModel(_Strict):
    """One action's effect on a treated subscriber (see the data file's header)."""

    description: str = Field(min_length=1)
    cost: float = Field(ge=0, description="per treated subscriber, in the merchant's currency")
    churn_effect: dict[str, float] = Field(description="relative cut of the daily cancellation hazard, by segment")
    order_effect: float = _Share
    half_life_days: float = Field(gt=0)
    heterogeneity: float = _Share
    offer_percent: float | None = Field(
        default=None, gt=0, le=100,
        description="a discount offer's percentage off; such an offer can be simulated at another percentage "
        "(the simulate_intervention action scales its effects and cost)",
    )  # fmt: skip

    @model_validator(mode="after")
    def _segments(self) -> EffectModel:
        known = {s.hint for s in SEGMENTS}
        if set(self.churn_effect) != known:
            missing, unknown = sorted(known - set(self.churn_effect)), sorted(set(self.churn_effect) - known)
            raise ValueError(f"churn_effect needs exactly the segments {sorted(known)} (missing {missing}, unknown {unknown})")
        bad = {k: v for k, v in self.churn_effect.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(f"churn_effect values must be in [0, 1], got {bad}")
        return self

    def fade(self, days_since: int) -> float:
        """The share of the effect left ``days_since`` days after the action landed."""
        return 0.5 ** (days_since / self.half_life_days)

    def personal(self, base: float, u: float) -> float:
        """A subscriber's own effect: ``base x (1 + heterogeneity x (2u - 1))`` capped to [0, 1]."""
        return min(1.0, max(0.0, base * (1.0 + self.heterogeneity * (2.0 * u - 1.0))))


class InterventionEffects(_Strict):
    """The effect model of every action."""

    version: int = Field(ge=1)
    actions: dict[str, EffectModel] = Field(min_length=1)

    def get(self, action: str) -> EffectModel:
        """The model of ``action``; an unknown name is refused listing the known ones."""
        model = self.actions.get(action)
        if model is None:
            raise InvalidArgumentError(f"unknown action {action!r}; choose one of {', '.join(sorted(self.actions))}")
        return model


def load_intervention_effects(path: Path | None = None) -> InterventionEffects:
    """Read and validate the effect models (default: ``intervention_effects.yaml`` in the data folder).

    Raises:
        DataFileError: unreadable or malformed file, naming the field and the fix.
    """
    return load_model_once(path or data_dir() / EFFECTS_FILE, InterventionEffects)
