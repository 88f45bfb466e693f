"""``cjsim batch`` and ``cjsim eval`` from the command line: outputs, resume and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.batch.records import RunDir
from app.cli import app
from app.evaluation.registry import DETERMINISTIC_KEYS

runner = CliRunner()

SMALL = ["--scenarios", "churn_spike,growth_stall", "--merchants", "sarah_chen",
         "--workflows", "crisis_response,daily_briefing", "--seeds", "0-1"]  # fmt: skip
KEYS = ",".join(DETERMINISTIC_KEYS[:3])


def invoke(*args: str):
    return runner.invoke(app, list(args))


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "small"
    result = invoke("batch", *SMALL, "--evaluators", KEYS, "--jobs", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_batch_writes_records_and_prints_a_summary(batch: Path) -> None:
    lines = (batch / "transcripts.jsonl").read_text().splitlines()
    assert len(lines) == 8 and all(json.loads(line)["status"] == "ok" for line in lines)
    manifest = json.loads((batch / "batch.json").read_text())
    assert manifest["seeds"] == [0, 1] and manifest["evaluators"] == KEYS.split(",")
    assert manifest["merchants"] == ["sarah_chen"]


def test_summary_names_outcomes_usage_and_next_step(tmp_path: Path) -> None:
    out = tmp_path / "one"
    result = invoke("batch", "--scenarios", "churn_spike", "--merchants", "sarah_chen", "--workflows",
                    "crisis_response", "--evaluators", KEYS, "--jobs", "1", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "cases: 1 ok, 0 failed (of 1)" in text
    assert "ended: merchant_done 1" in text
    assert all(key in text for key in KEYS.split(","))
    assert "tokens cj: not reported" in text and "tokens merchant: not reported" in text
    assert f"next: cjsim report {out}" in text
    assert "batch one: 1/1 done, 0 failed" in text  # plain progress lines when not on a terminal


def test_existing_out_needs_resume(batch: Path) -> None:
    before = (batch / "transcripts.jsonl").read_bytes()
    result = invoke("batch", *SMALL, "--evaluators", KEYS, "--out", str(batch))
    assert result.exit_code == 2
    assert "already holds a batch; pass --resume" in flat(result.output)
    assert (batch / "transcripts.jsonl").read_bytes() == before


def test_resume_reuses_saved_arguments_and_refuses_other_ones(batch: Path) -> None:
    result = invoke("batch", "--out", str(batch), "--resume", "--quiet")
    assert result.exit_code == 0, result.output
    assert "ran 0 cases" in result.output and "cases: 8 ok" in result.output
    result = invoke("batch", "--out", str(batch), "--resume", "--seeds", "0-2", "--cj-model", "rules:skip_tools")
    assert result.exit_code == 2
    text = flat(result.output)
    assert "was started with other arguments: seeds 0,1 (now 0,1,2); cj-model 'rules' (now 'rules:skip_tools')" in text
    assert "Traceback" not in result.output


def test_resume_after_a_kill_runs_the_missing_cases(batch: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    out.mkdir()
    (out / "batch.json").write_text((batch / "batch.json").read_text())
    lines = (batch / "transcripts.jsonl").read_text().splitlines(keepends=True)
    (out / "transcripts.jsonl").write_text("".join(lines[:6]) + lines[6][:100])
    result = invoke("batch", "--out", str(out), "--resume", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "ran 2 cases" in result.output
    assert len(RunDir(out).records()) == 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenarios", "churn_spike,boom"], "unknown scenario 'boom'; valid scenarios: churn_spike,"),
        (["--merchants", "nobody"], "unknown merchant 'nobody'; valid merchants:"),
        (["--workflows", "nightly"], "unknown workflow 'nightly'; valid workflows:"),
        (["--seeds", "5-2"], "bad seed list '5-2'; use e.g. 0-9, 1,4,7 or 3"),
        (["--seeds", "a"], "bad seed list 'a'"),
        (["--jobs", "0"], "jobs must be between 1 and 256, got 0"),
        (["--evaluators", "grounding,nope"], "unknown evaluator 'nope'; valid evaluators:"),
        (["--cj-model", "gpt4"], "unknown model spec 'gpt4'"),
        (["--turns", "0"], "turns must be between 1 and 100"),
        (["--judge-model", "rules"], "needs a provider model"),
        (["--input-price", "-1"], "--input-price must not be negative"),
        (["--provider", "production"], "needs a database: pass --db-url URL or set CJSIM_DB_URL"),
    ],
)
def test_bad_input_is_one_error_line(args: list[str], message: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CJSIM_DB_URL", raising=False)
    result = invoke("batch", *args, "--out", str(tmp_path / "b"))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and result.output.strip().count("\n") == 0, result.output
    assert message in result.output
    assert not (tmp_path / "b").exists()


def test_eval_rescores_and_keeps_the_batch(batch: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    out.mkdir()
    for name in ("batch.json", "transcripts.jsonl"):
        (out / name).write_text((batch / name).read_text())
    key = DETERMINISTIC_KEYS[-1]
    result = invoke("eval", str(out), "--evaluators", key, "--quiet")
    assert result.exit_code == 0, result.output
    assert f"re-scored 8 conversations ({key}); kept 0 failed" in flat(result.output)
    records, before = RunDir(out).records(), RunDir(batch).records()
    # the new evaluator's result is added; every other score and the conversation are untouched
    for old, new in zip(before, records, strict=True):
        assert [s.key for s in new.scores] == [*KEYS.split(","), key] and new.scores[:-1] == old.scores
        assert new.model_dump(exclude={"scores"}) == old.model_dump(exclude={"scores"})
    assert json.loads((out / "batch.json").read_text())["evaluators"] == [*KEYS.split(","), key]


def test_eval_with_the_judge_keeps_every_other_score(batch: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    out.mkdir()
    for name in ("batch.json", "transcripts.jsonl"):
        (out / name).write_text((batch / name).read_text())
    criteria = ("accuracy", "helpfulness", "tone", "role_adherence", "knowledge_retention", "completeness")
    verdict = json.dumps({"verdicts": [{"criterion": c, "passed": c != "tone", "reason": "r"} for c in criteria]})
    replies = tmp_path / "verdicts.yaml"
    replies.write_text(json.dumps({"replies": [verdict]}))
    result = invoke("eval", str(out), "--evaluators", "judge", "--judge-model", f"replay:{replies}", "--quiet")
    assert result.exit_code == 0, result.output
    before = RunDir(batch).records()
    for old, new in zip(before, RunDir(out).records(), strict=True):
        assert new.scores[:-1] == old.scores  # every earlier score kept, in place
        judge = new.scores[-1]
        assert judge.key == "judge" and judge.score == pytest.approx(5 / 6) and judge.passed
        assert new.transcript == old.transcript
    manifest = json.loads((out / "batch.json").read_text())
    assert manifest["evaluators"][-1] == "judge" and manifest["judge_model"] == f"replay:{replies}"


def test_eval_needs_a_readable_batch(tmp_path: Path) -> None:
    result = invoke("eval", str(tmp_path / "missing"))
    assert result.exit_code == 2 and "is not a folder" in flat(result.output)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "transcripts.jsonl").write_text("not json\n{}\n")
    result = invoke("eval", str(bad))
    assert result.exit_code == 2
    assert "line 1: not a run record" in flat(result.output) and "Traceback" not in result.output


def test_batch_on_a_production_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    assert invoke("db", "init", "--url", url).exit_code == 0
    assert invoke("db", "load", "--url", url, "--scenario", "churn_spike", "--merchant", "sarah_chen").exit_code == 0
    out = tmp_path / "prod"
    result = invoke("batch", "--scenarios", "churn_spike", "--merchants", "sarah_chen", "--workflows",
                    "crisis_response,daily_briefing", "--evaluators", KEYS, "--provider", "production",
                    "--db-url", url, "--jobs", "2", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((out / "batch.json").read_text())["provider"] == {"name": "production", "url": url}
    records = RunDir(out).records()
    assert len(records) == 2 and all(r.status == "ok" and r.transcript.meta["provider"]["name"] == "production" for r in records)


def test_console_script_reports_bad_seeds_without_traceback(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "cjsim"
    proc = subprocess.run([str(script), "batch", "--seeds", "3-1", "--out", str(tmp_path / "b")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: bad seed list '3-1'; use e.g. 0-9, 1,4,7 or 3"
    assert proc.stdout == ""
