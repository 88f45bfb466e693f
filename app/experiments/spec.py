"""The intervention an experiment tests: a strict model read from a YAML/JSON file or built from
command-line arguments, validated against the effect models and the segments before any world is
generated.

Example:
    >>> spec = InterventionSpec(name="discount", action="loyalty_discount", segments=["deal_seeker"])
    >>> spec.validate_names().horizon_days
    30
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.datafiles import format_validation_error, load_yaml
from app.errors import DataFileError, InvalidArgumentError, UnknownNameError
from app.world.behaviour import SEGMENTS
from app.world.effects import InterventionEffects, load_intervention_effects

__all__ = ["InterventionSpec", "load_intervention_spec", "segment_names", "MAX_HORIZON_DAYS"]

MAX_HORIZON_DAYS = 180
"""The longest measurement window: the world is generated this far past its today at most."""


def segment_names() -> list[str]:
    """The customer segments of generated worlds (``segment_hint``)."""
    return [s.hint for s in SEGMENTS]


class InterventionSpec(BaseModel):
    """One intervention: who gets which action, from when, measured over how long.

    ``action`` names an effect model of ``data/intervention_effects.yaml``: that model *is* the
    offer and its channel (``loyalty_discount`` is "15% off the next three boxes"; its
    ``cost`` is the cost per exposure unless ``cost_per_exposure`` overrides it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="intervention", min_length=1, max_length=100, description="A label for the run.")
    action: str = Field(min_length=1, description="An effect model name (data/intervention_effects.yaml).")
    segments: list[str] = Field(
        default_factory=list,
        description="Target segments (segment_hint); empty: every segment. The target is every subscriber of "
        "these segments active at the start day (subscribed before it, not cancelled before it).",
    )
    cost_per_exposure: float | None = Field(
        default=None, ge=0, le=10_000, description="Cost of treating one customer, in major units; default: the effect model's cost."
    )
    start_offset_days: int = Field(
        default=1, ge=-120, le=60,
        description="The day the action lands, counted from the world's today (1: tomorrow; negative: in the past).",
    )  # fmt: skip
    horizon_days: int = Field(default=30, ge=7, le=MAX_HORIZON_DAYS, description="Days measured from the start day.")
    holdout_share: float = Field(default=0.5, gt=0, lt=1, description="Share of the target population held out untreated.")

    def validate_names(self, effects: InterventionEffects | None = None) -> InterventionSpec:
        """Check the action and segments against the effect models; returns ``self``.

        Raises:
            UnknownNameError: an unknown action or segment, listing the known ones.
        """
        effects = effects or load_intervention_effects()
        if self.action not in effects.actions:
            raise UnknownNameError("action", self.action, sorted(effects.actions))
        known = segment_names()
        for s in self.segments:
            if s not in known:
                raise UnknownNameError("segment", s, known)
        if len(set(self.segments)) != len(self.segments):
            raise InvalidArgumentError(f"segments must not repeat, got {self.segments}")
        return self

    def cost_cents(self, effects: InterventionEffects) -> int:
        """The cost of one exposure in minor units."""
        cost = self.cost_per_exposure if self.cost_per_exposure is not None else effects.get(self.action).cost
        return round(cost * 100)


def load_intervention_spec(path: Path, **overrides: object) -> InterventionSpec:
    """Read a spec from a YAML or JSON file; ``overrides`` (non-``None`` values) replace its fields.

    Raises:
        DataFileError: unreadable or malformed file, naming the field.
    """
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise DataFileError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return InterventionSpec.model_validate(raw)
    except ValidationError as exc:
        raise DataFileError(format_validation_error(str(path), exc).replace("\n", "; ")) from None
