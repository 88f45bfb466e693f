"""Health alerts per scored customer at each scenario's as_of, against steady_operations: the
measurement behind the scenarios' health signatures (docs/health.md, "Scenario signatures").

For every scenario x persona x seed it reads the ``health_overview`` view (the values the
``expected`` entries bound: ``movement.alerts_now.<severity>`` per ``scored``) and prints, per
scenario and severity, the range over worlds of the share of scored customers with such an alert
and of its ratio to steady_operations with the same persona and seed.

Usage::

    python benchmarks/bench_health_signatures.py [--seeds 0-9] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.agents.data_agent import DataAgent
from app.catalog import Catalog
from app.signatures import STEADY_SCENARIO, share

SEVERITIES = ("critical", "high")


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi) + 1)) if hi else [int(s) for s in text.split(",")]


def _shares(agent: DataAgent) -> dict[str, float | None]:
    view = agent.get_view("health_overview").to_json()
    return {sev: share(view["movement"]["alerts_now"][sev], view["scored"]) for sev in SEVERITIES}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,1,2")
    parser.add_argument("--json", default="")
    a = parser.parse_args()
    catalog = Catalog.default()
    seeds = _seeds(a.seeds)
    started = time.perf_counter()
    worlds: dict[str, dict[str, float | None]] = {}
    for sid in sorted(catalog.scenarios.names()):
        for mid in sorted(catalog.personas.names()):
            for seed in seeds:
                worlds[f"{sid}/{mid}/{seed}"] = _shares(DataAgent.create(sid, mid, seed=seed, catalog=catalog))
    print(f"# {len(worlds)} worlds, seeds {a.seeds}, {time.perf_counter() - started:.0f} s, "
          f"{platform.machine()}, Python {platform.python_version()}")  # fmt: skip
    print("| scenario | severity | share of scored: min | mean | max | ratio to steady: min | max |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for sid in sorted(catalog.scenarios.names()):
        for sev in SEVERITIES:
            values, ratios = [], []
            for key, shares in worlds.items():
                scenario, mid, seed = key.split("/")
                steady = worlds[f"{STEADY_SCENARIO}/{mid}/{seed}"][sev]
                if scenario == sid and shares[sev] is not None:
                    values.append(shares[sev] or 0.0)
                    if steady:
                        ratios.append((shares[sev] or 0.0) / steady)
            summary[f"{sid}/{sev}"] = {"min": min(values), "max": max(values), "ratio_min": min(ratios),
                                       "ratio_max": max(ratios)}  # fmt: skip
            print(f"| {sid} | {sev} | {min(values):.2%} | {sum(values) / len(values):.2%} | {max(values):.2%} "
                  f"| {min(ratios):.2f} | {max(ratios):.2f} |")  # fmt: skip
    if a.json:
        Path(a.json).write_text(json.dumps({"worlds": worlds, "summary": summary}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
