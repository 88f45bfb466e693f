"""A batch run on disk: ``runs/NAME/batch.json`` (what was asked) and ``transcripts.jsonl``
(one :class:`RunRecord` per finished or failed conversation, appended and flushed as each ends).

A killed batch loses nothing that finished: every line is complete JSON, and a torn last line
(the process died mid-write) is ignored when reading, so ``--resume`` simply reruns that case.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.errors import DataFileError, InvalidArgumentError
from app.evaluation.result import EvalResult
from app.transcript import Transcript

__all__ = [
    "CaseKey",
    "RunRecord",
    "BatchManifest",
    "RunDir",
    "latest_by_case",
    "TRANSCRIPTS_FILE",
    "MANIFEST_FILE",
]

TRANSCRIPTS_FILE = "transcripts.jsonl"
MANIFEST_FILE = "batch.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseKey(_Model):
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


class RunRecord(_Model):
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


class BatchManifest(_Model):
    """``batch.json``: the batch's arguments, so ``--resume`` and reports know what was asked."""

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

    def cases(self) -> list[CaseKey]:
        """Every case of the batch, in a stable order."""
        return [
            CaseKey(scenario=s, merchant=m, workflow=w, seed=seed)
            for s in self.scenarios
            for m in self.merchants
            for w in self.workflows
            for seed in self.seeds
        ]


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
                f"{self.path} holds no batch ({TRANSCRIPTS_FILE} is missing); create one with: cjsim batch --out {self.path}"
            )
        return self

    def read_manifest(self) -> BatchManifest | None:
        if not self.manifest_path.is_file():
            return None
        try:
            return BatchManifest.model_validate_json(self.manifest_path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise DataFileError(f"{self.manifest_path}: not a batch manifest ({exc.errors()[0]['msg']})") from None

    def write_manifest(self, manifest: BatchManifest) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.manifest_path)

    def records(self) -> list[RunRecord]:
        """Every complete record, in file order; a torn final line is skipped."""
        if not self.transcripts_path.is_file():
            return []
        out: list[RunRecord] = []
        lines = self.transcripts_path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                out.append(RunRecord.model_validate_json(line))
            except ValidationError as exc:
                if number == len(lines) and not _is_complete_json(line):
                    break  # torn by a killed writer: that case is simply not done
                raise DataFileError(
                    f"{self.transcripts_path}, line {number}: not a run record ({exc.errors()[0]['msg']}); "
                    "remove the line or rerun that case with --resume"
                ) from None
        return out

    def has_torn_tail(self) -> bool:
        """Whether the last line lacks its newline (a writer was killed mid-line)."""
        if not self.transcripts_path.is_file() or self.transcripts_path.stat().st_size == 0:
            return False
        with self.transcripts_path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"

    def append(self, record: RunRecord) -> None:
        """Append one record and make it durable before returning."""
        self.path.mkdir(parents=True, exist_ok=True)
        with self.transcripts_path.open("a", encoding="utf-8") as fh:
            fh.write(record.model_dump_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def rewrite(self, records: list[RunRecord]) -> None:
        """Replace every record atomically (re-scoring); the old file stays until the new one is complete."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.transcripts_path.with_suffix(".jsonl.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for r in records:
                fh.write(r.model_dump_json() + "\n")
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


def _is_complete_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True
