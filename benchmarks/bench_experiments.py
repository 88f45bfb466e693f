"""Simulated experiments: speed of 200 iterations, interval coverage against the known true effects,
and uplift learners scored against the true individual effects (docs/experiments.md,
docs/performance.md "Simulated experiments").

* **speed**: 200 iterations of one intervention (loyalty_discount, every active subscriber) on
  default worlds, (a) every iteration on a world of its own (seeds 0-66 x the 3 personas) with 1 and
  with ``--workers`` processes, (b) 200 iterations over 30 worlds (seeds 0-9 x 3 personas), and the
  baseline of generating (a)'s 200 worlds alone; with ``--executor ray``, (a) and (b) again as Ray
  tasks (a local Ray instance with ``--workers`` CPUs, or the cluster at ``--ray-address``), each
  row with a hash of its result (``to_dict()`` without the timings): equal hashes, equal numbers;
* **coverage**: the share of per-iteration 95% intervals holding the iteration's exact SATE, (a)'s
  200 experiments on 200 worlds and 1,000 randomisations over 30 worlds for more actions, with a
  Wilson interval for the share;
* **uplift**: T- and X-learner (and two baselines: the experiment's overall difference in means,
  and its difference in means per segment) trained on one randomised experiment per world of
  seeds 0-1 x 3 personas, scored on the target populations of seeds 100-101 x 3 personas against
  their true individual effects: PEHE, Qini coefficient, AUUC ratio.

Usage::

    python benchmarks/bench_experiments.py [--sections speed,coverage,uplift] [--workers 2] [--executor ray [--ray-address ADDR]]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.execution import Executor, make_executor
from app.experiments import METRICS, InterventionSpec, potential_outcomes, run_experiment, world_grid
from app.experiments.population import world_for
from app.experiments.uplift import LEARNERS, UpliftData, auuc_ratio, experiment_data, pehe, qini, truth_data
from app.reporting.stats import wilson_interval
from app.world.effects import EffectModel, InterventionEffects, load_intervention_effects

PERSONAS = ["marcus_thompson", "sarah_chen", "zoe_martinez"]
SCENARIO = ["steady_operations"]
RESCUE = EffectModel(description="hand-set: saves every deal seeker who would cancel, no one else", cost=1.0,
                     churn_effect={"loyal": 0.0, "engaged": 0.0, "casual": 0.0, "deal_seeker": 1.0},
                     order_effect=0.0, half_life_days=1_000_000, heterogeneity=0.0)  # fmt: skip


def _load() -> str:
    """The 1, 5 and 15 minute load averages."""
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "?"


def result_hash(result) -> str:  # type: ignore[no-untyped-def]
    """The first 12 hex digits of the SHA-256 of the result's numbers (``to_dict()`` without the timings)."""
    data = {k: v for k, v in result.to_dict().items() if k not in ("duration_s", "simulate_s")}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def _coverage_row(label: str, result) -> None:  # type: ignore[no-untyped-def]
    n = len(result.iterations)
    cells = []
    for m in METRICS:
        k = sum(it.covered(m) for it in result.iterations)
        lo, hi = wilson_interval(k, n)
        cells.append(f"{k / n:.1%} ({lo:.1%}-{hi:.1%})")
    print(f"| {label} | {n} | {len(result.worlds)} | " + " | ".join(cells) + " |")


def speed_and_coverage(workers: int, sections: set[str], ray: Callable[[], Executor] | None = None) -> None:
    spec = InterventionSpec(name="bench", action="loyalty_discount")
    distinct = world_grid(SCENARIO, PERSONAS, range(67))[:200]
    results = {}
    if "speed" in sections:
        print("\n### Speed: 200 iterations of loyalty_discount (every active subscriber)\n")
        print("| configuration | executor | workers | wall (s) | generating worlds + re-simulating targets (s) | randomisations (s) | result hash | load before -> after |")
        print("|---|---|---:|---:|---:|---:|---|---|")
        thirty = world_grid(SCENARIO, PERSONAS, range(10))
        runs = [("200 iterations, 200 worlds", distinct, 1, False), ("200 iterations, 200 worlds", distinct, workers, False),
                ("200 iterations, 30 worlds", thirty, 1, False)]  # fmt: skip
        if ray is not None:
            runs += [("200 iterations, 200 worlds", distinct, workers, True), ("200 iterations, 30 worlds", thirty, workers, True)]
        for label, worlds, w, on_ray in runs:
            world_for.cache_clear()
            # a fresh Ray instance per row (started before the clock): its workers keep the worlds they made
            with ray() if on_ray and ray is not None else nullcontext() as ex:
                before = _load()
                r = run_experiment(spec, worlds, 200, workers=w, executor=ex)
            if not on_ray:
                results[(label, w)] = r
            print(f"| {label} | {ex.name if ex else 'local'} | {ex.workers if ex else w} | {r.duration_s:.1f} | "
                  f"{r.simulate_s:.1f} | {r.duration_s - r.simulate_s:.2f} | {result_hash(r)} | {before} -> {_load()} |")  # fmt: skip
        world_for.cache_clear()
        before, began = _load(), time.perf_counter()
        for key in distinct:  # the floor: the worlds alone, no target selected, nobody re-simulated
            world_for(key)
        took = time.perf_counter() - began
        print(f"| baseline: generating the 200 worlds alone | 1 | {took:.1f} | {took:.1f} | - | {before} -> {_load()} |")
    if "coverage" in sections:
        print("\n### Coverage of the per-iteration 95% intervals (share holding the exact SATE, Wilson 95% interval)\n")
        print("| intervention | experiments | worlds | retention | conversion | revenue |")
        print("|---|---:|---:|---:|---:|---:|")
        r = results.get(("200 iterations, 200 worlds", 1)) or run_experiment(spec, distinct, 200, workers=workers)
        _coverage_row("loyalty_discount, every subscriber, one world each", r)
        thirty = world_grid(SCENARIO, PERSONAS, range(10))
        for action, segments in (("loyalty_discount", []), ("pause_offer", []), ("winback_free_shipping", ["casual", "deal_seeker"]),
                                 ("payment_update_reminder", []), ("generic_newsletter", [])):  # fmt: skip
            s = InterventionSpec(name="bench", action=action, segments=segments)
            _coverage_row(f"{action}, {', '.join(segments) or 'every subscriber'}", run_experiment(s, thirty, 1000, workers=workers))


