"""trigger_playbook end to end on a generated world: one run row and one audit row per trigger,
whatever the webhook does; shadow mode posts nothing; INFO is skipped; CRITICAL escalates."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from app.errors import ActionDeclinedError, ActionFailedError
from app.providers.data_agent import DataAgent
from app.retention.delivery import PlaybookSettings, idempotency_key
from app.retention.runs import INTERRUPTED, RunLog
from app.storage.ops import OpsStore
from app.tools import call_tool
from app.views.retention_playbook import using_playbook_settings
from tests.conftest import cached_agent
from tests.webhook_server import WebhookServer

ROOT = Path(__file__).resolve().parents[1]
WORLD = ("churn_spike", "marcus_thompson", 0)


@cache
def severities() -> dict[str, dt.date]:
    """The latest INFO day and the latest alert day (WARNING or CRITICAL) of the world's last 200 days."""
    agent = cached_agent(*WORLD)
    found: dict[str, dt.date] = {}
    day = agent.default_as_of()
    for back in range(200):
        d = day - dt.timedelta(days=back)
        found.setdefault(agent.get_view("get_alert_decision", None, date=d).to_json()["severity"], d)
        if "INFO" in found and ("WARNING" in found or "CRITICAL" in found):
            break
    return found


def _date(severity: str) -> dt.date:
    found = severities()
    if severity == "ALERT":
        day = found.get("CRITICAL") or found.get("WARNING")
        assert day is not None, f"no WARNING or CRITICAL day in {WORLD}: {found}"
        return day
    if severity not in found:
        pytest.fail(f"no {severity} day in the last 200 days of {WORLD}: {found}")
    return found[severity]


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataAgent:
    """The shared world with a private operations store; files land in tmp_path."""
    monkeypatch.chdir(tmp_path)
    private = copy.copy(cached_agent(*WORLD))
    private.ops = OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.db'}")
    return private


def _settings(tmp_path: Path, url: str | None = None, **over: Any) -> PlaybookSettings:
    values = {"shadow": url is None, "webhook_url": url, "retry_delay_s": 0, "timeout_s": 5,
              "output_dir": str(tmp_path / "runs"), "outbox_dir": str(tmp_path / "outbox")}  # fmt: skip
    return PlaybookSettings.model_validate({**values, **over})


def _trigger(
    agent: DataAgent, day: dt.date, settings: PlaybookSettings, approval: str | None = "approved"
) -> dict[str, Any]:
    with using_playbook_settings(settings):
        _, artifact = call_tool(agent, "trigger_playbook", {"date": day.isoformat()}, approval=approval, actor="test")  # type: ignore[arg-type]
    return artifact


def _trail(agent: DataAgent) -> tuple[list[Any], list[Any]]:
    assert agent.ops is not None
    return RunLog(agent.ops).list(), agent.ops.audit("trigger_playbook")


def test_shadow_mode_builds_everything_and_posts_nothing(agent: DataAgent, tmp_path: Path) -> None:
    day = _date("ALERT")
    with WebhookServer() as server:
        settings = _settings(tmp_path).with_overrides(webhook_url=server.url)  # a URL, but shadow mode
        out = _trigger(agent, day, settings)
    assert server.requests == []
    result = out["result"]
    assert out["status"] == "succeeded" and result["status"] == "success" and result["webhook_status"] == "shadow"
    payload = json.loads(Path(result["payload_path"]).read_text())
    assert payload["date"] == day.isoformat() and payload["idempotency_key"] == idempotency_key(day)
    assert payload["priority_counts"] == {"p1": result["p1_count"], "p2": result["p2_count"], "p3": result["p3_count"]}
    assert set(payload["export_urls"]) == ({"p1", "p2", "p3"} if result["escalation"] else {"p1", "p2"})
    assert Path(result["brief_path"]).read_text() == payload["brief_markdown"]
    for tier, path in result["export_paths"].items():
        lines = Path(path).read_text().splitlines()
        assert len(lines) - 1 == result["exported"][tier]
    runs, audit = _trail(agent)
    assert [(r.status, r.webhook_status, r.severity) for r in runs] == [("success", "shadow", payload["severity"])]
    assert runs[0].p1_count == result["p1_count"] and runs[0].total_exported == sum(result["exported"].values())
    assert [a.status for a in audit] == ["succeeded"]


