"""How the merchant context (business stage, stress level) shapes a generated world.

The two small tables below are the whole effect of :class:`~app.models.MerchantContext` on the
generator; ``docs/scenarios.md`` prints them for users.

Business stage (:data:`STAGE_EFFECTS`)
    * ``age_days`` -- how old the business is at ``as_of``. It caps the tenure of the
      subscribers who are already active when the simulation starts, so it sets how much
      order history (and lifetime revenue) they carry.
    * ``monthly_growth`` -- net monthly growth of active subscribers in baseline operation. The
      baseline arrival rate is ``active x (baseline churn hazard + monthly_growth / 30)`` per day.
    * ``churn_multiplier`` -- multiplies the persona's monthly churn rate in every phase.

Stress level (:data:`STRESS_EFFECTS`)
    * ``support_strain`` -- multiplies first-response and resolution times, and the share of
      tickets raised as urgent.
    * ``csat_shift`` -- added to the mean CSAT rating (a strained team rates a little lower).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from app.errors import InvalidArgumentError
from app.models import BusinessStage, MerchantContext, Persona, Scenario, StressLevel

__all__ = ["StageEffect", "StressEffect", "STAGE_EFFECTS", "STRESS_EFFECTS", "ContextEffects", "context_effects", "resolve_context"]


@dataclass(frozen=True)
class StageEffect:
    """What a business stage does to the generated world (see the module docstring)."""

    age_days: int
    monthly_growth: float
    churn_multiplier: float


@dataclass(frozen=True)
class StressEffect:
    """What a stress level does to the generated world (see the module docstring)."""

    support_strain: float
    csat_shift: float


STAGE_EFFECTS: Mapping[BusinessStage, StageEffect] = MappingProxyType(
    {
        BusinessStage.startup: StageEffect(age_days=300, monthly_growth=0.06, churn_multiplier=1.25),
        BusinessStage.growth: StageEffect(age_days=900, monthly_growth=0.04, churn_multiplier=1.0),
        BusinessStage.mature: StageEffect(age_days=2200, monthly_growth=0.01, churn_multiplier=0.85),
        BusinessStage.declining: StageEffect(age_days=3000, monthly_growth=-0.02, churn_multiplier=1.15),
    }
)
"""Business stage -> effect."""

STRESS_EFFECTS: Mapping[StressLevel, StressEffect] = MappingProxyType(
    {
        StressLevel.low: StressEffect(support_strain=0.85, csat_shift=0.05),
        StressLevel.moderate: StressEffect(support_strain=1.0, csat_shift=0.0),
        StressLevel.high: StressEffect(support_strain=1.15, csat_shift=-0.05),
        StressLevel.critical: StressEffect(support_strain=1.35, csat_shift=-0.15),
    }
)
"""Stress level -> effect."""


@dataclass(frozen=True)
class ContextEffects:
    """The stage and stress effects of one merchant context."""

    stage: StageEffect
    stress: StressEffect


def context_effects(context: MerchantContext) -> ContextEffects:
    """Look up the effects of ``context``.

    Example:
        >>> from app.models import MerchantContext
        >>> context_effects(MerchantContext(business_stage="startup")).stage.monthly_growth
        0.06
    """
    return ContextEffects(STAGE_EFFECTS[context.business_stage], STRESS_EFFECTS[context.stress_level])


def resolve_context(
    persona: Persona, scenario: Scenario, merchant_context: MerchantContext | dict[str, Any] | None = None
) -> MerchantContext:
    """Merchant context with defaults: the persona's business stage and the scenario's stress level."""
    base = {"business_stage": persona.default_business_stage, "stress_level": scenario.stress_level}
    if isinstance(merchant_context, MerchantContext):
        return merchant_context
    given = {k: v for k, v in (merchant_context or {}).items() if v is not None}
    unknown = set(given) - set(MerchantContext.model_fields)
    if unknown:
        raise InvalidArgumentError(
            f"unknown merchant_context keys {sorted(unknown)}; valid keys: {sorted(MerchantContext.model_fields)}"
        )
    try:
        return MerchantContext(**{**base, **given})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidArgumentError(f"bad merchant_context {err['loc'][0]!r}: {err['msg']}") from None
