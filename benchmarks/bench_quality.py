"""Cost of the data-quality checks: on a default world's load and on a 100k-customer database.

Three measurements, each against a baseline taken in the same run (so the ratios compare across
machines and load):

* **default worlds, DataAgent**: generate + load (the baseline) and the checks on first use, per
  scenario (median of ``--repeat`` seeds);
* **default world, ``cjsim db load``**: the load into a SQLite file with the checks and, as the
  baseline, with the checks switched off;
* **100k customers** (SQLite file and PostgreSQL schema): the load with and without checks, the
  checks alone (median of 3), and the ``data_quality`` view uncached: at the load's date (read from
  the stored results) and twelve days earlier (computed), p50/p95 over ``--repeat`` calls.

Usage::

    python benchmarks/bench_quality.py [--customers 100000] [--repeat 5] [--backends sqlite,postgres]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--skip-large]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_production import _drop_pg_schema, _pct, _pg_schema_url, build_world

from app.agents.data_agent import DataAgent
from app.providers.loading import load_world
from app.providers.production import ProductionDataProvider
from app.quality import run_checks
from app.scenarios import get_persona, scenarios
from app.storage import admin
from app.storage.admin import init_database, store_rows, writable_connection
from app.storage.schema import TABLE_NAMES, metadata
from app.world.context import resolve_context
from app.world.generator import generate_world
from app.world.world import WorldSpec


@contextmanager
def checks_off() -> Iterator[None]:
    """Loads without the quality checks: the baseline."""
    original = admin._check_quality
    admin._check_quality = lambda conn, accepted=None, rejected=None: None  # type: ignore[assignment]
    try:
        yield
    finally:
        admin._check_quality = original  # type: ignore[assignment]


def default_worlds(repeat: int) -> list[dict[str, Any]]:
    persona = get_persona("marcus_thompson")
    out = []
    for sc in (scenarios().get(name) for name in scenarios().names()):
        load, checks = [], []
        for seed in range(repeat):
            spec = WorldSpec(sc, persona, resolve_context(persona, sc), seed=seed)
            t0 = time.perf_counter()
            agent = DataAgent(generate_world(spec))
            t1 = time.perf_counter()
            with agent.engine.connect() as conn:
                run_checks(conn, metadata.tables, agent.default_as_of(), present=set(TABLE_NAMES))
            t2 = time.perf_counter()
            load.append(t1 - t0)
            checks.append(t2 - t1)
        g, c = statistics.median(load), statistics.median(checks)
        out.append({"scenario": sc.id, "generate_load_s": round(g, 3), "checks_s": round(c, 3),
                    "with_checks_s": round(g + c, 3), "checks_vs_generate_load": round(c / g, 2)})  # fmt: skip
    return out


def db_load(repeat: int) -> dict[str, Any]:
    def once(on: bool) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'w.db'}"
            init_database(url)
            t0 = time.perf_counter()
            if on:
                load_world(url, "growth_stall", "marcus_thompson", seed=0)
            else:
                with checks_off():
                    load_world(url, "growth_stall", "marcus_thompson", seed=0)
            return time.perf_counter() - t0

    with_checks = statistics.median(once(True) for _ in range(repeat))
    without = statistics.median(once(False) for _ in range(repeat))
    return {"without_checks_s": round(without, 3), "with_checks_s": round(with_checks, 3),
            "ratio": round(with_checks / without, 2)}  # fmt: skip


def large(name: str, url_for: Any, rows: dict, repeat: int) -> dict[str, Any]:
    times = {}
    for on in (False, True):
        url, cleanup = url_for()
        try:
            init_database(url)
            t0 = time.perf_counter()
            with writable_connection(url) as conn:
                if on:
                    store_rows(conn, rows, kind="load", source="benchmark", url=name)
                else:
                    with checks_off():
                        store_rows(conn, rows, kind="load", source="benchmark", url=name)
            times[on] = time.perf_counter() - t0
            if not on:
                continue
            with writable_connection(url) as conn:
                as_of = admin.q.latest_activity(conn)
                assert as_of is not None
                alone = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    run_checks(conn, metadata.tables, as_of, present=set(TABLE_NAMES))
                    alone.append(time.perf_counter() - t0)
            provider = ProductionDataProvider(url, allow_writable_user=True)
            view = {}
            for label, day in (("stored", as_of), ("computed", as_of - dt.timedelta(days=12))):
                ms = []
                for _ in range(repeat):
                    provider.clear_cache()
                    t0 = time.perf_counter()
                    provider.get_view("data_quality", day)
                    ms.append((time.perf_counter() - t0) * 1000)
                view[label] = {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(_pct(ms, 0.95), 1)}
            verdict = provider.data_quality().verdict
            provider.close()
        finally:
            cleanup()
    return {"backend": name, "load_without_checks_s": round(times[False], 2), "load_with_checks_s": round(times[True], 2),
            "load_ratio": round(times[True] / times[False], 3), "checks_alone_s": round(statistics.median(alone), 2),
            "view": view, "verdict": verdict}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=os.environ.get("CJSIM_BENCH_PG_URL") or os.environ.get("CJSIM_TEST_PG_URL"))
    parser.add_argument("--skip-large", action="store_true", help="Only the default-world measurements.")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                              f"Python {platform.python_version()}"}  # fmt: skip
    result["default_worlds"] = default_worlds(args.repeat)
    result["db_load_default_world"] = db_load(args.repeat)
    if not args.skip_large:
        rows, seconds = build_world(args.customers, "steady_operations", "marcus_thompson", 0, 150)
        result["large"] = {
            "customers": len(rows["customers"]),
            "orders": len(rows["orders"]),
            "generate_s": round(seconds, 1),
        }
        backends = []
        for name in args.backends.split(","):
            if name == "sqlite":
                tmp = tempfile.TemporaryDirectory()

                def sqlite_url(tmp=tmp) -> tuple[str, Any]:
                    path = Path(tmp.name) / f"q{time.perf_counter_ns()}.db"
                    return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)

                backends.append(large("sqlite", sqlite_url, rows, args.repeat))
            elif name == "postgres" and args.pg_url:

                def pg_url() -> tuple[str, Any]:
                    url, schema = _pg_schema_url(args.pg_url)
                    return url, lambda: _drop_pg_schema(args.pg_url, schema)

                backends.append(large("postgres", pg_url, rows, args.repeat))
        result["large"]["backends"] = backends
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
