"""Calibration of the `cjsim compare` gate: false-gate rate between clean batches, power against defects.

Running 2 x 200 full batches per question is too slow, so every conversation is run once into a
pool and batches are drawn from it:

1. Pool: the whole matrix (every scenario x merchant x workflow) for seeds 0 .. K-1, with the
   clean rule-based CJ (``rules``) and with every defect profile the registry declares
   (``rules:<defect>`` for each name of ``app.policies.defects.DEFECTS``, so profiles added later
   are covered without editing this file), each conversation scored by the deterministic
   evaluators. One world per scenario, merchant and seed serves every profile and workflow.
2. Null (false gates): a pair of clean batches at the matrix size, each case group drawing its
   seed independently for A and for B (two different seeds), exactly what two CI runs that differ
   only in seeds look like. ``compare_runs`` gates on every metric at family-wise alpha 0.05; a
   pair with any regression is a false gate. Repeated ``--pairs`` times.
3. Power: per defect profile, a clean batch A against a batch B of the defective CJ on the same
   seeds (each case group draws one seed; the runs share case ids, as in a CI comparison of a
   change), ``--pairs`` times; power = share of pairs the gate fails.

Drawing seeds from a pool of K makes the batches mixtures of pool conversations; with 198 case
groups and K seeds each the draws are far from repeating, but the pool is a sample of the seed
distribution, which is why K is reported next to the figures.

Usage: python benchmarks/gate_calibration.py [--seeds 8] [--pairs 200] [--jobs 2] [--cache /tmp/cjsim-gate-pool.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from app.batch.records import CaseKey, RunRecord
from app.reporting.compare import compare_runs

CLEAN = "rules"
FALSE_GATE_LIMIT = 0.05
POWER_FLOOR = 0.95


def profiles() -> list[str]:
    """The clean CJ and every defect profile the registry declares."""
    from app.policies.defects import DEFECTS

    return [CLEAN, *(f"rules:{name}" for name in sorted(DEFECTS))]


def _world_records(task: tuple[str, str, int, tuple[str, ...]]) -> list[dict]:
    """Every workflow x profile conversation on one world, scored; records as JSON-ready dicts."""
    from app.agents.data_agent import DataAgent
    from app.evaluation.registry import DETERMINISTIC_KEYS, default_evaluators, evaluate
    from app.simulation import RunConfig, run_conversation
    from app.workflows import workflows

    scenario, merchant, seed, names = task
    agent = DataAgent.create(scenario, merchant, seed=seed)
    evaluators = default_evaluators(keys=DETERMINISTIC_KEYS)
    out = []
    for profile in names:
        for workflow in workflows().names():
            case = CaseKey(scenario=scenario, merchant=merchant, workflow=workflow, seed=seed)
            try:
                t = run_conversation(RunConfig(scenario=scenario, merchant=merchant, workflow=workflow, seed=seed,
                                               cj_model=profile), provider=agent)  # fmt: skip
                record = RunRecord(case=case, status="ok", scores=evaluate(t, evaluators))
            except Exception as exc:  # a failed conversation is an outcome too (completed.pass_rate)
                record = RunRecord(case=case, status="failed", error=f"{type(exc).__name__}: {exc}")
            out.append({"profile": profile, "record": record.model_dump(mode="json")})
    return out


def build_pool(seeds: int, jobs: int, cache: Path) -> dict[str, dict[int, dict[str, RunRecord]]]:
    """profile -> seed -> case group -> record, from ``cache`` when it holds what is asked."""
    from app.scenarios import personas, scenarios
    from app.workflows import workflows

    names = tuple(profiles())
    rows: list[dict] = []
    if cache.is_file():
        rows = [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines() if line]
    have = {(r["profile"], r["record"]["case"]["seed"]) for r in rows}
    tasks = [
        (s, m, seed, tuple(p for p in names if (p, seed) not in have))
        for seed in range(seeds) for s in scenarios().names() for m in personas().names()
    ]  # fmt: skip
    tasks = [t for t in tasks if t[3]]
    if tasks:
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for chunk in pool.map(_world_records, tasks):
                rows.extend(chunk)
        runs = sum(len(t[3]) for t in tasks) * len(workflows().names())
        print(f"pool: ran {runs} conversations in {time.perf_counter() - started:.0f} s")
        cache.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pool_: dict[str, dict[int, dict[str, RunRecord]]] = {}
    for r in rows:
        record = RunRecord.model_validate(r["record"])
        pool_.setdefault(r["profile"], {}).setdefault(record.case.seed, {})[record.case.group] = record
    return pool_


def _batch(pool: dict[int, dict[str, RunRecord]], seeds: dict[str, int]) -> list[RunRecord]:
    return [pool[seed][group] for group, seed in seeds.items()]


def false_gate_rate(
    pool: dict[int, dict[str, RunRecord]], pairs: int, seed: int
) -> tuple[float, dict[str, int], list[float]]:
    """Share of clean-vs-clean pairs (seeds differ per case group) with any regression, which metrics
    fired, and each pair's smallest Holm-adjusted p-value (how close it came to gating)."""
    rng = random.Random(seed)
    groups = sorted(pool[0])
    available = sorted(pool)
    fired: dict[str, int] = {}
    closest: list[float] = []
    gated = 0
    for _ in range(pairs):
        draws = {g: rng.sample(available, 2) for g in groups}
        a = _batch(pool, {g: d[0] for g, d in draws.items()})
        b = _batch(pool, {g: d[1] for g, d in draws.items()})
        result = compare_runs(a, b, intervals=False)  # the gate decision needs no intervals
        gated += bool(result.regressions)
        for d in result.regressions:
            fired[d.name] = fired.get(d.name, 0) + 1
        closest.append(min(d.p_adjusted for d in result.family if d.p_adjusted is not None))
    return gated / pairs, fired, closest


