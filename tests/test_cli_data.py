"""The ``cjsim`` data commands, including their bad-input behaviour (exit code 2, no traceback)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.storage.schema import TABLES

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_list_commands() -> None:
    for kind, expected in (("scenarios", "growth_stall"), ("merchants", "marcus_thompson"), ("views", "ticket_metrics")):
        result = invoke("list", kind)
        assert result.exit_code == 0, result.output
        assert expected in result.output


def test_data_text_and_json() -> None:
    result = invoke("data", "daily_briefing", "--scenario", "churn_spike", "--merchant", "sarah_chen", "--seed", "2")
    assert result.exit_code == 0, result.output
    assert "Daily briefing for EcoBeauty Box" in result.output
    result = invoke("data", "ticket_metrics", "--time-range", "30d", "category=billing", "--json", "-s", "churn_spike")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["time_range"] == "30d" and data["category"] == "billing"


def test_data_view_arguments_forms_agree() -> None:
    a = invoke("data", "financial_metrics", "--time-range=90d", "--include-cohorts", "--json")
    b = invoke("data", "financial_metrics", "time_range=90d", "include_cohorts=true", "--json")
    assert a.exit_code == b.exit_code == 0
    assert json.loads(a.output) == json.loads(b.output)
    assert json.loads(a.output)["cohorts"]


def test_data_as_of_moves_the_window() -> None:
    result = invoke("data", "daily_briefing", "--as-of", "2025-01-15", "--json", "-s", "steady_operations")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["as_of"] == "2025-01-15"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "daily_brief"], "unknown view 'daily_brief'; valid views:"),
        (["data", "daily_briefing", "--scenario", "nope"], "unknown scenario 'nope'; valid scenarios:"),
        (["data", "daily_briefing", "--merchant", "nobody"], "unknown merchant 'nobody'; valid merchants:"),
        (["data", "ticket_metrics", "--time-range", "2w"], "time_range: Input should be '24h'"),
        (["data", "ticket_metrics", "--colour", "red"], "unknown argument '--colour' for view 'ticket_metrics'"),
        (["data", "customer_segment", "--segment", "vip"], "segment: Input should be 'high_value'"),
        (["data", "customer_profile", "--customer-id", "C999999"], "no customer 'C999999'"),
        (["data", "daily_briefing", "--as-of", "yesterday"], "--as-of must be a date"),
        (["world", "check", "--seeds", "5-1"], "bad seed list '5-1'"),
        (["world", "export", "--out", "/dev/null/x"], "cannot create output folder"),
    ],
)
def test_bad_input_exits_2_with_one_message(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_usage_errors_exit_2() -> None:
    result = invoke("data", "daily_briefing", "--stage", "teenager")
    assert result.exit_code == 2
    assert "Invalid value for '--stage'" in result.output


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "CJSIM_DATA_DIR": str(tmp_path)}
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "broken.yaml").write_text("id: broken\ndisplay_name: [oops\n")
    proc = subprocess.run(
        [sys.executable, "-m", "app", "list", "scenarios"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 2
    assert "broken.yaml: malformed YAML at line" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_world_export_csv_matches_schema(tmp_path: Path) -> None:
    result = invoke("world", "export", "--scenario", "steady_operations", "--format", "csv", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    for table in TABLES:
        with (tmp_path / f"{table.name}.csv").open() as fh:
            header = next(csv.reader(fh))
        assert header == [c.name for c in table.columns]


def test_world_export_json_and_summary(tmp_path: Path) -> None:
    result = invoke("world", "export", "--format", "json", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    customers = json.loads((tmp_path / "customers.json").read_text())
    assert customers and set(customers[0]) == {c.name for c in TABLES[1].columns}
    result = invoke("world", "summary", "--scenario", "churn_spike", "--merchant", "zoe_martinez")
    assert result.exit_code == 0, result.output
    assert "Manifest & Chill" in result.output and "support_tickets" in result.output


def test_world_export_bad_format(tmp_path: Path) -> None:
    result = invoke("world", "export", "--format", "xml", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "unknown export format 'xml'; valid formats: csv, json" in result.output


def test_world_check_passes_for_a_scenario() -> None:
    result = invoke("world", "check", "--scenario", "growth_stall", "--merchant", "marcus_thompson", "--seeds", "0")
    assert result.exit_code == 0, result.output
    assert "expectations hold" in result.output
