"""How precise could critical alerts be? The health model's critical precision against two ceilings
from the generator's own state and one ranking by what the data shows (docs/health.md, "What limits
critical precision").

Every world (scenario x persona x seed) is scored at its ``as_of``; its health model raises ``k``
critical alerts (risk > 0.8). Each ranking below picks the same ``k`` customers per world and counts
how many left within 30 days (:mod:`app.health.truth`); ties at the cut are broken evenly (the
expected count). Counts are summed over the personas and seeds of a scenario.

* ``model``: the health model's own critical alerts.
* ``true weight``: the generator's true cancellation pick weight at the date
  (:func:`app.world.propensity.pick_weights`: segment propensity x 2.5 after a failed payment x 1.8
  after a complaint x 6 while drifting, capped at 12) - the best any ranking by the hazard can do.
* ``true weight ahead``: the mean of that weight over the next 30 days had nothing new happened
  (boosts and drifts end when they are due to) - the hazard ranking that also knows the future of
  the state.
* ``drop pattern``: the observed leave rate of the customer's cell - engagement drops in the window
  (0-4+), the first one's age in 5-day steps, a complaint and a failed payment in the last 30 days -
  measured on the worlds of the *other* seeds (so no world rates itself).

Also printed: the share of customers who left among those at the weight cap (12) and below 1;
with ``--cells``, the share who left per number of engagement drops and age of the first one.

Usage::

    python benchmarks/bench_health_ceiling.py [--seeds 0,1] [--scenarios churn_spike,...] [--settings health.yaml] [--cells]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.agents.data_agent import DataAgent
from app.catalog import Catalog
from app.health.frame import rows_from
from app.health.inputs import HealthInputs, gather_inputs
from app.health.score import score_all
from app.health.settings import HealthSettings, load_health_settings
from app.health.truth import leavers
from app.world.behaviour import BASELINE
from app.world.propensity import pick_weights

DEFAULT_SCENARIOS = "churn_spike,shipping_crisis,steady_operations,growth_stall"
Cell = tuple[object, ...]
_PRIOR = 0.05  # the leave rate assumed of a cell before any customer of it is seen


@dataclass
class WorldFacts:
    scenario: str
    seed: int
    k: int
    risk: dict[str, float]
    left: set[str]
    weight: dict[str, float]
    ahead: dict[str, float]
    cells: dict[str, Cell]


def cell(inp: HealthInputs) -> Cell:
    """The customer's observable cell: drops in the window (capped at 4), the first drop's age in
    5-day steps, a negative ticket and a failed payment in the last 30 days."""
    day = inp.day
    complaint = any(t.sentiment == "negative" and (day - t.created_at.date()).days < 30 for t in inp.tickets)
    drops: Cell = (0,) if not inp.drops else (min(len(inp.drops), 4), (day - inp.drops[0][0]).days // 5)
    return (*drops, complaint, inp.recent_failed_payments > 0)


def top_k_right(score: dict[str, float], left: set[str], k: int) -> float:
    """Expected number of leavers among the ``k`` highest scores, ties at the cut broken evenly."""
    ranked = sorted(score.values(), reverse=True)
    if k <= 0 or not ranked:
        return 0.0
    cut = ranked[min(k, len(ranked)) - 1]
    above = [c for c, v in score.items() if v > cut]
    tied = [c for c, v in score.items() if v == cut]
    need = min(k, len(ranked)) - len(above)
    return sum(c in left for c in above) + need * sum(c in left for c in tied) / len(tied)


def world_facts(scenario: str, persona: str, seed: int, s: HealthSettings) -> WorldFacts:
    agent = DataAgent.create(scenario, persona, seed=seed)
    day = agent.world.as_of
    with agent.engine.connect() as conn:
        inputs = gather_inputs(conn, day, s)
        rows = rows_from(score_all(conn, day, s), s)
        left = set(leavers(conn, [r.customer_id for r in rows], day, s))
    weights = pick_weights(agent.world, day, ahead_days=s.monitoring.horizon_days)
    critical = s.alerts.severities[0].above
    risk = {r.customer_id: r.risk for r in rows}
    return WorldFacts(scenario=scenario, seed=seed, k=sum(v > critical for v in risk.values()), risk=risk, left=left,
                      weight={c: w.weight for c, w in weights.items() if c in risk},
                      ahead={c: w.ahead for c, w in weights.items() if c in risk},
                      cells={c: cell(inp) for c, inp in inputs.items()})  # fmt: skip


def cell_rates(worlds: list[WorldFacts]) -> dict[Cell, float]:
    """Leave rate per cell over ``worlds`` (a tiny prior keeps rare cells from ranking first by luck)."""
    counts: dict[Cell, list[int]] = defaultdict(lambda: [0, 0])
    for w in worlds:
        for c, key in w.cells.items():
            counts[key][0] += 1
            counts[key][1] += c in w.left
    return {key: (right + _PRIOR) / (n + 1) for key, (n, right) in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--scenarios", default=DEFAULT_SCENARIOS)
    parser.add_argument("--settings", default="", help="a health.yaml to measure instead of data/health.yaml")
    parser.add_argument("--cells", action="store_true", help="also the leave rate per drop count and first-drop age")
    a = parser.parse_args()
    try:
        seeds = [int(x) for x in a.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds {a.seeds!r}: give comma-separated whole numbers, e.g. 0,1")
    catalog = Catalog.default()
    scenarios = a.scenarios.split(",")
    unknown = [x for x in scenarios if x not in catalog.scenarios.names()]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(sorted(catalog.scenarios.names()))}")
    s = load_health_settings(Path(a.settings) if a.settings else None)
    started = time.perf_counter()
    worlds = [world_facts(sc, p, seed, s) for sc in scenarios for p in sorted(catalog.personas.names()) for seed in seeds]
    rates = {seed: cell_rates([w for w in worlds if w.seed != seed]) for seed in seeds}
    elapsed = time.perf_counter() - started
    print(f"# critical precision and its ceilings ({s.model_version}; seeds {seeds}; {platform.machine()}, "
          f"Python {platform.python_version()}, {elapsed:.0f} s)\n")  # fmt: skip
    print("| scenario | leave rate | critical alerts | model | true weight | true weight ahead | drop pattern "
          "| left at the cap | left below weight 1 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    cap = BASELINE.weight_cap
    for sc in scenarios:
        mine = [w for w in worlds if w.scenario == sc]
        k = sum(w.k for w in mine)
        scored = sum(len(w.risk) for w in mine)
        left = sum(len(w.left) for w in mine)

        def pct(right: float, n: int = k) -> str:
            return f"{right / n:.0%}" if n else "n/a"

        model = sum(sum(c in w.left for c, v in w.risk.items() if v > s.alerts.severities[0].above) for w in mine)
        weight = sum(top_k_right(w.weight, w.left, w.k) for w in mine)
        ahead = sum(top_k_right(w.ahead, w.left, w.k) for w in mine)
        pattern: float | None = None
        if len(seeds) > 1:
            pattern = sum(top_k_right({c: rates[w.seed].get(key, _PRIOR) for c, key in w.cells.items()}, w.left, w.k) for w in mine)
        at_cap = [c in w.left for w in mine for c, v in w.weight.items() if v >= cap]
        low = [c in w.left for w in mine for c, v in w.weight.items() if v < 1]
        print(f"| {sc} | {pct(left, scored)} | {k} | {pct(model)} | {pct(weight)} | {pct(ahead)} | "
              f"{'n/a' if pattern is None else pct(pattern)} | {pct(sum(at_cap), len(at_cap))} ({len(at_cap)}) | "
              f"{pct(sum(low), len(low))} ({len(low)}) |")  # fmt: skip

    if a.cells:
        for sc in scenarios:
            print_drop_cells(sc, [w for w in worlds if w.scenario == sc])


_AGE_BANDS = ((0, 4), (5, 9), (10, 24), (25, 39), (40, 59))


def print_drop_cells(scenario: str, worlds: list[WorldFacts]) -> None:
    """Share who left (and customers) per engagement drops in the window and age of the first drop."""
    counts: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for w in worlds:
        for c, key in w.cells.items():
            if key[0] == 0:
                continue
            steps = int(str(key[1]))  # the first drop's age in 5-day steps
            band = next(i for i, (_, hi) in enumerate(_AGE_BANDS) if steps * 5 <= hi)
            counts[(int(str(key[0])), band)][0] += 1
            counts[(int(str(key[0])), band)][1] += c in w.left
    print(f"\n{scenario}: left within 30 days (customers) by drops in the window and age of the first drop")
    print("| drops | " + " | ".join(f"{lo}-{hi} days" for lo, hi in _AGE_BANDS) + " |")
    print("|---" * (len(_AGE_BANDS) + 1) + "|")
    for n in (1, 2, 3, 4):
        shown = []
        for band in range(len(_AGE_BANDS)):
            k, right = counts.get((n, band), (0, 0))
            shown.append(f"{right / k:.0%} ({k})" if k else "-")
        print(f"| {n if n < 4 else '4+'} | " + " | ".join(shown) + " |")


if __name__ == "__main__":
    main()
