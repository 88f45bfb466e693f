"""World generation, loading and view timings (targets: default world <= 0.5 s, the ten core
views <= 50 ms, a 100k-customer world <= 30 s, on one core).

The core views are the ten data views CJ started with (``CORE_VIEWS``); "all views" adds every
other registered view (health, journeys, retention, data quality), each called cold once with the
first arguments of its examples, after the core ones; "cached" calls every view again.

Usage:
    python benchmarks/bench_world.py                 # every scenario, default worlds
    python benchmarks/bench_world.py --scaled 10000 100000
Prints a Markdown table (median of --repeat runs per scenario).
"""

from __future__ import annotations

import argparse
import statistics
import time

from app.agents.data_agent import DataAgent
from app.data_views import VIEWS
from app.scenarios import get_persona, scenarios
from app.world.context import resolve_context
from app.world.generator import generate_world
from app.world.world import WorldSpec

CORE_VIEWS = ("daily_briefing", "ticket_metrics", "financial_metrics", "order_metrics", "customer_segment",
              "crisis_analysis", "detect_anomalies", "customer_list", "customer_profile", "search_tickets")  # fmt: skip


def measure(scenario_id: str, persona_id: str, seed: int, subscribers: int | None = None) -> dict[str, float]:
    sc, persona = scenarios().get(scenario_id), get_persona(persona_id)
    spec = WorldSpec(sc, persona, resolve_context(persona, sc), seed=seed, subscribers=subscribers)
    t0 = time.perf_counter()
    world = generate_world(spec)
    t1 = time.perf_counter()
    agent = DataAgent(world)
    t2 = time.perf_counter()
    for name in CORE_VIEWS:
        agent.get_view(name, **VIEWS[name].examples[0])
    t3 = time.perf_counter()
    for name, spec in VIEWS.items():
        if name not in CORE_VIEWS:
            agent.get_view(name, **spec.examples[0])
    t4 = time.perf_counter()
    for name, spec in VIEWS.items():
        agent.get_view(name, **spec.examples[0])
    t5 = time.perf_counter()
    rows = sum(len(r) for r in world.tables.values())
    return {"generate": t1 - t0, "load": t2 - t1, "core": t3 - t2, "views": t4 - t2, "cached": t5 - t4, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--merchant", default="marcus_thompson")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scaled", type=int, nargs="*", default=[], help="subscriber counts of scaled worlds")
    args = parser.parse_args()

    print(f"| scenario | rows | generate (s) | load (s) | generate+load (s) | {len(CORE_VIEWS)} core views (ms) | "
          f"all {len(VIEWS)} views (ms) | cached (ms) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    runs = [(sid, None) for sid in scenarios().names()] + [("steady_operations", n) for n in args.scaled]
    for sid, size in runs:
        repeat = 1 if size and size > 20_000 else args.repeat
        samples = [measure(sid, args.merchant, seed, size) for seed in range(repeat)]
        med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
        label = sid if size is None else f"{sid} ({size:,} subscribers)"
        print(
            f"| {label} | {med['rows']:,.0f} | {med['generate']:.3f} | {med['load']:.3f} | "
            f"{med['generate'] + med['load']:.3f} | {med['core'] * 1000:.1f} | {med['views'] * 1000:.1f} | "
            f"{med['cached'] * 1000:.2f} |"
        )


if __name__ == "__main__":
    main()
