"""Deterministic evaluators over 1,000 transcripts on one core.

Transcripts come from the offline matrix (every scenario x merchant x workflow, seeds 0, 1, ...)
and are cached as JSON lines, so reruns time only the evaluators. The baseline in the same run
is parsing the same transcripts from JSON: the ratio says how much scoring costs next to
merely reading a batch.

Usage: python benchmarks/bench_eval.py [--transcripts 1000] [--cache /tmp/cjsim-bench-transcripts.jsonl]
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from app.agents.data_agent import DataAgent
from app.evaluation.registry import DETERMINISTIC_KEYS, default_evaluators
from app.scenarios import personas, scenarios
from app.simulation import RunConfig, run_conversation
from app.transcript import Transcript
from app.workflows import workflows


def matrix_transcripts(n: int) -> list[str]:
    """``n`` transcripts as JSON, generated from the offline matrix (one world per scenario, merchant, seed)."""
    out: list[str] = []
    for seed in itertools.count():
        for s, m in itertools.product(scenarios().names(), personas().names()):
            agent = DataAgent.create(s, m, seed=seed)
            for w in workflows().names():
                cfg = RunConfig(scenario=s, merchant=m, workflow=w, seed=seed)
                out.append(run_conversation(cfg, provider=agent).model_dump_json())
                if len(out) >= n:
                    return out
    return out


def load(cache: Path, n: int) -> list[str]:
    if cache.is_file():
        lines = cache.read_text(encoding="utf-8").splitlines()
        if len(lines) >= n:
            return lines[:n]
    lines = matrix_transcripts(n)
    cache.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcripts", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/cjsim-bench-transcripts.jsonl"))
    args = parser.parse_args()

    lines = load(args.cache, args.transcripts)
    t0 = time.perf_counter()
    transcripts = [Transcript.model_validate_json(line) for line in lines]
    parse_s = time.perf_counter() - t0

    evaluators = default_evaluators(keys=DETERMINISTIC_KEYS)
    for ev in evaluators:  # load data files and compile patterns outside the timing
        ev(transcript=transcripts[0])
    per_key = dict.fromkeys((ev.key for ev in evaluators), 0.0)
    t_all = time.perf_counter()
    for t in transcripts:
        for ev in evaluators:
            t1 = time.perf_counter()
            ev(transcript=t)
            per_key[ev.key] += time.perf_counter() - t1
    total_s = time.perf_counter() - t_all

    n = len(transcripts)
    print(f"{n} transcripts, {sum(len(t.messages) for t in transcripts):,} messages")
    print(f"parse from JSON (baseline): {parse_s:.2f} s")
    print(f"all deterministic evaluators: {total_s:.2f} s ({1000 * total_s / n:.2f} ms per transcript, "
          f"{total_s / parse_s:.1f}x parsing)")
    print("| evaluator | total (s) | per transcript (ms) |")
    print("|---|---:|---:|")
    for key, secs in sorted(per_key.items(), key=lambda kv: -kv[1]):
        print(f"| {key} | {secs:.2f} | {1000 * secs / n:.2f} |")


if __name__ == "__main__":
    main()
