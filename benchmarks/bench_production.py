"""Benchmark of the ProductionDataProvider on a large world: load speed and view latency.

Loads one synthetic world (default: 100k customers, about 0.9M orders and 85k tickets) into a
fresh SQLite file and a fresh PostgreSQL schema, then times every view: uncached (the view cache
is cleared before each call; the database's own page cache stays warm) and cached, reporting
p50/p95 over repeated calls.

Usage::

    python benchmarks/bench_production.py [--customers 100000] [--repeat 20] \\
        [--backends sqlite,postgres] [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
    python benchmarks/bench_production.py --shop orders_only [--customers 4300 --orders 25900]

``--shop orders_only`` times an orders-only shop instead (customers, orders and refunds, no
subscriptions or tickets; :func:`app.world.retail.retail_rows`), by default at the size of the UCI
Online Retail export (541,909 invoice lines: about 25.9k orders and 4.3k customers). Each run
also reports every view's uncached p95 as a ratio to ``financial_metrics`` (an existing view over
the same order summary) in the same run, so machines and load compare.

PostgreSQL is reached at ``--pg-url``, else ``$CJSIM_BENCH_PG_URL`` or ``$CJSIM_TEST_PG_URL``;
the benchmark creates its own schema there and drops it afterwards. Targets: load >= 50k rows/s
counted over the whole load (base rows, indexes, daily summaries, customer facts, statistics, in
one transaction, commit included), every view p95 <= 100 ms uncached and <= 1 ms cached.
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
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.providers.production import ProductionDataProvider
from app.scenarios import get_persona, get_scenario
from app.storage.admin import init_database, store_rows, writable_connection
from app.world.context import resolve_context
from app.world.generator import generate_world
from app.world.retail import retail_rows
from app.world.world import WorldSpec

LOAD_TARGET_ROWS_S = 50_000
UNCACHED_P95_MS = 100.0
CACHED_P95_MS = 1.0

VIEW_CASES: list[tuple[str, dict[str, Any]]] = [
    ("daily_briefing", {}),
    ("ticket_metrics", {"time_range": "90d"}),
    ("financial_metrics", {"time_range": "90d", "include_cohorts": True}),
    ("customer_segment", {"segment": "at_risk", "depth": "detailed"}),
    ("crisis_analysis", {"crisis_type": "auto", "include_historical": True}),
    ("detect_anomalies", {"sensitivity": "high"}),
    ("order_metrics", {"time_range": "90d"}),
    ("order_metrics", {"time_range": "30d"}),
    ("customer_list", {"filter": "active", "sort_by": "name", "limit": 100}),
    ("customer_list", {"filter": "all", "sort_by": "recent", "limit": 100}),
    ("customer_list", {"filter": "order_at_risk", "sort_by": "ltv", "limit": 100}),
    ("customer_list", {"filter": "order_inactive", "sort_by": "recent", "limit": 100}),
    ("customer_profile", {}),  # customer id filled in: the riskiest customer
    ("search_tickets", {"query": "box", "limit": 50}),
    ("business_timeline", {"days_before": 120, "days_after": 30}),
]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def build_world(customers: int, scenario: str, merchant: str, seed: int, history_days: int) -> tuple[dict, float]:
    """Generate a world with about ``customers`` customers; returns (snapshot rows, seconds)."""
    sc, persona = get_scenario(scenario), get_persona(merchant)
    context = resolve_context(persona, sc)
    probe = generate_world(WorldSpec(sc, persona, context, seed=seed, subscribers=2000, history_days=history_days))
    per_subscriber = len(probe.snapshot()["customers"]) / 2000
    subscribers = max(50, round(customers / per_subscriber))
    t0 = time.perf_counter()
    world = generate_world(
        WorldSpec(sc, persona, context, seed=seed, subscribers=subscribers, history_days=history_days)
    )
    rows = world.snapshot()
    return rows, time.perf_counter() - t0


def time_views(provider: ProductionDataProvider, repeat: int) -> list[dict[str, Any]]:
    riskiest = provider.customer_list("all", 1, "risk").customers[0].customer_id
    out = []
    for view, args in VIEW_CASES:
        if view == "customer_profile":
            args = {"customer_id": riskiest}
        uncached = []
        for _ in range(repeat):
            provider.clear_cache()
            t0 = time.perf_counter()
            provider.get_view(view, **args)
            uncached.append((time.perf_counter() - t0) * 1000)
        provider.get_view(view, **args)
        cached = []
        for _ in range(max(repeat, 100)):
            t0 = time.perf_counter()
            provider.get_view(view, **args)
            cached.append((time.perf_counter() - t0) * 1000)
        out.append(
            {
                "view": view + (f" {args['time_range']}" if view == "order_metrics" else ""),
                "args": args,
                "uncached_p50_ms": round(statistics.median(uncached), 2),
                "uncached_p95_ms": round(_pct(uncached, 0.95), 2),
                "cached_p50_ms": round(statistics.median(cached), 4),
                "cached_p95_ms": round(_pct(cached, 0.95), 4),
            }
        )
    base = next(v["uncached_p95_ms"] for v in out if v["view"] == "financial_metrics")
    for v in out:
        v["p95_vs_financial_metrics"] = round(v["uncached_p95_ms"] / base, 2) if base else None
    return out


def bench_backend(name: str, url: str, rows: dict, repeat: int) -> dict[str, Any]:
    init_database(url)
    t0 = time.perf_counter()
    with writable_connection(url) as conn:
        report = store_rows(conn, rows, kind="load", source="benchmark", url=name)
    load_seconds = time.perf_counter() - t0  # with connecting and the commit
    t0 = time.perf_counter()
    provider = ProductionDataProvider(url, allow_writable_user=True)  # the benchmark's own scratch schema
    open_ms = (time.perf_counter() - t0) * 1000
    views = time_views(provider, repeat)
    provider.close()
    return {
        "backend": name,
        "rows": report.total_rows,
        "insert_seconds": round(report.insert_seconds, 2),
        "rows_per_second": round(report.rows_per_second),
        "summaries_seconds": round(report.summary_seconds, 2),
        "load_total_seconds": round(load_seconds, 2),
        "load_total_rows_per_second": round(report.total_rows / load_seconds),
        "open_ms": round(open_ms, 1),
        "views": views,
    }


def _pg_schema_url(base: str) -> tuple[str, str]:
    schema = f"cjsim_bench_{uuid.uuid4().hex[:8]}"
    url = make_url(base).set(drivername="postgresql+psycopg")
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False), schema


def _drop_pg_schema(base: str, schema: str) -> None:
    admin = create_engine(make_url(base).set(drivername="postgresql+psycopg"))
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def print_table(result: dict[str, Any]) -> None:
    print(
        f"\n{result['backend']}: {result['rows']:,} rows loaded in {result['load_total_seconds']}s "
        f"({result['load_total_rows_per_second']:,} rows/s over the whole load); base-row inserts "
        f"{result['insert_seconds']}s ({result['rows_per_second']:,} rows/s), indexes + summaries + customer "
        f"facts {result['summaries_seconds']}s; open {result['open_ms']} ms"
    )
    print(f"{'view':<22} {'uncached p50':>13} {'p95':>9} {'vs fin.':>8} {'cached p50':>11} {'p95':>9}")
    for v in result["views"]:
        print(
            f"{v['view']:<22} {v['uncached_p50_ms']:>10.1f} ms {v['uncached_p95_ms']:>6.1f} ms "
            f"{v['p95_vs_financial_metrics']:>7.2f}x {v['cached_p50_ms']:>8.4f} ms {v['cached_p95_ms']:>6.4f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shop", choices=("world", "orders_only"), default="world")
    parser.add_argument("--customers", type=int, help="default 100000 (world) or 4300 (orders_only)")
    parser.add_argument("--orders", type=int, default=25_900, help="orders of an orders-only shop")
    parser.add_argument("--scenario", default="churn_spike")
    parser.add_argument("--merchant", default="zoe_martinez")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--history-days", type=int, default=365, help="simulated days (more days, more tickets)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=os.environ.get("CJSIM_BENCH_PG_URL") or os.environ.get("CJSIM_TEST_PG_URL"))
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)

    if args.shop == "orders_only":
        t0 = time.perf_counter()
        rows = retail_rows(customers=args.customers or 4_300, orders=args.orders, seed=args.seed)
        gen_s = time.perf_counter() - t0
        source = f"orders-only shop seed {args.seed}"
    else:
        rows, gen_s = build_world(args.customers or 100_000, args.scenario, args.merchant, args.seed, args.history_days)
        source = f"world: {args.scenario}/{args.merchant} seed {args.seed}"
    counts = {k: len(v) for k, v in rows.items()}
    print(f"{source}, generated in {gen_s:.1f}s: {counts}")
    results = []
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in backends:
            results.append(bench_backend("sqlite", f"sqlite:///{tmp}/bench.db", rows, args.repeat))
            print_table(results[-1])
        if "postgres" in backends:
            if not args.pg_url:
                print("postgres: skipped (no --pg-url, CJSIM_BENCH_PG_URL or CJSIM_TEST_PG_URL)")
            else:
                url, schema = _pg_schema_url(args.pg_url)
                try:
                    results.append(bench_backend("postgres", url, rows, args.repeat))
                    print_table(results[-1])
                finally:
                    _drop_pg_schema(args.pg_url, schema)
    failures = []
    for r in results:
        if r["load_total_rows_per_second"] < LOAD_TARGET_ROWS_S:
            failures.append(f"{r['backend']}: load {r['load_total_rows_per_second']:,} rows/s < {LOAD_TARGET_ROWS_S:,}")
        for v in r["views"]:
            if v["uncached_p95_ms"] > UNCACHED_P95_MS:
                failures.append(f"{r['backend']} {v['view']}: uncached p95 {v['uncached_p95_ms']} ms")
            if v["cached_p95_ms"] > CACHED_P95_MS:
                failures.append(f"{r['backend']} {v['view']}: cached p95 {v['cached_p95_ms']} ms")
    print("\ntargets: " + ("all met" if not failures else "MISSED: " + "; ".join(failures)))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": dt.date.today().isoformat(),
                    "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
                    "world": {"shop": args.shop, "scenario": args.scenario, "merchant": args.merchant, "rows": counts},
                    "results": results,
                    "failures": failures,
                },
                indent=1,
                default=str,
            )
        )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