def _baselines(train: UpliftData, train_segments: list[list[float]]) -> dict[str, object]:
    def means(rows: list[int]) -> float:
        t = [train.outcome[i] for i in rows if train.treated[i]]
        c = [train.outcome[i] for i in rows if not train.treated[i]]
        return sum(t) / len(t) - sum(c) / len(c) if t and c else 0.0

    overall = means(list(range(len(train.outcome))))
    per_segment = {k: means([i for i, f in enumerate(train_segments) if f[k]]) for k in range(4)}
    return {"difference in means (constant)": lambda x: [overall] * len(x),
            "difference in means per segment": lambda x: [per_segment[[int(v) for v in f[:4]].index(1)] for f in x]}  # fmt: skip


def uplift() -> None:
    effects = load_intervention_effects()
    effects = InterventionEffects(version=1, actions={**effects.actions, "rescue": RESCUE})
    print("\n### Uplift learners against the true individual effects\n")
    print("Trained on one randomised experiment (50% holdout) per world of seeds 0-1 x 3 personas; scored on every "
          "target customer of seeds 100-101 x 3 personas.\n")  # fmt: skip
    print("| intervention | outcome | model | PEHE (revenue in major units) | Qini | AUUC / oracle | fit (s) |")
    print("|---|---|---|---:|---:|---:|---:|")
    for action, segments in (("loyalty_discount", []), ("winback_free_shipping", []), ("rescue", [])):
        spec = InterventionSpec(name="bench", action=action, segments=segments)
        train_po = [potential_outcomes(k, spec, effects, with_features=True) for k in world_grid(SCENARIO, PERSONAS, range(2))]
        test_po = [potential_outcomes(k, spec, effects, with_features=True) for k in world_grid(SCENARIO, PERSONAS, range(100, 102))]
        for metric in ("revenue_cents", "retained"):
            train, test = experiment_data(train_po, metric, seed=0), truth_data(test_po, metric)
            models = {**_baselines(train, train.features), **{n: f for n, f in LEARNERS.items()}}
            for name, model in models.items():
                began = time.perf_counter()
                predict = model(train) if name in LEARNERS else model  # type: ignore[operator]
                est = predict(test.features)  # type: ignore[operator]
                fit = time.perf_counter() - began
                scale = 100 if metric == "revenue_cents" else 1
                print(f"| {action} | {metric} | {name} | {pehe(est, test.true_effect) / scale:.4f} | "
                      f"{qini(est, test.true_effect):.3f} | {auuc_ratio(est, test.true_effect):.3f} | {fit:.2f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="speed,coverage,uplift")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--executor", choices=["local", "ray"], default="local",
                        help="ray: also run the speed rows as Ray tasks and print their result hashes")  # fmt: skip
    parser.add_argument("--ray-address", default=None, help="a Ray cluster to join (default: a local Ray instance)")
    a = parser.parse_args()
    sections = set(a.sections.split(","))
    extra = f" --executor {a.executor}" + (f" --ray-address {a.ray_address}" if a.ray_address else "")
    print(f"`python benchmarks/bench_experiments.py --sections {a.sections} --workers {a.workers}{extra if a.executor == 'ray' else ''}`: "
          f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average at start {_load()}")  # fmt: skip
    started = time.perf_counter()
    ray = (lambda: make_executor("ray", workers=a.workers, address=a.ray_address)) if a.executor == "ray" else None
    if sections & {"speed", "coverage"}:
        speed_and_coverage(a.workers, sections, ray)
    if "uplift" in sections:
        uplift()
    print(f"\ntotal {time.perf_counter() - started:.0f} s, load average at the end {_load()}")


if __name__ == "__main__":
    main()
