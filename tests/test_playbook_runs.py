"""The run log: one ops_runs_log row per run, on SQLite and PostgreSQL, also for a run killed mid-way."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.errors import InvalidArgumentError
from app.retention.runs import INTERRUPTED, RunLog
from app.storage.ops import OpsStore
from tests.pg_support import PgSchemas, pg_schemas  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.date(2025, 3, 12)
NOW = dt.datetime(2025, 3, 12, 6, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.db'}"
    schemas: PgSchemas = request.getfixturevalue("pg_schemas")
    return schemas.new("runs")


@pytest.fixture
def store(store_url: str) -> OpsStore:
    return OpsStore.from_url(store_url)


def test_each_run_leaves_one_row_with_its_outcome(store: OpsStore) -> None:
    log = RunLog(store)
    with log.recorded(DAY, "k1", now=NOW, actor="test") as run:
        run.update(severity="WARNING", p1_count=3, p2_count=5, p3_count=0, webhook_status="shadow")
    with log.recorded(DAY, "k1", now=NOW, actor="test") as run:
        run.update(status="skipped", severity="INFO", alert_flag=False)
    with pytest.raises(InvalidArgumentError), log.recorded(DAY, "k1", now=NOW, actor="test") as run:
        run.update(severity="CRITICAL")
        raise InvalidArgumentError("the export folder cannot be written")
    rows = log.list()
    assert [(r.run_id, r.status, r.severity) for r in rows] == [
        (3, "failed", "CRITICAL"),
        (2, "skipped", "INFO"),
        (1, "success", "WARNING"),
    ]
    assert rows[0].error_message == "the export folder cannot be written"
    assert rows[2].p2_count == 5 and rows[2].webhook_status == "shadow"
    assert all(r.finished_at is not None and r.finished_at >= NOW and r.execution_time_ms is not None for r in rows)
    assert log.get(2) == rows[1] and log.list(DAY - dt.timedelta(days=1)) == []


def test_an_outcome_column_that_does_not_exist_is_a_bug_caught_early(store: OpsStore) -> None:
    log = RunLog(store)
    with (
        pytest.raises(TypeError, match="not a run outcome column: slack_ts"),
        log.recorded(DAY, "k", now=NOW, actor="t") as run,
    ):
        run.update(slack_ts="1")
    assert [r.status for r in log.list()] == ["failed"]


_STARTS_AND_HANGS = """
import datetime as dt, sys, time
from app.retention.runs import RunLog
from app.storage.ops import OpsStore
log = RunLog(OpsStore.from_url(sys.argv[1]))
with log.recorded(dt.date(2025, 3, 12), "k", now=dt.datetime(2025, 3, 12, 6), actor="killed") as run:
    print("started", flush=True)
    time.sleep(120)
"""


def test_a_run_killed_mid_way_is_recorded_as_failed_when_the_next_run_starts(store: OpsStore, store_url: str) -> None:
    url = store_url
    proc = subprocess.Popen(
        [sys.executable, "-c", _STARTS_AND_HANGS, url],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    log = RunLog(store)
    assert [(r.status, r.actor) for r in log.list()] == [("running", "killed")]
    assert log.reconcile(NOW) == []  # its process is alive: not touched
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with log.recorded(DAY, "k", now=NOW, actor="next") as run:
        run.update(status="skipped")
    killed, nxt = log.list()[::-1]
    assert (killed.status, killed.error_message, killed.actor) == ("failed", INTERRUPTED, "killed")
    assert (nxt.status, nxt.actor) == ("skipped", "next")