def power(clean: dict[int, dict[str, RunRecord]], defect: dict[int, dict[str, RunRecord]], pairs: int, seed: int) -> float:
    """Share of clean-vs-defect pairs (same seeds per case group) the gate fails."""
    rng = random.Random(seed)
    groups = sorted(clean[0])
    available = sorted(set(clean) & set(defect))
    caught = 0
    for _ in range(pairs):
        seeds = {g: rng.choice(available) for g in groups}
        caught += bool(compare_runs(_batch(clean, seeds), _batch(defect, seeds), intervals=False).regressions)
    return caught / pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="pool seeds per case (K)")
    parser.add_argument("--pairs", type=int, default=200, help="batch pairs per question")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/cjsim-gate-pool.jsonl"))
    args = parser.parse_args()

    pool = build_pool(args.seeds, args.jobs, args.cache)
    clean = {s: g for s, g in pool[CLEAN].items() if s < args.seeds}
    size = len(clean[0])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"pool: {args.seeds} seeds x {size} cases x {len(pool)} profiles; {args.pairs} pairs per question")
    started = time.perf_counter()
    rate, fired, closest = false_gate_rate(clean, args.pairs, args.seed)
    elapsed = time.perf_counter() - started
    closest.sort()
    print(f"null (clean vs clean, seeds differ): false-gate rate {rate:.1%} ({round(rate * args.pairs)}/{args.pairs}); "
          f"limit {FALSE_GATE_LIMIT:.0%}; {elapsed / args.pairs * 1000:.0f} ms per compare")  # fmt: skip
    print(f"  smallest Holm-adjusted p per pair: minimum {closest[0]:.3f}, 5th percentile {closest[len(closest) // 20]:.3f}, "
          f"median {closest[len(closest) // 2]:.3f}")  # fmt: skip
    if fired:
        print("  metrics that fired: " + ", ".join(f"{k} {v}" for k, v in sorted(fired.items(), key=lambda kv: -kv[1])))
    ok = rate <= FALSE_GATE_LIMIT
    for profile in profiles()[1:]:
        p = power(clean, {s: g for s, g in pool[profile].items() if s < args.seeds}, args.pairs, args.seed)
        ok &= p >= POWER_FLOOR
        print(f"power vs {profile}: {p:.1%} (floor {POWER_FLOOR:.0%})")
    print("OK" if ok else "FAILED: a figure is outside its bound")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
