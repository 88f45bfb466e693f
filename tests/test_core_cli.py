"""``cjsim core``: the happy paths (the mistakes are in test_cli_no_traceback.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli import app
from app.datafiles import data_dir

runner = CliRunner()
SAMPLE = data_dir() / "templates" / "samples" / "telco_churn_sample.csv"


def test_import_reports_counts_and_rejects(tmp_path: Path) -> None:
    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    rejects = tmp_path / "rejects.csv"
    args = ["core", "import", str(SAMPLE), "--template", "telecom", "--ops-url", ops, "--as-of", "2025-02-28"]
    result = runner.invoke(app, [*args, "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "read 200 record(s) of telco_churn_sample.csv, imported 197 as telecom entities (50 outcome(s), 3 segment(s)), rejected 3" in text
    assert "telco_churn_sample.csv:19: TotalCharges: empty" in text
    with rejects.open(newline="") as fh:
        assert [(r["line"], r["reason"]) for r in csv.DictReader(fh)] == [
            ("19", "TotalCharges: empty"), ("90", "TotalCharges: empty"), ("153", "TotalCharges: empty")]
    again = runner.invoke(app, [*args, "--json"])
    assert again.exit_code == 0, again.output
    payload = json.loads(again.output)
    assert (payload["run_id"], payload["imported"], payload["rejected"]) == (2, 197, 3)
    (reason,) = payload["rejects"]
    assert reason["reason"].endswith("TotalCharges: empty") and reason["count"] == 3
    assert reason["examples"][0] == "telco_churn_sample.csv:19: TotalCharges: empty"


def test_industries_and_load_world(tmp_path: Path) -> None:
    listed = runner.invoke(app, ["core", "industries", "--json"])
    assert listed.exit_code == 0
    assert sorted(json.loads(listed.output)) == ["financial_services", "healthcare", "real_estate", "retail", "telecom"]
    schema = json.loads(runner.invoke(app, ["core", "industries", "--industry", "telecom"]).output)
    assert "churn" in schema["x-outcome-types"]
    loaded = runner.invoke(app, ["core", "load-world", "--scenario", "churn_spike", "--merchant", "sarah_chen",
                                 "--ops-url", f"sqlite:///{tmp_path / 'ops.db'}", "--json"])
    assert loaded.exit_code == 0, loaded.output
    result = json.loads(loaded.output)
    assert result["entities"] > 0 and result["outcomes"] > 0 and result["segments"] >= 1
