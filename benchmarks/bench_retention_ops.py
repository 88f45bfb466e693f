"""Benchmark of retention operations on a large database: queue build, alert decision, context, brief, export.

Loads one synthetic world (default: 100k customers, about 0.9M orders, as ``bench_production.py``)
into a fresh SQLite file and a fresh PostgreSQL schema, each with its own operations store, and
times through the registered tools (uncached: the view cache is cleared before each call):

* ``get_alert_decision`` and ``get_operational_context`` at the data's last day;
* ``build_priority_queue`` for ``--repeat`` consecutive run dates (each a real build: a different
  date is a different idempotency key) and a rebuild of an already built date (the library call);
* ``generate_brief`` in each format, ``export_audience`` of each tier;
* a whole run: alert -> context -> queue -> brief -> the three exports, at a fresh date.

Baseline measured in the same run: ``financial_metrics 90d`` uncached (an existing view over the
daily order summary); every figure is also reported as a ratio to it, so machines and load compare.
Targets: ``build_priority_queue`` <= 2 s on each backend; a whole run <= 5 s.

Usage::

    python benchmarks/bench_retention_ops.py [--customers 100000] [--repeat 3] [--backends sqlite,postgres] \\
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--json out.json]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_production import _drop_pg_schema, _pg_schema_url, build_world

from app.providers.production import ProductionDataProvider
from app.retention.facts import retention_facts
from app.retention.queue import priority_queue, source_currency, write_queue
from app.storage.admin import init_database, store_rows, writable_connection
from app.storage.ops import OpsStore
from app.tools import call_tool

QUEUE_TARGET_S = 2.0
RUN_TARGET_S = 5.0


def _ms(fn: Callable[[], Any], repeat: int, before: Callable[[], None] | None = None) -> list[float]:
    out = []
    for _ in range(repeat):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _row(label: str, times: list[float], base: float) -> dict[str, Any]:
    med = statistics.median(times)
    return {
        "step": label,
        "median_ms": round(med, 1),
        "max_ms": round(max(times), 1),
        "vs_baseline": round(med / base, 1),
    }


def bench_backend(name: str, url: str, ops_url: str, rows: dict, repeat: int) -> dict[str, Any]:
    init_database(url)
    with writable_connection(url) as conn:
        store_rows(conn, rows, kind="load", source="benchmark", url=name)
    provider = ProductionDataProvider(url, ops_url=ops_url, allow_writable_user=True)  # the benchmark's own scratch
    last = provider.default_as_of()
    day = dt.timedelta(days=1)
    clear = provider.clear_cache
    base_times = _ms(lambda: provider.get_view("financial_metrics", time_range="90d"), repeat, clear)
    base = statistics.median(base_times)
    steps = [_row("baseline: financial_metrics 90d", base_times, base)]
    steps.append(_row("get_alert_decision", _ms(lambda: provider.get_view("get_alert_decision"), repeat, clear), base))
    steps.append(
        _row("get_operational_context", _ms(lambda: provider.get_view("get_operational_context"), repeat, clear), base)
    )
    dates = iter(last - k * day for k in range(repeat))
    queue = _ms(lambda: call_tool(provider, "build_priority_queue", {"date": next(dates).isoformat()}), repeat)
    steps.append(_row("build_priority_queue (tool, new date)", queue, base))
    ops = provider.ops
    assert ops is not None

    def rebuild() -> None:
        facts = provider.read_source(lambda conn: retention_facts(conn, last))
        currency = provider.read_source(source_currency)
        with ops.transaction() as conn:
            write_queue(conn, facts, priority_queue(facts, currency), currency=currency, now=dt.datetime(2025, 1, 1))

    steps.append(_row("rebuild of a built date (library)", _ms(rebuild, repeat), base))
    for fmt in ("slack", "email", "markdown"):
        steps.append(
            _row(
                f"generate_brief {fmt}", _ms(lambda f=fmt: provider.get_view("generate_brief", format=f), repeat), base
            )
        )
    with tempfile.TemporaryDirectory() as folder:
        cwd = os.getcwd()
        os.chdir(folder)  # exports land in the scratch folder
        try:
            for tier in ("P1", "P2", "P3"):
                limits = iter(range(2000, 2000 + repeat))  # a new limit is a new idempotency key: a real export
                times = _ms(
                    lambda t=tier, n=limits: call_tool(provider, "export_audience", {"tier": t, "limit": next(n)}),
                    repeat,
                )
                steps.append(_row(f"export_audience {tier}", times, base))
            run_day = (last - (repeat + 1) * day).isoformat()

            def whole_run() -> None:
                clear()
                provider.get_view("get_alert_decision", date=run_day)
                provider.get_view("get_operational_context", date=run_day)
                call_tool(provider, "build_priority_queue", {"date": run_day})
                provider.get_view("generate_brief", date=run_day)
                for tier in ("P1", "P2", "P3"):
                    call_tool(provider, "export_audience", {"date": run_day, "tier": tier})

            steps.append(_row("whole run (alert, context, queue, brief, 3 exports)", _ms(whole_run, 1), base))
        finally:
            os.chdir(cwd)
    counts = provider.get_view("generate_brief").to_json()["brief"]["queue"]
    provider.close()
    return {"backend": name, "as_of": last.isoformat(), "queue": counts, "steps": steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--scenario", default="churn_spike")
    parser.add_argument("--merchant", default="zoe_martinez")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=os.environ.get("CJSIM_BENCH_PG_URL") or os.environ.get("CJSIM_TEST_PG_URL"))
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    rows, seconds = build_world(args.customers, args.scenario, args.merchant, args.seed, 365)
    print(f"world: {len(rows['customers']):,} customers, {len(rows['orders']):,} orders (generated in {seconds:.1f}s)")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                results.append(
                    bench_backend("sqlite", f"sqlite:///{tmp}/shop.db", f"sqlite:///{tmp}/ops.db", rows, args.repeat)
                )
            elif backend == "postgres":
                if not args.pg_url:
                    print("postgres: skipped (no --pg-url, CJSIM_BENCH_PG_URL or CJSIM_TEST_PG_URL)")
                    continue
                url, schema = _pg_schema_url(args.pg_url)
                ops_url, ops_schema = _pg_schema_url(args.pg_url)
                try:
                    OpsStore.from_url(ops_url)
                    results.append(bench_backend("postgres", url, ops_url, rows, args.repeat))
                finally:
                    _drop_pg_schema(args.pg_url, schema)
                    _drop_pg_schema(args.pg_url, ops_schema)
            else:
                parser.error(f"unknown backend {backend!r}; use sqlite and/or postgres")
    failed = False
    for r in results:
        q = r["queue"]
        print(
            f"\n{r['backend']} (as of {r['as_of']}; queue P1 {q['p1_count']}, P2 {q['p2_count']}, P3 {q['p3_count']} "
            f"of {q['population']:,} customers)"
        )
        print(f"{'step':<54} {'median':>10} {'max':>10} {'x baseline':>11}")
        for s in r["steps"]:
            print(f"{s['step']:<54} {s['median_ms']:>7.1f} ms {s['max_ms']:>7.1f} ms {s['vs_baseline']:>10.1f}x")
        queue_ms = next(s["median_ms"] for s in r["steps"] if s["step"].startswith("build_priority_queue"))
        run_ms = r["steps"][-1]["median_ms"]
        ok = queue_ms <= QUEUE_TARGET_S * 1000 and run_ms <= RUN_TARGET_S * 1000
        failed |= not ok
        print(f"targets: queue <= {QUEUE_TARGET_S:g} s, whole run <= {RUN_TARGET_S:g} s: {'met' if ok else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
