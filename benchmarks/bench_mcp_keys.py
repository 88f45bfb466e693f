"""Benchmark of the API-key check of the MCP HTTP transport: what one request costs with and without it.

Sends ``--requests`` POSTs in process (httpx's ASGI transport, no socket) to a trivial ASGI app,
first bare, then behind :class:`app.mcp.http_auth.ApiKeyMiddleware` with a valid key (hash
lookup, expiry, rate limit, usage written at most once a second) on a fresh operations store of
each backend: a SQLite file and, with ``--pg-url``, a PostgreSQL schema dropped afterwards. Reports
the mean milliseconds per request of each, repeated ``--rounds`` times (median of the rounds).

Usage::

    python benchmarks/bench_mcp_keys.py [--requests 500] [--rounds 3] \\
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.mcp.http_auth import ApiKeyMiddleware
from app.mcp.keys import create_key
from app.storage.ops import OpsStore


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _ms_per_request(app: Any, headers: dict[str, str], n: int) -> float:
    async def run() -> float:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            for _ in range(20):  # warm-up: connections, caches
                await client.post("/mcp", headers=headers)
            started = time.perf_counter()
            for _ in range(n):
                if (await client.post("/mcp", headers=headers)).status_code != 200:
                    raise SystemExit("a request was refused: the benchmark's key is wrong")
            return (time.perf_counter() - started) / n * 1000

    return float(anyio.run(run))


def _measure(url: str, n: int, rounds: int) -> dict[str, float]:
    store = OpsStore.from_url(url)
    key = create_key(store, name="bench", rate_limit=100_000).key
    keyed = ApiKeyMiddleware(_ok, store)
    bare = [_ms_per_request(_ok, {}, n) for _ in range(rounds)]
    with_key = [_ms_per_request(keyed, {"Authorization": f"Bearer {key}"}, n) for _ in range(rounds)]
    keyed.flush()
    store.engine.dispose()
    return {"bare_ms": round(statistics.median(bare), 3), "with_key_ms": round(statistics.median(with_key), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-url", default=None)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": f"{platform.machine()}, Python {platform.python_version()}",
                               "requests": args.requests, "rounds": args.rounds}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = _measure(f"sqlite:///{tmp}/ops.db", args.requests, args.rounds)
    if args.pg_url:
        schema = f"cjsim_bench_keys_{uuid.uuid4().hex[:10]}"
        admin = create_engine(args.pg_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = make_url(args.pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
            results["postgresql"] = _measure(url.render_as_string(hide_password=False), args.requests, args.rounds)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    results["loadavg"] = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
