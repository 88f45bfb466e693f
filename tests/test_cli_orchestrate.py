"""``cjsim orchestrate``: a short run over a generated world, kept in an operations store."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli import app
from app.journeys.records import latest_run, read_interventions
from app.storage.ops import OpsStore

runner = CliRunner()


def test_orchestrate_prints_the_run_and_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    result = runner.invoke(app, ["orchestrate", "--days", "3", "--ops-url", url, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["mode"] == "apply" and summary["days"] == 3
    store = OpsStore.from_url(url)
    run_id = store.read(latest_run)
    assert run_id == summary["run_id"]
    records = store.read(lambda c: read_interventions(c, run_id))
    assert len(records) == sum(summary["interventions"].values()) > 0
    text = runner.invoke(app, ["orchestrate", "--days", "2"])
    assert text.exit_code == 0 and "revenue saved (vs no action)" in text.output


def test_asking_the_human_at_the_gate(tmp_path: Path) -> None:
    # every question answered "no": whatever needed approval was overridden and ran nothing
    result = runner.invoke(app, ["orchestrate", "--days", "2", "--policy", "ask", "--json"], input="n\n" * 200)
    assert result.exit_code == 0, result.output
    body = result.output[result.output.index("{"):]
    summary = json.loads(body)
    asked = result.output.count("Approve?")
    assert asked > 0 and summary["interventions"].get("overridden") == asked
    assert "pending_approval" not in summary["interventions"]
