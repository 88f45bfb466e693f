"""The orchestrator (docs/closed_loop.md, "The orchestrator"; figures in docs/performance.md).

Three measurements, each with what it is compared against in the same run:

* ``--speed``: orchestrating ``--days`` (90) days of the default world (churn_spike, sarah_chen),
  median of ``--repeat`` runs, against generating and loading the same world (``DataAgent.create``);
  target <= 10 s.
* ``--large N``: one orchestrator day at N customers (``--large 100000``): the per-day wall times of a
  ``--large-days`` run (3; day 1 fits the forecast model, the others only apply it) and the setup
  (generating the world, loading its database); target <= 5 s a day.
* ``--table``: every scenario x ``--seeds``, 90 days each: interventions, customers kept, revenue saved
  against the same world without them, cost, and the day the useless playbook (PB_NEWS_001) was
  retired; a markdown table.
* ``--truth``: what each playbook truly returns, the yardstick for what the loop learned: applied
  to every customer it is eligible for, 40 days before the scenario's today, measured over the
  window of data/journeys.yaml; revenue saved per unit of cost, summed over ``--seeds``.

Usage::

    python benchmarks/bench_orchestrator.py --speed --repeat 3
    python benchmarks/bench_orchestrator.py --large 100000
    python benchmarks/bench_orchestrator.py --table --seeds 0,1,2
    python benchmarks/bench_orchestrator.py --truth --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.agents.data_agent import DataAgent
from app.catalog import Catalog
from app.orchestration import orchestrate_world

USELESS = "PB_NEWS_001"


def _machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load:.1f}"


def speed(days: int, repeat: int) -> None:
    base, runs, nodes = [], [], {}
    for _ in range(repeat):
        t = time.perf_counter()
        DataAgent.create("churn_spike", "sarah_chen")
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        r = orchestrate_world("churn_spike", "sarah_chen", days=days)
        runs.append(time.perf_counter() - t)
        nodes = r.node_seconds
    b, o = statistics.median(base), statistics.median(runs)
    print(f"default world, {days} days: orchestrate median {o:.2f} s (runs {', '.join(f'{x:.2f}' for x in runs)}); "
          f"generate + load median {b:.3f} s; ratio {o / b:.1f}x; target 10 s: {'met' if o <= 10 else 'MISSED'}")
    print("  node seconds (last run): " + ", ".join(f"{k} {v:.2f}" for k, v in nodes.items()))
    print(f"  {_machine()}")


def large(n: int, days: int) -> None:
    t = time.perf_counter()
    r = orchestrate_world("churn_spike", "sarah_chen", days=days, subscribers=n)
    total = time.perf_counter() - t
    setup = total - sum(r.day_seconds)
    print(f"{n:,} subscribers, {days} days: setup (generate + load) {setup:.1f} s; days "
          f"{', '.join(f'{x:.2f} s' for x in r.day_seconds)}; target 5 s a day: "
          f"{'met' if max(r.day_seconds) <= 5 else 'MISSED'} (steady days: "
          f"{'met' if max(r.day_seconds[1:]) <= 5 else 'MISSED'})")
    print(f"  node seconds over the {days} days: " + ", ".join(f"{k} {v:.2f}" for k, v in r.node_seconds.items()))
    print(f"  interventions {r.interventions}; {_machine()}")


def table(seeds: list[int], scenarios: list[str], days: int) -> None:
    print(f"| scenario | seed | launched | overridden | kept | revenue saved | cost | net | saved / cost | "
          f"{USELESS} retired on | retired |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    started = time.perf_counter()
    for sc in scenarios:
        for seed in seeds:
            r = orchestrate_world(sc, "sarah_chen", days=days, seed=seed)
            net = r.revenue_saved_cents - r.cost_cents
            others = ", ".join(f"{p} ({d:%m-%d})" for p, d in r.retired.items() if p != USELESS) or "-"
            print(f"| {sc} | {seed} | {r.interventions.get('launched', 0)} | {r.interventions.get('overridden', 0)} | "
                  f"{r.customers_kept} | {r.revenue_saved_cents / 100:,.2f} | {r.cost_cents / 100:,.2f} | "
                  f"{net / 100:,.2f} | {r.roi if r.roi is not None else '-'} | "
                  f"{r.retired.get(USELESS, 'not retired')} (run ends {r.last_day}) | {others} |")
    print(f"\n{len(scenarios) * len(seeds)} runs of {days} days in {time.perf_counter() - started:.0f} s; {_machine()}")


def truth(seeds: list[int], scenarios: list[str]) -> None:
    import datetime as dt

    from app.journeys.matching import segments_of
    from app.journeys.measure import measure
    from app.journeys.playbooks import load_playbooks
    from app.journeys.records import InterventionRecord, intervention_id
    from app.journeys.stages import journey_positions, load_journey_settings
    from app.models import MerchantContext
    from app.scenarios import get_persona, get_scenario
    from app.world.generator import generate_world
    from app.world.world import WorldSpec

    horizon = load_journey_settings().orchestrator.horizon_days
    playbooks = load_playbooks().playbooks
    print(f"| scenario | {' | '.join(p.playbook_id for p in playbooks)} |")
    print(f"|---|{'---:|' * len(playbooks)}")
    for sc in scenarios:
        totals = {p.playbook_id: [0, 0, 0] for p in playbooks}
        for seed in seeds:
            world = generate_world(WorldSpec(get_scenario(sc), get_persona("sarah_chen"), MerchantContext(), seed=seed,
                                             horizon_days=horizon))  # fmt: skip
            day = world.as_of - dt.timedelta(days=40)
            with DataAgent(world).engine.connect() as conn:
                positions, segments = journey_positions(conn, day), segments_of(conn)
            assert world.fates is not None
            for p in playbooks:
                actions = tuple(p.default_actions)
                records = [InterventionRecord(
                    intervention_id(0, day, c, p.playbook_id), 0, c, segments[c], pos.stage, p.playbook_id, actions,
                    0.0, 0, 0, False, (), 0, day, day + dt.timedelta(days=1), "launched", actions,
                ) for c, pos in positions.items() if pos.risk is not None and c in world.fates.subscribers
                    and p.applies_to(pos.stage, segments[c], pos.risk)]  # fmt: skip
                outcomes = measure(world, records, horizon)
                t = totals[p.playbook_id]
                t[0] += len(outcomes)
                t[1] += sum(o.revenue_saved_cents for o in outcomes)
                t[2] += sum(o.cost_cents for o in outcomes)
        cells = [f"{t[1] / t[2]:.2f} (n={t[0]})" if t[2] else "-" for t in totals.values()]
        print(f"| {sc} | {' | '.join(cells)} |")
    print(f"\nwindow {horizon} days; {_machine()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--large", type=int, default=0, metavar="N")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--truth", action="store_true")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--large-days", type=int, default=3, help="days of the --large run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--scenarios", default="")
    a = parser.parse_args()
    if a.speed:
        speed(a.days, a.repeat)
    if a.large:
        large(a.large, a.large_days)
    scenarios = a.scenarios.split(",") if a.scenarios else sorted(Catalog.default().scenarios.names())
    seeds = [int(s) for s in a.seeds.split(",")]
    if a.table:
        table(seeds, scenarios, a.days)
    if a.truth:
        truth(seeds, scenarios)


if __name__ == "__main__":
    main()
