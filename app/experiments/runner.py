"""Running an intervention as a randomised experiment over generated worlds.

Each iteration takes one world of the grid (scenarios x personas x seeds, in turn), randomises the
world's target population into treated and holdout with a seeded generator (complete
randomisation: exactly ``round(n x holdout_share)`` held out), observes each customer's treated or
untreated outcome, and estimates the uplift as the difference in means with a Neyman (Welch) 95%
interval. Because both outcomes of every target customer are known
(:mod:`app.experiments.population`), every iteration also knows its truth: the exact average
effect over its target population (the sample average treatment effect, SATE). Across iterations
the estimates are averaged with a Student t interval; their spread also gives a prediction
interval for one more world like these. docs/experiments.md explains the estimands.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.errors import InvalidArgumentError
from app.execution import Executor, LocalExecutor
from app.experiments.population import METRICS, PotentialOutcomes, WorldKey, potential_outcomes
from app.experiments.spec import InterventionSpec
from app.experiments.stats import Interval, diff_in_means, mean_interval, prediction_interval
from app.world.effects import InterventionEffects, load_intervention_effects

__all__ = ["IterationResult", "ExperimentResult", "run_experiment", "world_grid", "assign", "MAX_ITERATIONS"]

MAX_ITERATIONS = 10_000
"""No run may ask for more iterations than this."""


@dataclass(frozen=True)
class IterationResult:
    """One randomised experiment on one world: estimates, truths, and per-segment estimates."""

    index: int
    world: WorldKey
    treated: int
    holdout: int
    estimates: dict[str, Interval]
    """Metric -> difference in means (treated minus holdout) with its 95% interval."""
    truth: dict[str, float]
    """Metric -> the exact average effect over the whole target population (SATE)."""
    by_segment: dict[str, dict[str, float]] = field(default_factory=dict)
    """Segment -> metric -> the segment's difference in means (segments with 2+ customers per arm)."""

    def covered(self, metric: str) -> bool:
        """Whether the interval of ``metric`` contains the iteration's true effect."""
        return self.estimates[metric].contains(self.truth[metric])


