"""One writer per run folder (an OS lock naming its holder), and repairing damaged record lines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.errors import DataFileError, RunLockedError
from app.evaluation.batch import run_batch
from app.evaluation.records import DAMAGED_FILE, LOCK_FILE, RunDir
from app.evaluation.rescore import rescore
from tests.test_batch import EVALUATORS, manifest

runner = CliRunner()

GRID = ["--scenarios", "churn_spike", "--merchants", "sarah_chen", "--workflows", "crisis_response,daily_briefing",
        "--seeds", "0-1", "--evaluators", "tool_use", "--jobs", "1", "-q"]  # fmt: skip
_HOLD = """
import sys
from app.evaluation.records import RunDir
with RunDir(sys.argv[1]).lock("batch"):
    print("locked", flush=True)
    sys.stdin.read()
"""


def flat(text: str) -> str:
    return " ".join(text.split())


@contextmanager
def held_elsewhere(path: Path) -> Iterator[int]:
    """Another process holds ``path``'s lock for the ``with`` block; yields its PID."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc.pid
    finally:
        proc.stdin.close()
        proc.wait()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pristine") / "run"
    result = runner.invoke(app, ["batch", "--out", str(out), *GRID])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def small_batch(pristine: Path, tmp_path: Path) -> Path:
    """A finished 4-case batch of this test's own."""
    return Path(shutil.copytree(pristine, tmp_path / "run"))


# --------------------------------------------------------------------------- the lock


def test_a_second_writer_is_refused_with_the_holders_pid(small_batch: Path) -> None:
    lines = (small_batch / "transcripts.jsonl").read_bytes()
    with held_elsewhere(small_batch) as pid:
        resumed = runner.invoke(app, ["batch", "--out", str(small_batch), "--resume"])
        assert resumed.exit_code == 2 and "Traceback" not in resumed.output
        assert f"is in use by another cjsim process (PID {pid}, batch since" in flat(resumed.output)
        for args in (["eval", str(small_batch)], ["repair", str(small_batch)]):
            result = runner.invoke(app, args)
            assert result.exit_code == 2 and f"PID {pid}" in flat(result.output), args
        with pytest.raises(RunLockedError, match=f"PID {pid}"):
            rescore(small_batch)
    assert (small_batch / "transcripts.jsonl").read_bytes() == lines  # the refused writers wrote nothing
    again = runner.invoke(app, ["batch", "--out", str(small_batch), "--resume"])  # the holder is gone
    assert again.exit_code == 0, again.output
    assert len(RunDir(small_batch).records()) == 4


def test_concurrent_resumes_leave_one_record_per_case(tmp_path: Path) -> None:
    out = tmp_path / "b"
    m = manifest(seeds=[0])
    with held_elsewhere(out) as pid:
        with pytest.raises(RunLockedError, match=f"PID {pid}"):
            run_batch(m, out, jobs=1, evaluators=EVALUATORS)
        with pytest.raises(RunLockedError):
            run_batch(m, out, jobs=1, resume=True, evaluators=EVALUATORS)
    assert not RunDir(out).exists()
    run_batch(m, out, jobs=1, evaluators=EVALUATORS)
    records = RunDir(out).records()
    assert len(records) == len({r.case.id for r in records}) == len(m.cases())


def test_the_lock_is_released_when_the_writer_ends(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "r")
    with run.lock("eval"):
        with pytest.raises(RunLockedError, match="eval since"):
            with RunDir(tmp_path / "r").lock():
                pass
    with run.lock():
        pass
    assert (tmp_path / "r" / LOCK_FILE).read_bytes() == b""  # no stale holder left behind


# --------------------------------------------------------------------------- damaged lines


def _damage(path: Path, line: int, replacement: bytes) -> bytes:
    lines = path.read_bytes().splitlines(keepends=True)
    original = lines[line - 1]
    lines[line - 1] = replacement
    path.write_bytes(b"".join(lines))
    return original


