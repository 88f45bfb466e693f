"""Health alerts against the generated worlds' own futures: precision, recall and lead time per
scenario and severity (docs/health.md, "Accuracy").

Each world (scenario x persona x seed) is scored at the last date whose 30-day horizon it has
simulated (its ``as_of``); every risk alert is right when the customer leaves within the horizon
(:mod:`app.health.truth`). Counts are summed over the personas and seeds of a scenario before the
ratios are taken. Also printed: the critical alerts per world, the signature that crisis scenarios
raise clearly more of them than steady operations.

Usage::

    python benchmarks/bench_health_alerts.py [--seeds 0,1] [--scenarios churn_spike,...] [--json out.json]
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
from app.health.truth import RISK_SEVERITIES, measure_world


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--scenarios", default="")
    parser.add_argument("--json", default="")
    a = parser.parse_args()
    catalog = Catalog.default()
    scenarios = a.scenarios.split(",") if a.scenarios else sorted(catalog.scenarios.names())
    personas = sorted(catalog.personas.names())
    seeds = [int(s) for s in a.seeds.split(",")]
    started = time.perf_counter()
    out: dict[str, dict] = {}
    for sc in scenarios:
        totals = {sev: {"alerts": 0, "right": 0, "caught": 0, "lead": 0.0} for sev in RISK_SEVERITIES}
        leavers = scored = 0
        criticals = []
        for persona in personas:
            for seed in seeds:
                report = measure_world(DataAgent.create(sc, persona, seed=seed))
                leavers += report.leavers
                scored += report.scored
                for s in report.severities:
                    t = totals[s.severity]
                    t["alerts"] += s.alerts
                    t["right"] += s.right
                    t["caught"] += round((s.recall_at_or_above or 0) * report.leavers)
                    t["lead"] += (s.mean_lead_days or 0) * s.right
                criticals.append(report.of("critical").alerts)
        out[sc] = {
            "scored": scored, "leavers": leavers, "critical_per_world": criticals,
            "severities": {
                sev: {
                    "alerts": t["alerts"], "right": t["right"],
                    "precision": round(t["right"] / t["alerts"], 4) if t["alerts"] else None,
                    "recall_at_or_above": round(t["caught"] / leavers, 4) if leavers else None,
                    "mean_lead_days": round(t["lead"] / t["right"], 1) if t["right"] else None,
                }
                for sev, t in totals.items()
            },
        }  # fmt: skip
    elapsed = time.perf_counter() - started
    print(f"# health alerts vs the worlds' futures ({len(personas)} personas x seeds {seeds}; "
          f"{platform.machine()}, Python {platform.python_version()}, {elapsed:.0f} s)\n")  # fmt: skip
    print("| scenario | leave rate | severity | alerts | right | precision | recall at or above | lead (days) |")
    print("|---|---|---|---|---|---|---|---|")
    for sc, r in out.items():
        rate = r["leavers"] / r["scored"] if r["scored"] else None
        for sev, s in r["severities"].items():
            print(f"| {sc} | {_pct(rate)} | {sev} | {s['alerts']} | {s['right']} | {_pct(s['precision'])} | "
                  f"{_pct(s['recall_at_or_above'])} | {s['mean_lead_days'] if s['mean_lead_days'] is not None else 'n/a'} |")  # fmt: skip
    print("\ncritical alerts per world (personas x seeds):")
    for sc, r in out.items():
        print(f"  {sc}: {r['critical_per_world']}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