@dataclass(frozen=True)
class ExperimentResult:
    """Every iteration and what they say together."""

    spec: InterventionSpec
    worlds: tuple[WorldKey, ...]
    iterations: tuple[IterationResult, ...]
    cost_cents: int
    """Cost of one exposure."""
    target_sizes: dict[str, int]
    """World label -> target population size."""
    duration_s: float
    simulate_s: float
    """Of which generating worlds and re-simulating the target populations."""

    @property
    def pooled(self) -> dict[str, Interval]:
        """Metric -> mean of the iterations' estimates with a t interval (estimand: the mean SATE)."""
        return {m: mean_interval([it.estimates[m].estimate for it in self.iterations]) for m in METRICS}

    @property
    def prediction(self) -> dict[str, Interval]:
        """Metric -> where the effect in one more world like these should fall (95%); needs 2+ iterations."""
        if len(self.iterations) < 2:
            return {}
        return {m: prediction_interval([it.estimates[m].estimate for it in self.iterations]) for m in METRICS}

    @property
    def true_mean(self) -> dict[str, float]:
        """Metric -> mean of the iterations' true effects (what :attr:`pooled` estimates)."""
        return {m: sum(it.truth[m] for it in self.iterations) / len(self.iterations) for m in METRICS}

    @property
    def coverage(self) -> dict[str, float]:
        """Metric -> share of iterations whose 95% interval contains their true effect."""
        return {m: sum(it.covered(m) for it in self.iterations) / len(self.iterations) for m in METRICS}

    def segment_estimates(self) -> dict[str, float]:
        """Segment -> mean revenue uplift per customer (cents) over the iterations that estimated it."""
        acc: dict[str, list[float]] = {}
        for it in self.iterations:
            for seg, est in it.by_segment.items():
                acc.setdefault(seg, []).append(est["revenue_cents"])
        return {s: sum(v) / len(v) for s, v in sorted(acc.items())}

    def predicted(self) -> dict[str, Any]:
        """The predicted outcomes (money in minor units) for the store and the CLI."""
        pooled = self.pooled
        revenue = pooled["revenue_cents"]
        mean_target = sum(self.target_sizes.values()) / len(self.target_sizes)
        out: dict[str, Any] = {
            "retention_uplift": round(pooled["retained"].estimate, 6),
            "conversion_uplift": round(pooled["converted"].estimate, 6),
            "revenue_uplift_per_customer_cents": round(revenue.estimate, 2),
            "cost_per_customer_cents": self.cost_cents,
            "net_value_per_customer_cents": round(revenue.estimate - self.cost_cents, 2),
            "roi": round(revenue.estimate / self.cost_cents, 4) if self.cost_cents else None,
            "mean_target_size": round(mean_target, 1),
            "projected_net_value_cents": round((revenue.estimate - self.cost_cents) * mean_target),
            "true_mean": {m: round(v, 6) for m, v in self.true_mean.items()},
            "coverage": {m: round(v, 4) for m, v in self.coverage.items()},
            "segments": {s: round(v, 2) for s, v in self.segment_estimates().items()},
        }
        return out

    def intervals(self) -> dict[str, Any]:
        """The 95% intervals: pooled (the mean effect), prediction (one more world), ROI."""
        pooled = self.pooled
        out: dict[str, Any] = {"pooled": {m: i.to_dict() for m, i in pooled.items()},
                               "prediction": {m: i.to_dict() for m, i in self.prediction.items()}}  # fmt: skip
        if self.cost_cents:
            out["roi"] = pooled["revenue_cents"].scaled(1 / self.cost_cents).to_dict()
        return out

    def recommendations(self) -> list[str]:
        """What to do, from the intervals of the net value per customer (revenue uplift minus cost)."""
        revenue = self.pooled["revenue_cents"]
        low, high = revenue.low - self.cost_cents, revenue.high - self.cost_cents
        money = lambda c: f"{c / 100:,.2f}"
        if low > 0:
            recs = [f"roll out: net value per customer {money(low)} to {money(high)} (95%), above zero"]
        elif high < 0:
            recs = [f"do not roll out: net value per customer {money(low)} to {money(high)} (95%), below zero"]
        else:
            recs = [f"inconclusive: net value per customer {money(low)} to {money(high)} (95%) spans zero; "
                    "run more iterations or target a larger population"]  # fmt: skip
        segments = self.segment_estimates()
        if len(segments) > 1:
            best = max(segments, key=lambda s: segments[s])
            worst = min(segments, key=lambda s: segments[s])
            recs.append(f"best segment {best} (revenue uplift {money(segments[best])} per customer), "
                        f"worst {worst} ({money(segments[worst])})")  # fmt: skip
        return recs

    def to_dict(self) -> dict[str, Any]:
        """Parameters, predicted outcomes, intervals, recommendations and timing, for JSON."""
        return {
            "spec": self.spec.model_dump(),
            "worlds": [w.label() for w in self.worlds],
            "iterations": len(self.iterations),
            "predicted": self.predicted(),
            "intervals": self.intervals(),
            "recommendations": self.recommendations(),
            "duration_s": round(self.duration_s, 3),
            "simulate_s": round(self.simulate_s, 3),
        }


def world_grid(scenarios: Sequence[str], personas: Sequence[str], seeds: Sequence[int]) -> list[WorldKey]:
    """Every world of the grid: seeds outermost, so consecutive iterations change merchant and scenario."""
    return [WorldKey(s, p, seed) for seed in seeds for p in personas for s in scenarios]


def _simulate(args: tuple[WorldKey, InterventionSpec, InterventionEffects]) -> PotentialOutcomes:
    key, spec, effects = args
    return potential_outcomes(key, spec, effects)