@pytest.mark.parametrize("bad", [b"{not json\n", b"\xff\xfe not utf-8 \x80\n", b'{"case": 1}\n'])
def test_a_damaged_line_names_the_repair_that_works(small_batch: Path, bad: bytes) -> None:
    transcripts = small_batch / "transcripts.jsonl"
    _damage(transcripts, 2, bad)
    message = "line 2: not a run record"
    with pytest.raises(DataFileError, match=message) as err:
        RunDir(small_batch).records()
    assert f"cjsim repair {small_batch}" in str(err.value)
    for args in (["batch", "--out", str(small_batch), "--resume"], ["report", str(small_batch)], ["eval", str(small_batch)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "Traceback" not in result.output, args
        assert message in flat(result.output) and f"cjsim repair {small_batch}" in flat(result.output), args

    repaired = runner.invoke(app, ["repair", str(small_batch)])
    assert repaired.exit_code == 0, repaired.output
    assert "moved 1 damaged line (2)" in flat(repaired.output) and "kept 3 records" in flat(repaired.output)
    assert f"next: cjsim batch --out {small_batch} --resume" in flat(repaired.output)
    assert (small_batch / DAMAGED_FILE).read_bytes() == bad  # byte for byte, nothing lost
    assert len(RunDir(small_batch).records()) == 3

    resumed = runner.invoke(app, ["batch", "--out", str(small_batch), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "ran 1 case" in resumed.output and "cases: 4 ok, 0 failed (of 4)" in flat(resumed.output)
    nothing = runner.invoke(app, ["repair", str(small_batch)])
    assert nothing.exit_code == 0 and "nothing to repair" in nothing.output


def test_repair_keeps_good_lines_byte_for_byte_and_moves_a_torn_tail(small_batch: Path) -> None:
    transcripts = small_batch / "transcripts.jsonl"
    lines = transcripts.read_bytes().splitlines(keepends=True)
    transcripts.write_bytes(lines[0] + b"garbage\n" + b"".join(lines[1:3]) + b"\n" + lines[3][:50])
    result = RunDir(small_batch).repair()
    assert result.moved == [2, 6] and result.kept == 3
    assert transcripts.read_bytes() == b"".join(lines[:3])
    assert (small_batch / DAMAGED_FILE).read_bytes() == b"garbage\n" + lines[3][:50] + b"\n"


def test_a_non_utf8_manifest_is_a_clear_error(small_batch: Path) -> None:
    (small_batch / "batch.json").write_bytes(b"\xff" + (small_batch / "batch.json").read_bytes())
    for args in (["batch", "--out", str(small_batch), "--resume"], ["report", str(small_batch)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "Traceback" not in result.output, args
        assert "not a batch manifest" in flat(result.output), args


# --------------------------------------------------------------------------- unwritable folders


def test_writes_that_fail_are_clear_errors(small_batch: Path, tmp_path: Path) -> None:
    """Root ignores permissions, so writes are made impossible by a path below a file or a folder in the way."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = runner.invoke(app, ["batch", "--out", str(blocker / "sub"), *GRID])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"cannot write {blocker / 'sub' / LOCK_FILE}: Not a directory" in flat(result.output)

    (small_batch / "transcripts.jsonl.tmp").mkdir()  # the re-scored file cannot be written
    result = runner.invoke(app, ["eval", str(small_batch)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"cannot write {small_batch / 'transcripts.jsonl'}" in flat(result.output)

    (small_batch / LOCK_FILE).unlink()
    (small_batch / LOCK_FILE).mkdir()  # nor the lock
    for args in (["eval", str(small_batch)], ["batch", "--out", str(small_batch), "--resume"], ["repair", str(small_batch)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "Traceback" not in result.output, args
        assert f"cannot write {small_batch / LOCK_FILE}" in flat(result.output), args
    assert json.loads((small_batch / "batch.json").read_text())["seeds"] == [0, 1]
