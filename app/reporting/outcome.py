"""What a batch's interventions did, across seeds: the ``outcome`` evaluator's figures pooled per
seed (one generated world each), with a percentile-bootstrap interval over the per-seed values
(:func:`app.reporting.stats.bootstrap_interval`).

Per seed, over the conversations of that seed whose interventions were measured: customers kept
/ interventions measured (``kept_share``) and revenue saved / cost (``revenue_per_cost``). A
seed's conversations share one world, so the seed, not the conversation, is the unit the interval
is taken over. Transcripts without a measured outcome are left out (counted in ``skipped``).

Example:
    >>> outcome_interval([]).seeds
    0
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.evaluation.outcome import measured_outcome
from app.reporting.stats import bootstrap_interval
from app.transcript import Transcript

__all__ = ["MetricInterval", "OutcomeInterval", "outcome_interval"]


@dataclass(frozen=True)
class MetricInterval:
    """The mean of per-seed values with its interval (None without values)."""

    values: tuple[float, ...]
    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class OutcomeInterval:
    """A batch's measured outcomes, per seed and pooled."""

    seeds: int
    skipped: int = 0
    measured: int = 0
    customers_kept: int = 0
    revenue_saved_cents: int = 0
    cost_cents: int = 0
    confidence: float = 0.95
    kept_share: MetricInterval = field(default_factory=lambda: MetricInterval((), None, None, None))
    revenue_per_cost: MetricInterval = field(default_factory=lambda: MetricInterval((), None, None, None))


def _interval(values: list[float], confidence: float) -> MetricInterval:
    if not values:
        return MetricInterval((), None, None, None)
    low, high = bootstrap_interval(values, confidence)
    return MetricInterval(tuple(values), round(sum(values) / len(values), 4), round(low, 4), round(high, 4))


def outcome_interval(transcripts: Iterable[Transcript], confidence: float = 0.95) -> OutcomeInterval:
    """Pool the measured outcomes of ``transcripts`` per seed and take the interval over seeds."""
    per_seed: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # measured, kept, saved, cost
    skipped = 0
    for t in transcripts:
        summary = measured_outcome(t)
        if summary is None:
            skipped += 1
            continue
        acc = per_seed[t.seed]
        acc[0] += int(summary["measured"])
        acc[1] += int(summary["customers_kept"])
        acc[2] += int(summary["revenue_saved_cents"])
        acc[3] += int(summary["cost_cents"])
    seeds = sorted(per_seed)
    kept = [per_seed[s][1] / per_seed[s][0] for s in seeds]
    per_cost = [per_seed[s][2] / per_seed[s][3] for s in seeds if per_seed[s][3]]
    return OutcomeInterval(
        seeds=len(seeds), skipped=skipped, measured=sum(v[0] for v in per_seed.values()),
        customers_kept=sum(v[1] for v in per_seed.values()), revenue_saved_cents=sum(v[2] for v in per_seed.values()),
        cost_cents=sum(v[3] for v in per_seed.values()), confidence=confidence,
        kept_share=_interval(kept, confidence), revenue_per_cost=_interval(per_cost, confidence),
    )  # fmt: skip