def test_a_receiver_failing_twice_gets_one_execution_and_a_repeat_is_a_duplicate(
    agent: DataAgent, tmp_path: Path
) -> None:
    day = _date("ALERT")
    with WebhookServer(fail_first=2, fail_status=502) as server:
        first = _trigger(agent, day, _settings(tmp_path, server.url))
        again = _trigger(agent, day, _settings(tmp_path, server.url))
    assert first["result"]["webhook_status"] == "delivered" and first["result"]["response_status"] == 200
    assert again["status"] == "duplicate" and again["result"] == first["result"]
    assert len(server.requests) == 3 and {r["key"] for r in server.requests} == {idempotency_key(day)}
    assert list(server.executed) == [idempotency_key(day)]
    runs, audit = _trail(agent)
    assert [(r.status, r.webhook_status, r.webhook_attempts) for r in runs] == [("success", "delivered", 3)]
    assert [a.status for a in audit] == ["succeeded", "duplicate"]


def test_a_receiver_that_hangs_once_is_retried(agent: DataAgent, tmp_path: Path) -> None:
    day = _date("ALERT")
    with WebhookServer(fail_first=1, hang_s=1.5) as server:
        out = _trigger(agent, day, _settings(tmp_path, server.url, timeout_s=0.3))
    assert out["result"]["webhook_status"] == "delivered"
    assert len(server.requests) == 2 and len(server.executed) == 1
    runs, audit = _trail(agent)
    assert [(r.status, r.webhook_attempts) for r in runs] == [("success", 2)] and [a.status for a in audit] == [
        "succeeded"
    ]


@pytest.mark.parametrize(("status", "tries"), [(400, 1), (503, 3)])
def test_a_failed_delivery_fails_the_run_and_leaves_the_outbox(
    agent: DataAgent, tmp_path: Path, status: int, tries: int
) -> None:
    day = _date("ALERT")
    with WebhookServer(fail_first=99, fail_status=status) as server:
        with pytest.raises(ActionFailedError, match=rf"was not delivered: HTTP {status} .* after {tries} tr"):
            _trigger(agent, day, _settings(tmp_path, server.url))
    assert len(server.requests) == tries and server.executed == {}
    runs, audit = _trail(agent)
    assert [(r.status, r.webhook_status, r.response_status) for r in runs] == [("failed", "failed", status)]
    assert runs[0].error_message is not None and f"HTTP {status}" in runs[0].error_message
    outbox = json.loads(Path(runs[0].outbox_path or "").read_text())
    assert outbox["brief_path"] == runs[0].brief_path and outbox["export_paths"]["p1"] == runs[0].export_p1_path
    assert [a.status for a in audit] == ["failed"]
    # fixed receiver: the date can be triggered again; the same key reaches it, executed once
    with WebhookServer() as fixed:
        retry = _trigger(agent, day, _settings(tmp_path, fixed.url))
    assert retry["result"]["webhook_status"] == "delivered" and list(fixed.executed) == [idempotency_key(day)]
    runs, audit = _trail(agent)
    assert [r.status for r in runs] == ["success", "failed"] and [a.status for a in audit] == ["failed", "succeeded"]


