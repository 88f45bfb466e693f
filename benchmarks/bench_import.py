"""Benchmark of `cjsim db import` on a UCI Online Retail-sized invoice-line export.

Generates a 541,909-line export in the UCI shape (``examples/online_retail/generate.py``, fixed
seed, about 4,400 customers) and imports it with ``examples/online_retail/mapping.yaml`` into a
fresh SQLite file and a fresh PostgreSQL schema. Each import runs the real command line in a
child process, end to end: read, validate, transform, group, write, daily summaries, customer
facts, statistics, commit. Wall time and the child's peak memory (max RSS, from ``wait4``) are
measured per import. Baseline in the same run: reading the file once with Python's csv module.

A second case, ``--v1-mb 15,100``, writes exports of a subscription shop of about that many
megabytes in all (customers, subscriptions, orders and tickets in the shapes of
``examples/production``, with ``$1,234.50`` totals and 12-hour timestamps; fixed seed, every row
valid) and imports them with the version-1 mapping ``examples/production/mapping.yaml``: peak
memory should stay flat as the files grow.

Usage::

    python benchmarks/bench_import.py [--lines 541909] [--backends sqlite,postgres] \\
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--cases uci,v1] [--v1-mb 15,100]

PostgreSQL is reached at ``--pg-url``, else ``$CJSIM_BENCH_PG_URL`` or ``$CJSIM_TEST_PG_URL``; the
benchmark creates its own schema and drops it afterwards. Targets: <= 15 s and < 1 GB peak RSS
per import on both backends.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples" / "online_retail"))

from generate import write_export  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

UCI_LINES = 541_909
UCI_CUSTOMERS = 4_372
TARGET_SECONDS = 15.0
TARGET_RSS_MB = 1024.0
MAPPING = ROOT / "examples" / "online_retail" / "mapping.yaml"
V1_MAPPING = ROOT / "examples" / "production" / "mapping.yaml"
_PLANS = (("Pitmaster Box", "59.00", 1), ("Sauce Club", "29.00", 1), ("Pitmaster Box - Quarterly", "165.00", 3))
_REASONS = ("", "", "Too expensive", "Shipping problems", "Switching to competitor", "Not using it", "Other")
_STATUSES = ("paid",) * 17 + ("voided", "declined", "refunded", "partially_refunded")
_TAGS = ("late delivery", "shipping", "missing item", "billing", "cancel", "quality", "account", "general")


def write_v1_export(folder: Path, megabytes: float, seed: int = 11) -> dict[str, Path]:
    """Version-1 exports of about ``megabytes`` MB in all, in the shapes of examples/production."""
    rng = random.Random(seed)
    n_orders = int(megabytes * 2**20 * 0.85 / 66)
    n_customers = max(1, n_orders // 40)
    start = 738_000  # proleptic ordinal of 2021-07-22

    def day(ordinal: int) -> str:
        return dt.date.fromordinal(ordinal).strftime("%m/%d/%Y")

    paths = {name: folder / f"{name}.csv" for name in ("customers", "subscriptions", "orders", "support_tickets")}
    with paths["customers"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Customer ID", "First Name", "Last Name", "Email", "Country Code", "Created At"])
        for c in range(n_customers):
            w.writerow([f"cus_{c}", "Avery", f"N{c}", f"Avery.N{c}@Example.com", rng.choice(("us", "CA", "gb", "")), day(start + c % 900)])
    with paths["subscriptions"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["subscription_id", "customer_id", "product_title", "price", "charge_interval_frequency", "created_at",
                    "cancelled_at", "cancellation_reason"])  # fmt: skip
        for c in range(n_customers):
            title, price, every = rng.choice(_PLANS)
            began = start + c % 900 + rng.randrange(5)
            reason = rng.choice(_REASONS)
            w.writerow([f"sub_{c}", f"cus_{c}", title, price, every, day(began), day(began + rng.randrange(30, 400)) if reason else "", reason])
    with paths["orders"].open("w", newline="") as fh, paths["support_tickets"].open("w", newline="") as tickets:
        w, t = csv.writer(fh), csv.writer(tickets)
        w.writerow(["Name", "Customer ID", "Subscription ID", "Created at", "Total", "Financial Status"])
        t.writerow(["Ticket ID", "Requester External ID", "Created", "Tags", "Priority", "Subject", "First Reply", "Solved", "Satisfaction"])
        for o in range(n_orders):
            c = rng.randrange(n_customers)
            when = day(start + c % 900 + rng.randrange(600))
            total = f"${rng.randrange(5, 2_500):,}.{rng.randrange(100):02d}"
            w.writerow([f"#{1000 + o}", f"cus_{c}", f"sub_{c}" if o % 5 else "", f"{when} {rng.randrange(1, 13):02d}:{rng.randrange(60):02d} PM",
                        total, rng.choice(_STATUSES)])  # fmt: skip
            if o % 20 == 0:
                solved = rng.random() < 0.8
                t.writerow([5000 + o, f"cus_{c}", f"{when} 09:15", rng.choice(_TAGS), rng.choice(("Low", "Normal", "High", "urgent")),
                            "Where is my box?", f"{when} 10:30", f"{when} 17:45" if solved else "",
                            rng.randrange(1, 6) if solved and rng.random() < 0.6 else ""])  # fmt: skip
    return paths


def _csv_read_seconds(path: Path) -> float:
    t0 = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh:
        for _ in csv.reader(fh):
            pass
    return time.perf_counter() - t0


def _run(args: list[str]) -> tuple[float, float, str]:
    """Run ``cjsim`` in a child; (seconds, peak RSS in MB, output)."""
    command = [sys.executable, "-c", "from app.cli import main; main()", *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"cjsim {' '.join(args)} failed ({proc.returncode}):\n{output}")
    return seconds, usage.ru_maxrss / 1024, output  # ru_maxrss is in KiB on Linux


def _import(url: str, export: Path) -> dict[str, object]:
    _run(["db", "init", "--url", url])
    seconds, rss_mb, output = _run(["db", "import", "--url", url, "--mapping", str(MAPPING), "--orders", str(export)])
    summary = next(line for line in output.splitlines() if line.startswith("import:"))
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(rss_mb), "summary": summary,
            "met": seconds <= TARGET_SECONDS and rss_mb < TARGET_RSS_MB}  # fmt: skip


def _import_v1(url: str, files: dict[str, Path]) -> dict[str, object]:
    _run(["db", "init", "--url", url])
    options = {"customers": "--customers", "subscriptions": "--subscriptions", "orders": "--orders", "support_tickets": "--tickets"}
    args = [arg for name, path in files.items() for arg in (options[name], str(path))]
    seconds, rss_mb, output = _run(["db", "import", "--url", url, "--mapping", str(V1_MAPPING), *args])
    summary = next(line for line in output.splitlines() if line.startswith("import:"))
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(rss_mb), "summary": summary}


def _pg_url(cli: str | None) -> str | None:
    return cli or os.environ.get("CJSIM_BENCH_PG_URL") or os.environ.get("CJSIM_TEST_PG_URL")


@contextmanager
def _target(backend: str, folder: Path, pg_url: str | None) -> Iterator[str | None]:
    """A fresh SQLite file or PostgreSQL schema (dropped afterwards); None when PostgreSQL is not configured."""
    if backend == "sqlite":
        path = folder / f"bench-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        path.unlink(missing_ok=True)
        return
    base = _pg_url(pg_url)
    if base is None:
        yield None
        return
    base = make_url(base).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    schema = f"cjsim_bench_import_{uuid.uuid4().hex[:8]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=UCI_LINES)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--cases", default="uci,v1", help="uci (the invoice-line export, mapping v2), v1 (mapping v1)")
    parser.add_argument("--v1-mb", default="15,100", help="sizes of the version-1 exports, in MB")
    args = parser.parse_args()
    cases = args.cases.split(",")
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": os.getloadavg()[0],
    }
    skipped = "skipped: no --pg-url / CJSIM_BENCH_PG_URL / CJSIM_TEST_PG_URL"
    with tempfile.TemporaryDirectory(prefix="cjsim-bench-import-") as tmp:
        folder = Path(tmp)
        if "uci" in cases:
            uci: dict[str, object] = {"lines": args.lines}
            export = folder / "online_retail.csv"
            t0 = time.perf_counter()
            write_export(export, args.lines, customers=UCI_CUSTOMERS)
            uci["generate_seconds"] = round(time.perf_counter() - t0, 2)
            uci["file_mb"] = round(export.stat().st_size / 2**20, 1)
            baseline = _csv_read_seconds(export)
            uci["baseline_csv_read_seconds"] = round(baseline, 2)
            for backend in args.backends.split(","):
                with _target(backend, folder, args.pg_url) as url:
                    if url is None:
                        uci[backend] = skipped
                        continue
                    res = _import(url, export)
                res["x_baseline"] = round(float(res["seconds"]) / baseline, 1)  # type: ignore[arg-type]
                uci[backend] = res
            export.unlink()
            results["uci_v2"] = uci
        if "v1" in cases:
            for size in args.v1_mb.split(","):
                case_folder = folder / f"v1_{size}"
                case_folder.mkdir()
                files = write_v1_export(case_folder, float(size))
                case: dict[str, object] = {
                    "file_mb": round(sum(p.stat().st_size for p in files.values()) / 2**20, 1),
                    "lines": sum(1 for p in files.values() for _ in p.open()) - len(files),
                }
                for backend in args.backends.split(","):
                    with _target(backend, folder, args.pg_url) as url:
                        case[backend] = skipped if url is None else _import_v1(url, files)
                results[f"v1_{size}mb"] = case
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
