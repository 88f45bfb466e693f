"""A broken data file stops every command before anything runs: one error line, exit code 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.datafiles import data_dir

runner = CliRunner()

BREAKS = {
    "rule_cj": ("prompts/rule_cj.yaml", "max_tools_per_ask: 2", "max_tools_per_ask: [2"),
    "scripted_merchant": ("prompts/scripted_merchant.yaml", "at_risk_pattern:", "at_risk_pattern: '(' #"),
    "defects": ("prompts/defects.yaml", "nothing_called:", "nothing_called: [1, 2] #"),
    "unanswerable": (
        "prompts/rule_cj.yaml",
        '"no subscription data": [analyze_customer_segment,',
        '"no subscription data": [get_churn_report,',
    ),
}


@pytest.fixture(params=sorted(BREAKS))
def broken_data(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    folder = tmp_path / "data"
    shutil.copytree(data_dir(), folder)
    relative, old, new = BREAKS[request.param]
    path = folder / relative
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    monkeypatch.setenv("CJSIM_DATA_DIR", str(folder))
    return folder, relative


def assert_one_error_line(result, relative: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and relative in lines[0]
    assert "field '" in lines[0] or "malformed YAML" in lines[0]
    assert "Traceback" not in result.output


def test_run_stops_on_a_broken_file(broken_data: tuple[Path, str]) -> None:
    _, relative = broken_data
    assert_one_error_line(runner.invoke(app, ["run", "--scenario", "churn_spike", "--turns", "2"]), relative)


def test_batch_stops_on_a_broken_file_and_writes_nothing(broken_data: tuple[Path, str], tmp_path: Path) -> None:
    _, relative = broken_data
    out = tmp_path / "batch"
    args = ["batch", "--scenarios", "churn_spike", "--merchants", "sarah_chen", "--workflows", "crisis_response",
            "--jobs", "1", "--quiet", "--out", str(out)]  # fmt: skip
    assert_one_error_line(runner.invoke(app, args), relative)
    assert not out.exists()


@pytest.mark.parametrize("kind", ["scenarios", "views"])
def test_list_stops_on_a_broken_file(broken_data: tuple[Path, str], kind: str) -> None:
    _, relative = broken_data
    assert_one_error_line(runner.invoke(app, ["list", kind]), relative)


def test_a_file_that_is_not_utf8_is_one_error_line_from_the_console_script(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    shutil.copytree(data_dir(), folder)
    path = folder / "prompts" / "scripted_merchant.yaml"
    path.write_bytes(path.read_bytes() + "\n# d\xe9j\xe0 vu\n".encode("latin-1"))
    env = {**os.environ, "CJSIM_DATA_DIR": str(folder)}
    proc = subprocess.run(
        [sys.executable, "-m", "app", "run", "--turns", "1"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 2
    assert "scripted_merchant.yaml:" in proc.stderr and "not valid UTF-8" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
