"""A batch run on disk: ``runs/NAME/batch.json`` (what was asked) and ``transcripts.jsonl``
(one :class:`RunRecord` per finished or failed conversation, appended and flushed as each ends).

A killed batch loses nothing that finished: every line is complete JSON, and a torn last line
(the process died mid-write) is ignored when reading, so resuming the batch simply reruns that case.

One writer at a time: a batch, a re-scoring or a repair holds the folder's lock (an OS file lock
on ``batch.lock``, released by the OS when the process ends, however it ends), and a second
writer is refused with the holder's PID. A damaged line in the middle of ``transcripts.jsonl``
stops every reader with its line number; :meth:`RunDir.repair` moves such lines, byte for byte,
to ``transcripts.damaged.jsonl`` so that resuming reruns their cases.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.errors import DataFileError, InvalidArgumentError, RunLockedError
from app.evaluation.result import EvalResult
from app.transcript import Transcript

__all__ = [
    "CaseKey",
    "RunRecord",
    "BatchManifest",
    "RunDir",
    "latest_by_case",
    "RepairResult",
    "TRANSCRIPTS_FILE",
    "MANIFEST_FILE",
    "LOCK_FILE",
    "DAMAGED_FILE",
]

TRANSCRIPTS_FILE = "transcripts.jsonl"
MANIFEST_FILE = "batch.json"
LOCK_FILE = "batch.lock"
DAMAGED_FILE = "transcripts.damaged.jsonl"


class _RecordModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseKey(_RecordModel):
    """One cell of a batch: what a conversation is a function of (with the batch's models)."""

    scenario: str
    merchant: str
    workflow: str
    seed: int

    @property
    def id(self) -> str:
        """``scenario/merchant/workflow/seed``: unique within a batch."""
        return f"{self.scenario}/{self.merchant}/{self.workflow}/{self.seed}"

    @property
    def group(self) -> str:
        """The case without its seed: seeds of one group are repeats of the same test."""
        return f"{self.scenario}/{self.merchant}/{self.workflow}"


class RunRecord(_RecordModel):
    """One line of ``transcripts.jsonl``: a conversation, or the reason it failed, and its scores.

    ``status`` is ``ok`` (a finished conversation, whatever its ending), ``failed`` (an error or a
    model that kept failing) or ``interrupted`` (the batch was stopped while it ran); a case
    without an ``ok`` record is run again by ``--resume``.
    """

    case: CaseKey
    status: Literal["ok", "failed", "interrupted"]
    error: str | None = None
    transcript: Transcript | None = None
    scores: list[EvalResult] = Field(default_factory=list)
    duration_s: float = Field(default=0.0, description="wall-clock seconds (not part of the deterministic body)")
    attempts: int = Field(default=1, description="1 + the model calls retried after transient errors")

    def score(self, key: str) -> EvalResult | None:
        """The result of evaluator ``key``, if it was scored."""
        return next((s for s in self.scores if s.key == key), None)


class BatchManifest(_RecordModel):
    """``batch.json``: the batch's arguments, so resuming and reports know what was asked."""

    name: str
    scenarios: list[str]
    merchants: list[str]
    workflows: list[str]
    seeds: list[int]
    cj_model: str
    merchant_model: str
    max_turns: int
    provider: dict[str, Any] = Field(default_factory=dict)
    created_at: str = ""
    evaluators: list[str] = Field(default_factory=list)
    judge_model: str | None = None
    outcome_days: int | None = Field(default=None, exclude_if=lambda v: v is None)

    def cases(self) -> list[CaseKey]:
        """Every case of the batch, in a stable order."""
        return [
            CaseKey(scenario=s, merchant=m, workflow=w, seed=seed)
            for s in self.scenarios
            for m in self.merchants
            for w in self.workflows
            for seed in self.seeds
        ]


@dataclass
class RepairResult:
    """What :meth:`RunDir.repair` did: the line numbers it moved aside, the records it kept."""

    moved: list[int]
    kept: int
    damaged_path: Path


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn an OS error while writing ``path`` into a message (unwritable folder, full disk, ...)."""
    try:
        yield
    except OSError as exc:
        raise InvalidArgumentError(
            f"cannot write {path}: {exc.strerror or exc}; make that folder writable or choose another"
        ) from None


class RunDir:
    """A batch's folder. Reading tolerates a torn last line; writing appends, flushes and fsyncs."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def transcripts_path(self) -> Path:
        return self.path / TRANSCRIPTS_FILE

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST_FILE

    def exists(self) -> bool:
        return self.manifest_path.is_file() or self.transcripts_path.is_file()

    def require(self) -> RunDir:
        """This folder, or a clear error when it holds no batch."""
        if not self.transcripts_path.is_file():
            raise InvalidArgumentError(
                f"{self.path} holds no batch ({TRANSCRIPTS_FILE} is missing); run a batch into it first"
            )
        return self

    def read_manifest(self) -> BatchManifest | None:
        if not self.manifest_path.is_file():
            return None
        try:
            return BatchManifest.model_validate_json(self.manifest_path.read_bytes())
        except OSError as exc:
            raise DataFileError(f"{self.manifest_path}: cannot read file ({exc.strerror or exc})") from None
        except ValidationError as exc:
            raise DataFileError(f"{self.manifest_path}: not a batch manifest ({exc.errors()[0]['msg']})") from None

    def write_manifest(self, manifest: BatchManifest) -> None:
        tmp = self.manifest_path.with_suffix(".json.tmp")
        with _writing(self.manifest_path):
            self.path.mkdir(parents=True, exist_ok=True)
            tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.manifest_path)

    def _lines(self) -> list[bytes]:
        """The raw lines of ``transcripts.jsonl`` (bytes: a line need not even be valid UTF-8)."""
        if not self.transcripts_path.is_file():
            return []
        try:
            return self.transcripts_path.read_bytes().splitlines()
        except OSError as exc:
            raise DataFileError(f"{self.transcripts_path}: cannot read file ({exc.strerror or exc})") from None

    def records(self) -> list[RunRecord]:
        """Every complete record, in file order; a torn final line is skipped.

        Raises:
            DataFileError: damaged lines before the last one, named with the repair that works.
        """
        lines = self._lines()
        out: list[RunRecord] = []
        damaged: list[tuple[int, str]] = []
        for number, line in enumerate(lines, 1):
            problem = _problem(line)
            if isinstance(problem, RunRecord):
                out.append(problem)
            elif problem and not (number == len(lines) and not _is_complete_json(line)):
                damaged.append((number, problem))  # a torn last line is a case simply not done
        if damaged:
            number, problem = damaged[0]
            more = f" (and {len(damaged) - 1} more damaged lines)" if len(damaged) > 1 else ""
            raise DataFileError(
                f"{self.transcripts_path}, line {number}: not a run record ({problem}){more}; move the damaged "
                f"lines aside with `cjsim repair {self.path}`, then resume the batch to rerun their cases"
            )
        return out

    def repair(self) -> RepairResult:
        """Move every line that is not a run record to :data:`DAMAGED_FILE`, byte for byte.

        The damaged lines are appended (and synced) there before ``transcripts.jsonl`` is
        replaced by its good lines, so a crash at any point loses no line. Resuming the batch
        then reruns the cases whose records were moved. Holds the folder's lock.
        """
        damaged_path = self.path / DAMAGED_FILE
        with self.lock("repair"):
            lines = self._lines()
            good, moved = [], []
            for number, line in enumerate(lines, 1):
                problem = _problem(line)
                if isinstance(problem, RunRecord):
                    good.append(line)
                elif problem:
                    moved.append(number)
            if moved:
                with _writing(damaged_path), damaged_path.open("ab") as fh:
                    fh.writelines(lines[n - 1] + b"\n" for n in moved)
                    fh.flush()
                    os.fsync(fh.fileno())
                self._replace_lines(good)
        return RepairResult(moved=moved, kept=len(good), damaged_path=damaged_path)

    @contextmanager
    def lock(self, purpose: str = "batch") -> Iterator[None]:
        """Hold the folder's writer lock (creating the folder) for the ``with`` block.

        Raises:
            RunLockedError: another process holds it; the message names that process's PID.
            InvalidArgumentError: the folder cannot be created or written.
        """
        lock_path = self.path / LOCK_FILE
        with _writing(lock_path):
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunLockedError(
                    f"{self.path} is in use by another cjsim process ({_holder(fd)}); wait for it to finish "
                    "or stop it, then try again"
                ) from None
            since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "purpose": purpose, "since": since}).encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def has_torn_tail(self) -> bool:
        """Whether the last line lacks its newline (a writer was killed mid-line)."""
        if not self.transcripts_path.is_file() or self.transcripts_path.stat().st_size == 0:
            return False
        with self.transcripts_path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"

    def append(self, record: RunRecord) -> None:
        """Append one record and make it durable before returning."""
        with _writing(self.transcripts_path):
            self.path.mkdir(parents=True, exist_ok=True)
            with self.transcripts_path.open("a", encoding="utf-8") as fh:
                fh.write(record.model_dump_json() + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def rewrite(self, records: list[RunRecord]) -> None:
        """Replace every record atomically (re-scoring); the old file stays until the new one is complete."""
        self._replace_lines([r.model_dump_json().encode() for r in records])

    def _replace_lines(self, lines: list[bytes]) -> None:
        tmp = self.transcripts_path.with_suffix(".jsonl.tmp")
        with _writing(self.transcripts_path):
            self.path.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as fh:
                fh.writelines(line + b"\n" for line in lines)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.transcripts_path)


def latest_by_case(records: list[RunRecord]) -> list[RunRecord]:
    """One record per case: the last one in file order (a resumed case's rerun supersedes its failure)."""
    latest: dict[str, RunRecord] = {}
    for r in records:
        latest.pop(r.case.id, None)  # re-insert so the order follows the newest record
        latest[r.case.id] = r
    return list(latest.values())


def _problem(line: bytes) -> RunRecord | str:
    """The record on ``line``, or why it is not one (``""`` for a blank line)."""
    if not line.strip():
        return ""
    try:
        return RunRecord.model_validate_json(line)
    except ValidationError as exc:
        return exc.errors()[0]["msg"]


def _is_complete_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _holder(fd: int) -> str:
    """Who holds a run folder's lock, from what the holder wrote into the lock file."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "PID unknown"
    return f"PID {info['pid']}, {info.get('purpose', 'batch')} since {info.get('since', '?')}"