def run_experiment(spec: InterventionSpec, worlds: Sequence[WorldKey], iterations: int | None = None, *,
                   seed: int = 0, effects: InterventionEffects | None = None, workers: int = 1,
                   outcomes: dict[WorldKey, PotentialOutcomes] | None = None,
                   executor: Executor | None = None) -> ExperimentResult:  # fmt: skip
    """Run ``spec`` for ``iterations`` randomisations (default: one per world), iteration ``i`` on
    ``worlds[i % len(worlds)]``. The same arguments give the same numbers.

    Args:
        seed: seeds the randomisation (the worlds have their own seeds).
        workers: processes that generate worlds and re-simulate target populations (1: in this process);
            ignored when ``executor`` is given.
        outcomes: potential outcomes already computed (re-used, and filled with the new ones).
        executor: where worlds are simulated (default: a :class:`~app.execution.LocalExecutor` with
            ``workers``); the caller keeps it open and shuts it down. Every executor gives the same numbers.
    """
    began = time.perf_counter()
    effects = effects or load_intervention_effects()
    spec.validate_names(effects)
    if not worlds:
        raise InvalidArgumentError("no worlds to run on; give at least one seed and persona")
    n_iter = len(worlds) if iterations is None else iterations
    if not 1 <= n_iter <= MAX_ITERATIONS:
        raise InvalidArgumentError(f"iterations must be between 1 and {MAX_ITERATIONS:,}, got {n_iter}")
    used = list(dict.fromkeys(worlds[i % len(worlds)] for i in range(n_iter)))
    cache = outcomes if outcomes is not None else {}
    todo = [k for k in used if k not in cache]
    tasks = [(k, spec, effects) for k in todo]
    if executor is not None:
        done = executor.run(_simulate, tasks)
    else:
        with LocalExecutor(workers if len(todo) > 1 else 1) as local:
            done = local.run(_simulate, tasks)
    cache.update(zip(todo, done, strict=True))
    simulated = time.perf_counter()
    results = tuple(_iteration(i, cache[worlds[i % len(worlds)]], spec, seed) for i in range(n_iter))
    return ExperimentResult(
        spec=spec, worlds=tuple(used), iterations=results, cost_cents=spec.cost_cents(effects),
        target_sizes={k.label(): cache[k].size for k in used}, duration_s=time.perf_counter() - began,
        simulate_s=simulated - began,
    )  # fmt: skip


def assign(n: int, holdout_share: float, rng: random.Random) -> list[bool]:
    """Complete randomisation of ``n`` customers: exactly ``round(n x share)`` held out (at least 2 per arm)."""
    if n < 4:
        raise InvalidArgumentError(f"a target of {n} customers is too small to split; it needs at least 4")
    n_hold = min(n - 2, max(2, round(n * holdout_share)))
    order = list(range(n))
    rng.shuffle(order)
    treated = [True] * n
    for i in order[:n_hold]:
        treated[i] = False
    return treated


def _iteration(index: int, po: PotentialOutcomes, spec: InterventionSpec, seed: int) -> IterationResult:
    rng = random.Random(f"cjsim/experiment/{seed}/{spec.name}/{spec.action}/{index}")
    treated = assign(po.size, spec.holdout_share, rng)
    estimates, truth = {}, {}
    for m in METRICS:
        y1, y0 = po.treated[m], po.untreated[m]
        estimates[m] = diff_in_means([y1[i] for i in range(po.size) if treated[i]],
                                     [y0[i] for i in range(po.size) if not treated[i]])  # fmt: skip
        truth[m] = sum(y1) / po.size - sum(y0) / po.size
    by_segment: dict[str, dict[str, float]] = {}
    for seg in sorted(set(po.segments)):
        t = [i for i in range(po.size) if po.segments[i] == seg and treated[i]]
        c = [i for i in range(po.size) if po.segments[i] == seg and not treated[i]]
        if len(t) >= 2 and len(c) >= 2:
            by_segment[seg] = {m: sum(po.treated[m][i] for i in t) / len(t) - sum(po.untreated[m][i] for i in c) / len(c)
                               for m in METRICS}  # fmt: skip
    n_t = sum(treated)
    return IterationResult(index, po.world, n_t, po.size - n_t, estimates, truth, by_segment)
