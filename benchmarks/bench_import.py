"""Benchmark of `cjsim db import` on a UCI Online Retail-sized invoice-line export.

Generates a 541,909-line export in the UCI shape (``examples/online_retail/generate.py``, fixed
seed, about 4,400 customers) and imports it with ``examples/online_retail/mapping.yaml`` into a
fresh SQLite file and a fresh PostgreSQL schema. Each import runs the real command line in a
child process, end to end: read, validate, transform, group, write, daily summaries, customer
facts, statistics, commit. Wall time and the child's peak memory (max RSS, from ``wait4``) are
measured per import. Baseline in the same run: reading the file once with Python's csv module.

Usage::

    python benchmarks/bench_import.py [--lines 541909] [--backends sqlite,postgres] \\
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

PostgreSQL is reached at ``--pg-url``, else ``$CJSIM_BENCH_PG_URL`` or ``$CJSIM_TEST_PG_URL``; the
benchmark creates its own schema and drops it afterwards. Targets: <= 15 s and < 1 GB peak RSS
per import on both backends.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
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


def _pg_url(cli: str | None) -> str | None:
    return cli or os.environ.get("CJSIM_BENCH_PG_URL") or os.environ.get("CJSIM_TEST_PG_URL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=UCI_LINES)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=None)
    args = parser.parse_args()
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "lines": args.lines,
    }
    with tempfile.TemporaryDirectory(prefix="cjsim-bench-import-") as tmp:
        export = Path(tmp) / "online_retail.csv"
        t0 = time.perf_counter()
        write_export(export, args.lines, customers=UCI_CUSTOMERS)
        results["generate_seconds"] = round(time.perf_counter() - t0, 2)
        results["file_mb"] = round(export.stat().st_size / 2**20, 1)
        baseline = _csv_read_seconds(export)
        results["baseline_csv_read_seconds"] = round(baseline, 2)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                res = _import(f"sqlite:///{Path(tmp) / 'bench.db'}", export)
            else:
                base = _pg_url(args.pg_url)
                if base is None:
                    results[backend] = "skipped: no --pg-url / CJSIM_BENCH_PG_URL / CJSIM_TEST_PG_URL"
                    continue
                base = make_url(base).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
                schema = f"cjsim_bench_import_{uuid.uuid4().hex[:8]}"
                engine = create_engine(base)
                with engine.begin() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{schema}"'))
                try:
                    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
                    res = _import(url.render_as_string(hide_password=False), export)
                finally:
                    with engine.begin() as conn:
                        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                    engine.dispose()
            res["x_baseline"] = round(float(res["seconds"]) / baseline, 1)  # type: ignore[arg-type]
            results[backend] = res
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
