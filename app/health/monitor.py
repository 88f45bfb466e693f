"""Monitoring the health model: input drift (population stability index of each component against
``baseline_days`` before) and the accuracy CSMs report in their feedback. Either past its threshold
in ``monitoring`` of ``data/health.yaml`` makes retraining due.

PSI of a component = sum over the bins of ``(p - q) x ln(p / q)``, where ``p`` and ``q`` are the
shares of customers (with the component available) in each bin now and at the baseline date; an
empty bin counts as a share of 0.0001 so the logarithm stays finite.
"""

from __future__ import annotations

import datetime as dt
import math

from pydantic import BaseModel, Field

from app.health.feedback import FeedbackSummary
from app.health.frame import HealthSummary
from app.health.settings import COMPONENTS, HealthSettings

__all__ = ["psi", "Drift", "Monitoring", "monitoring"]

_EMPTY_SHARE = 1e-4


def psi(now: list[int], before: list[int]) -> float | None:
    """Population stability index of two bin counts (None when either side is empty)."""
    n, m = sum(now), sum(before)
    if not n or not m:
        return None
    total = 0.0
    for a, b in zip(now, before, strict=True):
        p, q = max(a / n, _EMPTY_SHARE), max(b / m, _EMPTY_SHARE)
        total += (p - q) * math.log(p / q)
    return round(total, 4)


class Drift(BaseModel):
    component: str
    psi: float | None = Field(description="null when the component is unavailable at either date")
    drifted: bool


class Monitoring(BaseModel):
    """Whether the model still fits: drift of its inputs and the accuracy reported in feedback."""

    baseline_date: dt.date | None
    psi_threshold: float
    drift: list[Drift]
    rated_alerts: int
    reported_precision: float | None = Field(description="from feedback: accurate 1, somewhat 0.5, inaccurate 0")
    min_accuracy: float
    retraining_due: bool
    reasons: list[str]

    def to_text(self) -> str:
        drift = ", ".join(f"{d.component} {d.psi:.3f}" for d in self.drift if d.psi is not None) or "not measurable"
        acc = f"{self.reported_precision:.0%} of {self.rated_alerts} rated alerts" if self.reported_precision is not None \
            else "no rated alerts yet"  # fmt: skip
        head = "retraining due: " + "; ".join(self.reasons) if self.retraining_due else "model fits (no retraining due)"
        return f"Monitoring: {head}. PSI vs {self.baseline_date or 'n/a'}: {drift} (threshold {self.psi_threshold}); " \
               f"reported accuracy {acc} (minimum {self.min_accuracy:.0%})."  # fmt: skip


def monitoring(now: HealthSummary, before: HealthSummary | None, baseline_date: dt.date | None,
               feedback: list[FeedbackSummary], s: HealthSettings) -> Monitoring:  # fmt: skip
    """Drift of every component between the summaries ``before`` and ``now`` (made with the settings'
    ``psi_bins``) and the precision reported in feedback."""
    m = s.monitoring
    drift = []
    for c in (*COMPONENTS, "overall"):
        value = psi(now.bands[c], before.bands[c]) if before is not None else None
        drift.append(Drift(component=c, psi=value, drifted=value is not None and value > m.psi_threshold))
    rated = sum(f.rated_accuracy for f in feedback)
    credit = sum((f.precision or 0.0) * f.rated_accuracy for f in feedback)
    precision = round(credit / rated, 4) if rated else None
    reasons = [f"{d.component} inputs drifted (PSI {d.psi:.3f} > {m.psi_threshold})" for d in drift if d.drifted]
    if precision is not None and precision < m.min_accuracy:
        reasons.append(f"reported accuracy {precision:.0%} < {m.min_accuracy:.0%}")
    return Monitoring(
        baseline_date=baseline_date if before is not None else None,
        psi_threshold=m.psi_threshold,
        drift=drift,
        rated_alerts=rated,
        reported_precision=precision,
        min_accuracy=m.min_accuracy,
        retraining_due=bool(reasons),
        reasons=reasons,
    )
