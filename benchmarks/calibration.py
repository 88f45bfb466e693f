"""Catch rates of the deterministic evaluators over the full matrix: the figures of docs/evaluation.md.

Runs every scenario x merchant x workflow (seed 0 by default) with the clean rule CJ and with each
defect profile, scores each conversation with the evaluator that must catch the defect, and prints:

* how often the clean CJ fails each deterministic evaluator (grounding must be 0);
* per defect profile: conversations caught / all, and caught / *affected* -- conversations where
  the defect changed what CJ did (its replies or calls differ from the clean CJ's in the same case;
  a wrong-customer defect cannot show in a conversation that names no customer);
* per stated number, for the data-side defects: of the numbers CJ stated differently from the
  clean CJ (the same reply with its numbers falsified), the share grounding marks ungrounded;
* skip_tools: the share of conversations with a data question that fail trajectory or tool_use.

The defect transcripts come from falsified data or wording (app/policies/data_defects.py,
app/policies/defects.py), never from the evaluators' own claim extraction.

Usage: python benchmarks/calibration.py [--seeds 0] [--jobs 2] [--profiles hallucinate_numbers,...]
"""

from __future__ import annotations

import argparse
import re
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from app.agents.data_agent import DataAgent
from app.catalog import Catalog
from app.evaluation.registry import DETERMINISTIC_KEYS, default_evaluators
from app.evaluation.tool_use import trace
from app.scenarios import personas, scenarios
from app.simulation import RunConfig, run_conversation
from app.transcript import Transcript
from app.workflows import workflows

CATCHERS: dict[str, tuple[str, ...]] = {
    "hallucinate_numbers": ("grounding",),
    "wrong_metric": ("grounding",),
    "stale_window": ("grounding", "tool_use"),
    "wrong_customer": ("grounding",),
    "skip_tools": ("tool_use", "trajectory"),
    "ignored_tool_error": ("tool_use",),
    "overpromise": ("style",),
    "off_workflow": ("workflow_adherence",),
    "leak_reasoning": ("style",),
    "ignore_question": ("style",),
}
"""Defect -> the evaluators built to catch it (caught when any of them fails the conversation)."""

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _behaviour(t: Transcript) -> list[Any]:
    return [(m.content, [(c.name, c.args) for c in m.tool_calls or ()]) for m in t.messages if m.role == "cj"]


def _falsified_numbers(defect: Transcript, clean: Transcript) -> list[tuple[int, int, int]]:
    """(message, start, end) of numbers the defect states differently in a reply worded like the clean one."""
    out = []
    for i, (a, b) in enumerate(zip(defect.messages, clean.messages, strict=False)):
        if a.role != "cj" or b.role != "cj" or not a.content or a.content == b.content:
            continue
        if _NUMBER.sub("#", a.content) != _NUMBER.sub("#", b.content):
            continue  # worded differently: numbers cannot be paired
        for x, y in zip(_NUMBER.finditer(a.content), _NUMBER.finditer(b.content), strict=True):
            if x.group(0) != y.group(0):
                out.append((i, x.start(), x.end()))
    return out


def _data_question(t: Transcript, catalog: Catalog) -> bool:
    return any(turn.requested for turn in trace(t, catalog).turns if turn.request is not None)


