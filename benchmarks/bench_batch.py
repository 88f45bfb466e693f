"""Offline batch throughput: the same batch with --jobs 1 (in process) and --jobs 2 (process pool).

Default grid: every scenario x 3 merchants x 6 workflows x seed 0 (198 conversations with the
repository's data), each world generated once and shared by its workflows. Both runs happen in
this process, one after the other (after a one-case warm-up), into fresh temporary folders,
and are scored with the deterministic evaluators; the record bodies of both runs are checked to be identical.

Usage: python benchmarks/bench_batch.py [--merchants 3] [--workflows 6] [--seeds 0] [--jobs 1 2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from app.batch.records import RunDir
from app.batch.run import batch_manifest, run_batch
from app.scenarios import personas
from app.workflows import workflows


def _bodies(path: Path) -> dict[str, str]:
    out = {}
    for r in RunDir(path).records():
        data = r.model_dump(mode="json", exclude={"duration_s"})
        if data["transcript"]:
            data["transcript"].pop("meta")
        out[r.case.id] = repr(data)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--merchants", type=int, default=3, help="first N merchants")
    parser.add_argument("--workflows", type=int, default=6, help="first N workflows")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1, help="rounds (job counts interleaved); the best time counts")
    args = parser.parse_args()
    from app.evaluation.registry import DETERMINISTIC_KEYS

    manifest = batch_manifest(
        "bench",
        scenarios="all",
        merchants=personas().names()[: args.merchants],
        workflows=workflows().names()[: args.workflows],
        seeds=[int(s) for s in args.seeds.split(",")],
        evaluators=list(DETERMINISTIC_KEYS),
    )
    n = len(manifest.cases())
    worlds = len(manifest.scenarios) * len(manifest.merchants) * len(manifest.seeds)
    print(f"{n} conversations over {worlds} worlds; {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")  # fmt: skip
    timings: dict[int, tuple[str, float]] = {}
    bodies = []
    with tempfile.TemporaryDirectory() as tmp:
        # warm imports and data-file caches first, so neither timed run pays for them alone
        run_batch(batch_manifest("warm", scenarios=manifest.scenarios[:1], merchants=manifest.merchants[:1],
                                 workflows=manifest.workflows[:1], evaluators=manifest.evaluators), Path(tmp) / "warm", jobs=1)  # fmt: skip
        for round_ in range(args.repeat):
            for jobs in args.jobs:
                out = Path(tmp) / f"jobs{jobs}-{round_}"
                t0 = time.perf_counter()
                result = run_batch(manifest, out, jobs=jobs)
                elapsed = time.perf_counter() - t0
                assert result.summary.ok == n, f"{result.summary.failed} cases failed: {result.summary.failures[:3]}"
                if jobs not in timings or elapsed < timings[jobs][1]:
                    timings[jobs] = (result.mode, elapsed)
                bodies.append(_bodies(out))
    base = timings.get(1, timings[args.jobs[0]])[1]
    print("| jobs | mode | seconds | conversations/s | speed-up vs jobs 1 |")
    print("|---:|---|---:|---:|---:|")
    for jobs, (mode, elapsed) in timings.items():
        print(f"| {jobs} | {mode} | {elapsed:.2f} | {n / elapsed:.1f} | {base / elapsed:.2f}x |")
    print(f"\nrecord bodies identical across job counts: {all(b == bodies[0] for b in bodies)}")


if __name__ == "__main__":
    main()
