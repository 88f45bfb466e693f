"""The health settings file (``data/health.yaml``): component weights and rules, alert thresholds and
next-best actions, and the monitoring thresholds.

:func:`load_health_settings` validates the file strictly: unknown fields, weights that are not
positive, severities out of order and thresholds outside [0, 1] are errors naming the field.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.datafiles import data_dir, load_model_once

__all__ = [
    "COMPONENTS",
    "Component",
    "MeanKind",
    "Severity",
    "HealthSettings",
    "load_health_settings",
    "SETTINGS_FILE",
]

SETTINGS_FILE = "health.yaml"
Component = Literal["usage", "engagement", "support", "financial", "relationship"]
COMPONENTS: tuple[Component, ...] = ("usage", "engagement", "support", "financial", "relationship")
MeanKind = Literal["arithmetic", "geometric", "harmonic"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Penalty = Field(ge=0, le=1, description="the factor each occurrence multiplies the component by is 1 - this")


class Weights(_Strict):
    """Weight of each component in the overall score (positive; they need not sum to 1)."""

    usage: float = Field(gt=0)
    engagement: float = Field(gt=0)
    support: float = Field(gt=0)
    financial: float = Field(gt=0)
    relationship: float = Field(gt=0)

    def of(self, component: str) -> float:
        return float(getattr(self, component))

    @property
    def total(self) -> float:
        return sum(self.of(c) for c in COMPONENTS)


class UsageRules(_Strict):
    window_days: int = Field(ge=1, le=365, description="skips and deliveries counted in (date - this, date]")
    active_days: int = Field(ge=0, description="recency is 1 while the last charged order is at most this old")
    lapsed_days: int = Field(ge=1, description="recency falls linearly to 0 at this age")
    recency_share: float = Field(ge=0, le=1, description="weight of recency against the delivered share")

    @model_validator(mode="after")
    def _ordered(self) -> UsageRules:
        if self.lapsed_days <= self.active_days:
            raise ValueError("lapsed_days must be greater than active_days")
        return self


class EngagementRules(_Strict):
    window_days: int = Field(ge=1, le=365, description="engagement_drop signals detected in (date - this, date]")
    onset_weight: float = Field(ge=0, le=1, description="the window's first drop multiplies engagement by "
                                "1 - this x strength x fade")  # fmt: skip
    later_weight: float = Field(ge=0, le=1, description="each later drop multiplies it by 1 - this x strength x fade")
    half_life_days: float = Field(gt=0, description="a drop's fade halves every this many days of age")
    strength_share: float = Field(ge=0, le=1, description="how much a drop's recorded strength scales it "
                                  "(0: every drop counts fully)")  # fmt: skip


class SupportRules(_Strict):
    window_days: int = Field(ge=1, le=365, description="tickets created in the window")
    negative: float = _Penalty
    recent_days: int = Field(default=30, ge=1, le=365, description="a negative ticket younger than this many days "
                             "counts fully")  # fmt: skip
    stale_share: float = Field(default=1.0, ge=0, le=1, description="share of the negative penalty an older ticket of "
                               "the window counts (1: every one counts fully)")  # fmt: skip
    unresolved: float = _Penalty
    low_csat: float = _Penalty
    low_csat_rating: int = Field(ge=1, le=5, description="a rating at most this is low")
    slow_response: float = _Penalty
    slow_response_hours: float = Field(gt=0, description="a first response later than this is slow")


class FinancialRules(_Strict):
    window_days: int = Field(ge=1, le=365, description="failed payments and refunds in the window")
    failed_payment: float = _Penalty
    recent_days: int = Field(default=30, ge=1, le=365, description="a failed payment younger than this many days "
                             "counts fully")  # fmt: skip
    stale_share: float = Field(default=1.0, ge=0, le=1, description="share of the failed-payment penalty an older one "
                               "of the window counts (1: every one counts fully)")  # fmt: skip
    refund: float = _Penalty


class RelationshipRules(_Strict):
    full_tenure_days: int = Field(ge=1, description="tenure earning full credit")
    floor: float = Field(ge=0, le=1, description="relationship of a brand-new subscriber")
    downgrade: float = _Penalty
    earlier_cancellation: float = _Penalty


Severity = Literal["critical", "high", "medium", "low"]


class SeverityRule(_Strict):
    name: Severity
    above: float = Field(ge=0, lt=1, description="risk strictly above this gets the severity")
    urgency: str = Field(min_length=1)


class UpsellRule(_Strict):
    min_overall: float = Field(ge=0, le=1, description="overall score at least this")
    min_tenure_days: int = Field(ge=0, description="subscribed at least this long")
    severity: Severity
    urgency: str = Field(min_length=1)


class AlertRules(_Strict):
    severities: list[SeverityRule] = Field(min_length=1, description="highest threshold first")
    usage_decline_below: float = Field(ge=0, le=1)
    upsell: UpsellRule
    actions: dict[str, list[str]] = Field(description="risk factor or opportunity -> next-best actions")
    default_actions: list[str] = Field(min_length=1, description="actions of an alert no factor names")

    @model_validator(mode="after")
    def _descending(self) -> AlertRules:
        thresholds = [s.above for s in self.severities]
        if thresholds != sorted(thresholds, reverse=True) or len(set(thresholds)) != len(thresholds):
            raise ValueError("severities must be listed from the highest `above` to the lowest, without repeats")
        return self

    def severity_of(self, risk: float) -> SeverityRule | None:
        """The first severity whose threshold the risk exceeds, or None (no alert)."""
        return next((s for s in self.severities if risk > s.above), None)


class MonitoringRules(_Strict):
    horizon_days: int = Field(ge=1, le=120, description="an alert is right if the customer leaves within this")
    min_accuracy: float = Field(ge=0, le=1, description="measured precision below this: retraining due")
    psi_threshold: float = Field(gt=0, description="population stability index above this: inputs drifted")
    psi_bins: list[float] = Field(min_length=3, description="bin edges over [0, 1], ascending")
    baseline_days: int = Field(ge=1, le=90, description="movement and drift compare with this many days before")

    @model_validator(mode="after")
    def _bins(self) -> MonitoringRules:
        b = self.psi_bins
        if b[0] != 0 or b[-1] != 1 or any(x >= y for x, y in pairwise(b)):
            raise ValueError("psi_bins must ascend strictly from 0 to 1")
        return self


class HealthSettings(_Strict):
    """``data/health.yaml``."""

    model_version: str = Field(min_length=1, description="named in every score and alert")
    mean: MeanKind = Field(description="how available components combine: arithmetic, geometric or harmonic")
    component_floor: float = Field(default=0.0, ge=0, lt=1, description="in a geometric or harmonic mean a component below this "
                                   "counts as this, so one collapsed component does not tie every such customer "
                                   "at overall 0")  # fmt: skip
    weights: Weights
    usage: UsageRules
    engagement: EngagementRules
    support: SupportRules
    financial: FinancialRules
    relationship: RelationshipRules
    alerts: AlertRules
    monitoring: MonitoringRules

    @property
    def history_days(self) -> int:
        """The longest window any component reads."""
        return max(self.usage.window_days, self.engagement.window_days, self.support.window_days,
                   self.financial.window_days, self.usage.lapsed_days)  # fmt: skip


def load_health_settings(path: Path | None = None) -> HealthSettings:
    """Read and validate the settings (default: ``health.yaml`` in the data folder).

    Raises:
        DataFileError: unreadable or malformed file, naming the field and the fix.
    """
    return load_model_once(path or data_dir() / SETTINGS_FILE, HealthSettings)