def _run_task(task: tuple[str, str, int, tuple[str, ...]]) -> list[dict[str, Any]]:
    scenario, merchant, seed, profiles = task
    catalog = Catalog.default()
    agent = DataAgent.create(scenario, merchant, seed=seed)
    evaluators = {ev.key: ev for ev in default_evaluators(keys=DETERMINISTIC_KEYS, catalog=catalog)}
    rows = []
    def run(workflow: str, model: str) -> Transcript:
        cfg = RunConfig(scenario=scenario, merchant=merchant, workflow=workflow, seed=seed, cj_model=model)
        return run_conversation(cfg, provider=agent)

    for workflow in workflows().names():
        clean = run(workflow, "rules")
        rows.append(
            {"profile": "rules", "case": f"{scenario}/{merchant}/{workflow}/{seed}",
             "failed": sorted(k for k, ev in evaluators.items() if ev(transcript=clean).passed is False)}
        )  # fmt: skip
        for profile in profiles:
            t = run(workflow, f"rules:{profile}")
            results = {k: evaluators[k](transcript=t) for k in CATCHERS[profile]}
            row: dict[str, Any] = {
                "profile": profile,
                "case": f"{scenario}/{merchant}/{workflow}/{seed}",
                "caught": any(r.passed is False for r in results.values()),
                "affected": _behaviour(t) != _behaviour(clean),
                "data_question": _data_question(t, catalog),
            }
            if "grounding" in results:
                bad = [c for c in results["grounding"].details["claims"] if c["status"] == "ungrounded"]
                numbers = _falsified_numbers(t, clean)
                flagged = [
                    n for n in numbers if any(c["message"] == n[0] and c["start"] < n[2] and n[1] < c["end"] for c in bad)
                ]
                row["numbers"], row["numbers_caught"] = len(numbers), len(flagged)
            if profile == "overpromise":
                row["caught"] = any(v["check"] == "promise" for v in results["style"].details["violations"])
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--profiles", default=",".join(CATCHERS), help="defect profiles (default: all)")
    args = parser.parse_args()
    profiles = tuple(p for p in args.profiles.split(",") if p)
    unknown = sorted(set(profiles) - set(CATCHERS))
    if unknown:
        parser.error(f"unknown profiles {unknown}; valid profiles: {', '.join(CATCHERS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    tasks = [(s, m, seed, profiles) for seed in seeds for s in scenarios().names() for m in personas().names()]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = [row for chunk in pool.map(_run_task, tasks) for row in chunk]
    elapsed = time.perf_counter() - started

    clean = [r for r in rows if r["profile"] == "rules"]
    failing: dict[str, int] = defaultdict(int)
    for r in clean:
        for key in r["failed"]:
            failing[key] += 1
    passing_all = sum(not r["failed"] for r in clean)
    print(f"{len(clean)} conversations per profile, seeds {args.seeds}, {elapsed:.0f} s with {args.jobs} jobs\n")
    print("clean rule CJ: conversations failed per evaluator")
    for key in DETERMINISTIC_KEYS:
        print(f"  {key}: {failing.get(key, 0)}")
    print(f"  passes every deterministic evaluator: {passing_all}/{len(clean)}\n")
    print("| profile | caught by | caught / all | caught / affected | numbers caught |")
    print("|---|---|---:|---:|---:|")
    for profile in profiles:
        mine = [r for r in rows if r["profile"] == profile]
        affected = [r for r in mine if r["affected"]]
        caught = sum(r["caught"] for r in mine)
        caught_affected = sum(r["caught"] for r in affected)
        numbers = sum(r.get("numbers", 0) for r in mine)
        numbers_text = f"{sum(r.get('numbers_caught', 0) for r in mine)}/{numbers}" if numbers else "-"
        rate_all = f"{caught}/{len(mine)} ({caught / len(mine):.1%})"
        rate_aff = f"{caught_affected}/{len(affected)} ({caught_affected / len(affected):.1%})" if affected else "-"
        if numbers:
            numbers_text += f" ({sum(r.get('numbers_caught', 0) for r in mine) / numbers:.1%})"
        print(f"| {profile} | {' or '.join(CATCHERS[profile])} | {rate_all} | {rate_aff} | {numbers_text} |")
    skip = [r for r in rows if r["profile"] == "skip_tools" and r["data_question"]]
    if skip:
        caught = sum(r["caught"] for r in skip)
        print(f"\nskip_tools with a data question asked: {caught}/{len(skip)} fail trajectory or tool_use ({caught / len(skip):.1%})")
    missed = [f"  {r['profile']} {r['case']}" for r in rows if r["profile"] != "rules" and r["affected"] and not r["caught"]]
    if missed:
        print("\naffected but not caught:\n" + "\n".join(missed[:40]))


if __name__ == "__main__":
    main()
