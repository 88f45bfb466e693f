"""Backtesting a run's prediction against realised outcomes.

The prediction comes from randomised experiments on one set of worlds; the outcomes are realised
on *other* worlds (held-out seeds), where the intervention is rolled out to the whole target
population and measured against the world's own future without it (exact, customer by customer:
:mod:`app.experiments.population`). A realised effect is therefore what a merchant would get from
launching the action in a business like the predicted ones, not another sample of the same worlds.

* **error**: predicted minus realised (the mean over the realisation worlds), per metric; the
  headline is the revenue uplift per customer in cents;
* **interval coverage**: the share of realised effects (each world, each metric) inside the run's
  95% prediction intervals (where one more world's effect should fall);
* **ranking accuracy**: the share of segment pairs the prediction orders as realised (revenue
  uplift per customer; a tie counts half), when the target holds 2+ segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from app.errors import InvalidArgumentError
from app.experiments.population import METRICS, PotentialOutcomes, WorldKey, potential_outcomes
from app.experiments.runner import ExperimentResult
from app.world.effects import InterventionEffects, load_intervention_effects

__all__ = ["Calibration", "backtest", "ranking_accuracy"]


@dataclass(frozen=True)
class Calibration:
    """A prediction against realised outcomes."""

    realised_source: str
    predicted: dict[str, float]
    realised: dict[str, float]
    per_world: dict[str, dict[str, float]]
    """World label -> metric -> realised effect."""
    interval_coverage: float
    ranking_accuracy: float | None

    @property
    def error(self) -> float:
        """Predicted minus realised revenue uplift per customer (cents)."""
        return self.predicted["revenue_cents"] - self.realised["revenue_cents"]

    @property
    def relative_error(self) -> float | None:
        """:attr:`error` over the realised uplift's size (``None`` when it is 0)."""
        realised = self.realised["revenue_cents"]
        return self.error / abs(realised) if realised else None

    def _metric(self, m: str) -> dict[str, float]:
        p, r = self.predicted[m], self.realised[m]
        return {"predicted": round(p, 6), "realised": round(r, 6), "error": round(p - r, 6)}

    def to_dict(self) -> dict[str, Any]:
        """Every figure, for JSON."""
        return {
            "realised_source": self.realised_source,
            "error": round(self.error, 4),
            "relative_error": None if self.relative_error is None else round(self.relative_error, 4),
            "ranking_accuracy": self.ranking_accuracy,
            "interval_coverage": round(self.interval_coverage, 4),
            "metrics": {m: self._metric(m) for m in METRICS},
            "per_world": {w: {m: round(v, 6) for m, v in e.items()} for w, e in self.per_world.items()},
        }


def ranking_accuracy(predicted: dict[str, float], realised: dict[str, float]) -> float | None:
    """Share of pairs of keys (in both) ordered alike by ``predicted`` and ``realised``; ties count half."""
    keys = sorted(set(predicted) & set(realised))
    pairs = list(combinations(keys, 2))
    if not pairs:
        return None
    score = 0.0
    for a, b in pairs:
        p, r = predicted[a] - predicted[b], realised[a] - realised[b]
        score += 0.5 if p == 0 or r == 0 else float((p > 0) == (r > 0))
    return round(score / len(pairs), 4)


def _segment_effects(outcomes: Sequence[PotentialOutcomes]) -> dict[str, float]:
    total: dict[str, float] = {}
    count: dict[str, int] = {}
    for po in outcomes:
        for seg, effect in zip(po.segments, po.effects("revenue_cents"), strict=True):
            total[seg] = total.get(seg, 0.0) + effect
            count[seg] = count.get(seg, 0) + 1
    return {s: total[s] / count[s] for s in total}


def backtest(result: ExperimentResult, worlds: Sequence[WorldKey], *,
             effects: InterventionEffects | None = None) -> Calibration:  # fmt: skip
    """Score ``result`` against the intervention rolled out on ``worlds`` (which it must not have used).

    Raises:
        InvalidArgumentError: no realisation worlds, one the prediction already used, or a run of
            fewer than 2 iterations (no prediction interval).
    """
    if not worlds:
        raise InvalidArgumentError("no worlds to realise the outcomes on; give held-out seeds")
    overlap = sorted(w.label() for w in set(worlds) & set(result.worlds))
    if overlap:
        raise InvalidArgumentError(f"the backtest must realise on worlds the prediction did not see; "
                                   f"{', '.join(overlap)} were used by the run")  # fmt: skip
    prediction = result.prediction
    if not prediction:
        raise InvalidArgumentError("a backtest needs a run of at least 2 iterations")
    effects = effects or load_intervention_effects()
    outcomes = [potential_outcomes(w, result.spec, effects) for w in worlds]
    per_world = {po.world.label(): {m: sum(po.effects(m)) / po.size for m in METRICS} for po in outcomes}
    realised = {m: sum(e[m] for e in per_world.values()) / len(per_world) for m in METRICS}
    inside = [prediction[m].contains(e[m]) for e in per_world.values() for m in METRICS]
    return Calibration(
        realised_source="rollout on held-out worlds: " + ", ".join(w.label() for w in worlds),
        predicted={m: i.estimate for m, i in result.pooled.items()},
        realised=realised,
        per_world=per_world,
        interval_coverage=sum(inside) / len(inside),
        ranking_accuracy=ranking_accuracy(result.segment_estimates(), _segment_effects(outcomes)),
    )
