"""Journey churn forecasts against the generated worlds' own futures: Brier score, the base-rate
forecast's Brier score, skill and a reliability table per scenario (docs/closed_loop.md,
"Forecasts").

Each world (scenario x persona x seed) is forecast at the last date whose 30-day horizon it has
simulated (its ``as_of``), from its data up to that date only (:mod:`app.journeys.forecast`);
a forecast is scored against whether the customer left within the horizon. Squared errors and
the reliability bins are summed over the personas and seeds of a scenario.

Usage::

    python benchmarks/bench_forecasts.py [--seeds 0,1] [--scenarios churn_spike,...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.agents.data_agent import DataAgent
from app.catalog import Catalog
from app.journeys.forecast import forecast_accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--scenarios", default="")
    a = parser.parse_args()
    catalog = Catalog.default()
    scenarios = a.scenarios.split(",") if a.scenarios else sorted(catalog.scenarios.names())
    personas = sorted(catalog.personas.names())
    seeds = [int(s) for s in a.seeds.split(",")]
    started = time.perf_counter()
    print("| scenario | customers | leave rate | Brier | Brier, base rate | skill | reliability: forecast -> observed (n) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for sc in scenarios:
        n = left = 0
        se = se_base = 0.0
        bins: dict[tuple[float, float], list[float]] = {}
        for persona in personas:
            for seed in seeds:
                agent = DataAgent.create(sc, persona, seed=seed, catalog=catalog)
                with agent.engine.connect() as conn:
                    acc = forecast_accuracy(conn, agent.world.horizon - dt.timedelta(days=30))
                n += acc.customers
                left += acc.leavers
                se += acc.brier * acc.customers
                se_base += acc.brier_base_rate * acc.customers
                for b in acc.reliability:
                    if b.count:
                        cell = bins.setdefault((b.low, b.high), [0, 0.0, 0.0])
                        cell[0] += b.count
                        cell[1] += (b.mean_forecast or 0) * b.count
                        cell[2] += (b.observed_rate or 0) * b.count
        brier, base = se / n, se_base / n
        table = ", ".join(f"{p / c:.2f} -> {o / c:.2f} ({c})" for (_, _), (c, p, o) in sorted(bins.items()))
        print(f"| {sc} | {n} | {left / n:.1%} | {brier:.4f} | {base:.4f} | {1 - brier / base:+.0%} | {table} |")
    print(f"\n{len(scenarios)} scenarios x {len(personas)} personas x seeds {a.seeds}; "
          f"{time.perf_counter() - started:.0f} s on {platform.machine()}, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
