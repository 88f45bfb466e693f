"""Cost of customer health: materialising it at 100k customers and answering its views.

Each measurement has a baseline taken in the same run, so the ratios compare across machines and
load:

* **100k customers** (SQLite file and PostgreSQL schema): the load (``store_rows``, health
  included); health and alerts materialised alone at the load's two dates (one pass, as a load
  does), then at the latest date alone, against the customer facts of one date (the baseline); every new view uncached at the stored date, p50/p95
  over ``--repeat`` calls, against ``customer_list`` (the baseline);
* **default worlds**: the DataAgent's generate + load per scenario (health is computed on first
  use, not at load) and the first ``health_overview`` on it; ``cjsim db load`` of a default world
  with health materialised against the same load without it (median of 5).

Usage::

    python benchmarks/bench_health.py [--customers 100000] [--repeat 20] [--backends sqlite,postgres]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--skip-large]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_production import _drop_pg_schema, _pct, _pg_schema_url, build_world

from app.agents.data_agent import DataAgent
from app.health.settings import load_health_settings
from app.health.store import health_days, materialize_days
from app.providers.production import ProductionDataProvider
from app.scenarios import get_persona, scenarios
from app.storage import queries as q
from app.storage.admin import init_database, store_rows, writable_connection
from app.storage.customer_facts import materialize_facts
from app.world.context import resolve_context
from app.world.generator import generate_world
from app.world.world import WorldSpec

VIEWS: list[tuple[str, dict[str, Any]]] = [
    ("customer_list", {"filter": "at_risk", "sort_by": "risk", "limit": 20}),  # the baseline
    ("customer_health", {}),
    ("health_overview", {}),
    ("alerts", {}),
    ("alerts", {"severity": ["critical", "high"], "limit": 50}),
    ("alerts", {"status": "open", "alert_type": ["churn_risk"], "limit": 20}),
]


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _timed_cpu(fn: Any) -> tuple[float, float]:
    """(wall, this process's CPU) seconds of ``fn``: SQLite works in the process, so its CPU time
    says what a quiet machine would take; PostgreSQL's server share is not in it."""
    c0 = time.process_time()
    wall = _timed(fn)
    return wall, time.process_time() - c0


def default_worlds() -> list[dict[str, Any]]:
    persona = get_persona("marcus_thompson")
    out = []
    for sc in (scenarios().get(name) for name in scenarios().names()):
        spec = WorldSpec(sc, persona, resolve_context(persona, sc), seed=0)
        t0 = time.perf_counter()
        agent = DataAgent(generate_world(spec))
        load = time.perf_counter() - t0
        first = _timed(lambda agent=agent: agent.get_view("health_overview"))
        out.append({"scenario": sc.id, "generate_load_s": round(load, 3), "first_health_overview_s": round(first, 3)})
    return out


def db_load(repeat: int) -> dict[str, Any]:
    """``cjsim db load`` of a default world into a SQLite file, with health and (the baseline) without."""
    from app.providers.loading import load_world
    from app.storage.derived import DERIVED

    def once(health: bool) -> float:
        saved = dict(DERIVED)
        if not health:
            DERIVED.clear()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{Path(tmp) / 'w.db'}"
                init_database(url)
                return _timed(lambda: load_world(url, "growth_stall", "marcus_thompson", seed=0))
        finally:
            DERIVED.update(saved)

    without = statistics.median(once(False) for _ in range(repeat))
    with_health = statistics.median(once(True) for _ in range(repeat))
    return {"without_health_s": round(without, 3), "with_health_s": round(with_health, 3),
            "ratio": round(with_health / without, 2)}  # fmt: skip


def large(name: str, url: str, rows: dict, repeat: int) -> dict[str, Any]:
    init_database(url)
    load = _timed(lambda: _store(url, rows, name))
    s = load_health_settings()
    with writable_connection(url) as conn:
        latest = q.latest_activity(conn)
        assert latest is not None
        days = health_days(latest, q.earliest_activity(conn), s)
        health, health_cpu = _timed_cpu(lambda: materialize_days(conn, days, s))
        one, one_cpu = _timed_cpu(lambda: materialize_days(conn, [latest], s))  # the latest date alone, again
        facts, facts_cpu = _timed_cpu(lambda: materialize_facts(conn, latest))
    provider = ProductionDataProvider(url, allow_writable_user=True)
    views = []
    base_p95 = None
    for view, args in VIEWS:
        ms = []
        for _ in range(repeat):
            provider.clear_cache()
            ms.append(_timed(lambda view=view, args=args: provider.get_view(view, **args)) * 1000)
        p95 = _pct(ms, 0.95)
        base_p95 = base_p95 or p95
        views.append({"view": view, "args": args, "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(p95, 1),
                      "p95_vs_customer_list": round(p95 / base_p95, 2)})  # fmt: skip
    provider.close()
    return {"backend": name, "load_s": round(load, 2), "health_dates": [str(d) for d in days],
            "materialize_health_s": round(health, 2), "materialize_health_one_date_s": round(one, 2),
            "materialize_health_one_date_cpu_s": round(one_cpu, 2), "materialize_facts_one_date_s": round(facts, 2),
            "health_vs_facts": round(health / facts, 2), "materialize_health_cpu_s": round(health_cpu, 2),
            "materialize_facts_cpu_s": round(facts_cpu, 2), "load_average": round(os.getloadavg()[0], 2),
            "views": views}  # fmt: skip


def _store(url: str, rows: dict, name: str) -> None:
    with writable_connection(url) as conn:
        store_rows(conn, rows, kind="load", source="benchmark", url=name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=os.environ.get("CJSIM_BENCH_PG_URL") or os.environ.get("CJSIM_TEST_PG_URL"))
    parser.add_argument("--skip-large", action="store_true", help="Only the default-world measurements.")
    parser.add_argument("--skip-default", action="store_true", help="Only the 100k measurements.")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                              f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"}  # fmt: skip
    if not args.skip_default:
        result["default_worlds"] = default_worlds()
        result["db_load_default_world"] = db_load(5)
    if not args.skip_large:
        rows, seconds = build_world(args.customers, "steady_operations", "marcus_thompson", 0, 150)
        result["large"] = {"customers": len(rows["customers"]), "orders": len(rows["orders"]),
                           "generate_s": round(seconds, 1), "backends": []}  # fmt: skip
        for name in args.backends.split(","):
            if name == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    result["large"]["backends"].append(large("sqlite", f"sqlite:///{Path(tmp) / 'h.db'}", rows, args.repeat))
            elif name == "postgres" and args.pg_url:
                url, schema = _pg_schema_url(args.pg_url)
                try:
                    result["large"]["backends"].append(large("postgres", url, rows, args.repeat))
                finally:
                    _drop_pg_schema(args.pg_url, schema)
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
