"""Benchmark of a whole retention operations run on a large shop: alert -> queue -> brief -> export -> playbook.

Loads one synthetic world (default: 100k customers) into a fresh SQLite file and a fresh
PostgreSQL schema (the loader of ``bench_production.py``), each with an operations store of its
own, then times the run the 90-second demo shows, on a fresh store each repetition:

    get_alert_decision -> get_operational_context -> build_priority_queue -> generate_brief
    -> export_audience P1 -> trigger_playbook (shadow mode: nothing posted)

on the latest day whose alert is WARNING or CRITICAL (the playbook then builds and exports for
real; on an INFO day it would only record a skipped run). As a baseline measured in the same run,
the uncached ``financial_metrics 90d`` view: the ratio run / baseline compares machines and load.
Target: a whole run <= 5 s at 100k customers on each backend (the retention-ops design asks < 60 s).

Usage::

    python benchmarks/bench_retention_run.py [--customers 100000] [--repeat 3] [--backends sqlite,postgres]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_production import _drop_pg_schema, _pg_schema_url, build_world

from app.providers.production import ProductionDataProvider
from app.retention.delivery import PlaybookSettings
from app.storage.admin import init_database, store_rows, writable_connection
from app.storage.ops import OpsStore
from app.tools import call_tool
from app.views.retention_playbook import using_playbook_settings

RUN_TARGET_S = 5.0


def alert_day(provider: ProductionDataProvider, look_back: int) -> dt.date:
    """The latest WARNING or CRITICAL day of the last ``look_back`` days (else the current day)."""
    today = provider.default_as_of()
    for back in range(look_back):
        day = today - dt.timedelta(days=back)
        if provider.get_view("get_alert_decision", None, date=day).to_json()["alert_flag"]:
            return day
    return today


def one_run(provider: ProductionDataProvider, day: dt.date) -> dict[str, float]:
    """Seconds per step of one whole run (view cache cleared first: every step computes)."""
    provider.clear_cache()
    d = day.isoformat()
    steps = [
        ("alert", "get_alert_decision", {"date": d}),
        ("context", "get_operational_context", {"date": d}),
        ("queue", "build_priority_queue", {"date": d}),
        ("brief", "generate_brief", {"date": d, "format": "slack"}),
        ("export_p1", "export_audience", {"date": d, "tier": "P1"}),
        ("trigger", "trigger_playbook", {"date": d}),
    ]
    out: dict[str, float] = {}
    t_all = time.perf_counter()
    for label, tool, args in steps:
        t0 = time.perf_counter()
        call_tool(provider, tool, args, approval="approved", actor="bench")
        out[label] = time.perf_counter() - t0
    out["total"] = time.perf_counter() - t_all
    return out


def bench_backend(
    name: str, url: str, rows: dict[str, Any], repeat: int, look_back: int, tmp: Path, fixed_day: dt.date | None
) -> dict[str, Any]:
    init_database(url)
    with writable_connection(url) as conn:
        store_rows(conn, rows, kind="load", source="benchmark", url=name)
    provider = ProductionDataProvider(url, allow_writable_user=True)  # the benchmark's own scratch database
    day = fixed_day or alert_day(provider, look_back)
    print(f"{name}: loaded; run date {day}", flush=True)
    severity = provider.get_view("get_alert_decision", None, date=day).to_json()["severity"]
    baseline = []
    for _ in range(5):
        provider.clear_cache()
        t0 = time.perf_counter()
        provider.get_view("financial_metrics", None, time_range="90d")
        baseline.append(time.perf_counter() - t0)
    runs = []
    for i in range(repeat):
        provider.ops = OpsStore.from_url(f"sqlite:///{tmp / f'{name}_ops_{i}.db'}")  # a fresh store: nothing reused
        with using_playbook_settings(
            PlaybookSettings(output_dir=str(tmp / f"runs_{name}_{i}"), outbox_dir=str(tmp / "outbox"))
        ):
            runs.append(one_run(provider, day))
    provider.close()
    median = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    base = statistics.median(baseline)
    steps = ", ".join(f"{k} {v:.2f}s" for k, v in median.items() if k != "total")
    print(f"{name}: {day} ({severity}): whole run {median['total']:.2f}s (median of {repeat}; baseline "
          f"financial_metrics 90d uncached {statistics.median(baseline):.3f}s)\n  {steps}", flush=True)  # fmt: skip
    return {"backend": name, "date": str(day), "severity": severity, "steps_s": median,
            "baseline_financial_metrics_s": round(base, 3), "run_vs_baseline": round(median["total"] / base, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--scenario", default="churn_spike")
    parser.add_argument("--merchant", default="zoe_martinez")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--look-back", type=int, default=30, help="days searched back for an alert day")
    parser.add_argument("--date", type=dt.date.fromisoformat, help="run date (skips the search for an alert day)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=os.environ.get("CJSIM_BENCH_PG_URL") or os.environ.get("CJSIM_TEST_PG_URL"))
    args = parser.parse_args(argv)

    rows, gen_s = build_world(args.customers, args.scenario, args.merchant, args.seed, args.history_days)
    print(f"world {args.scenario}/{args.merchant} seed {args.seed}: {len(rows['customers']):,} customers, "
          f"{len(rows['orders']):,} orders, generated in {gen_s:.1f}s; {platform.python_version()} on "
          f"{platform.machine()}, {os.cpu_count()} cores")  # fmt: skip
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.chdir(folder)  # the audience exports' relative folder
        if "sqlite" in backends:
            results.append(
                bench_backend(
                    "sqlite", f"sqlite:///{folder / 'bench.db'}", rows, args.repeat, args.look_back, folder, args.date
                )
            )
        if "postgres" in backends:
            if not args.pg_url:
                print("postgres: skipped (no --pg-url, CJSIM_BENCH_PG_URL or CJSIM_TEST_PG_URL)")
            else:
                url, schema = _pg_schema_url(args.pg_url)
                try:
                    results.append(bench_backend("postgres", url, rows, args.repeat, args.look_back, folder, args.date))
                finally:
                    _drop_pg_schema(args.pg_url, schema)
    missed = []
    for r in results:
        steps = ", ".join(f"{k} {v:.2f}s" for k, v in r["steps_s"].items() if k != "total")
        print(f"\n{r['backend']}: {r['date']} ({r['severity']}): whole run {r['steps_s']['total']:.2f}s "
              f"(median of {args.repeat}; {r['run_vs_baseline']}x financial_metrics 90d uncached, "
              f"{r['baseline_financial_metrics_s']:.3f}s)\n  {steps}")  # fmt: skip
        if r["steps_s"]["total"] > RUN_TARGET_S:
            missed.append(f"{r['backend']} {r['steps_s']['total']:.2f}s")
    print("\ntarget <= 5 s per whole run: " + ("met" if not missed else "MISSED: " + "; ".join(missed)))
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
