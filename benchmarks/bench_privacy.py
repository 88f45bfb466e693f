"""Privacy requests: how long an access export and an erasure (with its verifying search) take.

Loads a generated world into a fresh SQLite file (or a PostgreSQL schema named by ``--pg-url``),
fills an operations store with the same world's universal core, writes one transcript that names
the customer, then times, in this process, an access request and a deletion of one customer. The
deletion's time includes the search of every table of both stores and of the files afterwards.

Usage: python benchmarks/bench_privacy.py [--subscribers N] [--customer C000987] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.core.world_core import load_world_into_core
from app.governance import submit_request
from app.providers.loading import load_world
from app.storage.admin import init_database
from app.storage.ops import OpsStore


def _pg_schema(base: str, label: str) -> tuple[str, str]:
    name = f"cjsim_bench_{label}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    engine.dispose()
    return name, make_url(base).update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)


def _drop(base: str, names: list[str]) -> None:
    engine = create_engine(base)
    with engine.begin() as conn:
        for name in names:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=None, help="world size (default: the persona's)")
    parser.add_argument("--customer", default="C000987")
    parser.add_argument("--pg-url", default=None, help="run on PostgreSQL schemas of this server instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        schemas: list[str] = []
        if args.pg_url:
            s1, db = _pg_schema(args.pg_url, "src")
            s2, ops = _pg_schema(args.pg_url, "ops")
            schemas = [s1, s2]
        else:
            db, ops = f"sqlite:///{folder / 'shop.db'}", f"sqlite:///{folder / 'ops.db'}"
        try:
            init_database(db)
            report = load_world(db, "churn_spike", "sarah_chen", seed=0, subscribers=args.subscribers)
            store = OpsStore.from_url(ops)
            load_world_into_core(store, "churn_spike", "sarah_chen", seed=0)
            runs = folder / "runs"
            runs.mkdir()
            (runs / "transcript.txt").write_text(f"CJ: {args.customer} is at risk\n", encoding="utf-8")
            print(f"world: {report.rows.get('customers', 0):,} customers, {report.total_rows:,} base rows "
                  f"({'PostgreSQL' if args.pg_url else 'SQLite'}); {platform.machine()}, {os.cpu_count()} cores, "
                  f"Python {platform.python_version()}")
            for kind in ("access", "deletion"):
                t0 = time.perf_counter()
                out = submit_request(db, store, request_type=kind, customer_id=args.customer, regulation="gdpr",
                                     requested_by="bench", confirmed=True, transcripts=runs)
                took = time.perf_counter() - t0
                extra = f", traces {out.record.verification['traces']}" if out.record.verification else ""
                print(f"{kind}: {took:.2f} s ({out.record.status}{extra})")
            print("loadavg:", Path("/proc/loadavg").read_text().strip())
        finally:
            if schemas:
                _drop(args.pg_url, schemas)


if __name__ == "__main__":
    main()