def test_an_info_day_is_skipped_without_building_or_sending(agent: DataAgent, tmp_path: Path) -> None:
    day = _date("INFO")
    with WebhookServer() as server:
        out = _trigger(agent, day, _settings(tmp_path, server.url))
    assert server.requests == [] and not (tmp_path / "runs").exists()
    result = out["result"]
    assert (result["status"], result["webhook_status"], result["exported"]) == ("skipped", None, {})
    runs, audit = _trail(agent)
    assert [(r.status, r.severity, r.p1_count) for r in runs] == [("skipped", "INFO", None)]
    assert [a.status for a in audit] == ["succeeded"]
    assert agent.ops is not None and agent.ops.audit("build_priority_queue") == []


def test_without_approval_nothing_runs_and_the_refusal_is_audited(agent: DataAgent, tmp_path: Path) -> None:
    with pytest.raises(ActionDeclinedError, match="needs approval"):
        _trigger(agent, _date("ALERT"), _settings(tmp_path), approval=None)
    runs, audit = _trail(agent)
    assert runs == [] and [(a.status, a.approval) for a in audit] == [("declined", "declined")]


def _hanging_trigger(url: str, ops_url: str, day: dt.date, tmp_path: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "app", "ops", "trigger", "--scenario", WORLD[0], "--merchant", WORLD[1],
           "--date", day.isoformat(), "--ops-url", ops_url, "--live", "--webhook-url", url]  # fmt: skip
    return subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def test_a_trigger_killed_mid_run_is_recorded_as_failed_by_the_next_run(agent: DataAgent, tmp_path: Path) -> None:
    day = _date("ALERT")
    ops_url = f"sqlite:///{tmp_path / 'ops.db'}"
    with WebhookServer(fail_first=99, hang_s=60) as server:
        proc = _hanging_trigger(server.url, ops_url, day, tmp_path)
        try:
            deadline = time.monotonic() + 240
            while not server.requests:  # the run is mid-way: its POST is waiting for an answer
                assert proc.poll() is None and time.monotonic() < deadline, "the trigger never reached the webhook"
                time.sleep(0.1)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    store = OpsStore.from_url(ops_url)
    assert [r.status for r in RunLog(store).list()] == ["running"]
    assert store.audit("trigger_playbook") == []  # the action never finished
    with WebhookServer() as server:
        out = _trigger(agent, day, _settings(tmp_path, server.url))
    assert out["result"]["webhook_status"] == "delivered" and len(server.executed) == 1
    runs = RunLog(store).list()
    assert [(r.status, r.error_message) for r in runs] == [("success", None), ("failed", INTERRUPTED)]
    assert [a.status for a in store.audit("trigger_playbook")] == ["succeeded"]


def test_the_cli_triggers_in_shadow_mode_and_lists_the_runs(tmp_path: Path) -> None:
    ops_url = f"sqlite:///{tmp_path / 'ops.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    base = [sys.executable, "-m", "app", "ops"]
    world = ["--scenario", WORLD[0], "--merchant", WORLD[1], "--ops-url", ops_url]
    done = subprocess.run([*base, "trigger", "--date", _date("ALERT").isoformat(), *world, "--json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"]["webhook_status"] == "shadow"
    listed = subprocess.run([*base, "runs", "--ops-url", ops_url, "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert [r["status"] for r in json.loads(listed.stdout)] == ["success"]
    table = subprocess.run(
        [*base, "runs", "--ops-url", ops_url], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert table.returncode == 0 and "success" in table.stdout and "shadow" in table.stdout
    bad = subprocess.run([*base, "trigger", *world, "--live"], cwd=tmp_path, env={**env, "CJSIM_PLAYBOOK_WEBHOOK_URL": ""},
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert (
        bad.returncode == 2
        and "live playbook delivery needs a webhook URL" in bad.stderr
        and "Traceback" not in bad.stderr
    )
    no_store = subprocess.run(
        [*base, "runs"], cwd=tmp_path, env={**env, "CJSIM_OPS_URL": ""}, capture_output=True, text=True, timeout=120
    )
    assert no_store.returncode == 2 and "pass --ops-url" in no_store.stderr
