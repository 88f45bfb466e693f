"""The playbook run log: one ``ops_runs_log`` row per run, also when it fails or is killed.

A run is recorded as ``running`` (committed) before any work starts and updated once when it
ends: ``success``, ``skipped`` (nothing to act on) or ``failed`` with the error message. A run
whose process was killed cannot update its row; the next run that starts finds it still
``running`` with a process that no longer exists on this host and records it as ``failed``
("interrupted"). Rows left by another host are not touched: from here its process cannot be seen.

Example:
    >>> import datetime as dt
    >>> from app.storage.ops import OpsStore
    >>> log = RunLog(OpsStore.in_memory())
    >>> with log.recorded(dt.date(2025, 3, 1), "k", now=dt.datetime(2025, 3, 1, 6), actor="doc") as run:
    ...     run.update(status="skipped", severity="INFO")
    >>> [(r.run_id, r.status, r.severity) for r in log.list()]
    [(1, 'skipped', 'INFO')]
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select, update

from app.errors import CJSimError
from app.storage.ops import OpsStore, inserted_id, runs_log

__all__ = ["RunLog", "RunRecord", "RunStatus", "RunDraft", "INTERRUPTED"]

RunStatus = Literal["running", "success", "failed", "skipped"]
INTERRUPTED = "interrupted: the run's process ended before the run finished"


class RunRecord(BaseModel):
    """One row of ``ops_runs_log``."""

    model_config = ConfigDict(frozen=True)

    run_id: int
    run_date: dt.date
    idempotency_key: str
    status: RunStatus
    started_at: dt.datetime
    finished_at: dt.datetime | None
    actor: str
    host: str
    pid: int
    severity: str | None
    alert_flag: bool | None
    current_value: float | None
    baseline_value: float | None
    delta_relative_pct: float | None
    sample_size: int | None
    escalation: bool | None
    p1_count: int | None
    p2_count: int | None
    p3_count: int | None
    total_exported: int | None
    brief_path: str | None
    export_p1_path: str | None
    export_p2_path: str | None
    export_p3_path: str | None
    webhook_status: str | None = Field(description="shadow | delivered | failed; null when nothing was sent")
    webhook_attempts: int | None
    response_status: int | None
    outbox_path: str | None
    error_message: str | None
    execution_time_ms: int | None


_OUTCOME_FIELDS = frozenset(RunRecord.model_fields) - {
    "run_id", "run_date", "idempotency_key", "started_at", "finished_at", "actor", "host", "pid", "execution_time_ms",
}  # fmt: skip


class RunDraft:
    """What a run has found out so far; written to its row when the run ends."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.values: dict[str, Any] = {"status": "success"}

    def update(self, **values: Any) -> None:
        """Record outcome columns (``status``, ``severity``, counts, paths, webhook fields, ...)."""
        unknown = set(values) - _OUTCOME_FIELDS
        if unknown:
            raise TypeError(f"not a run outcome column: {', '.join(sorted(unknown))}")
        self.values.update(values)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class RunLog:
    """The run log of one operations store."""

    def __init__(self, store: OpsStore) -> None:
        self.store = store
        self.host = socket.gethostname()[:255]

    def reconcile(self, now: dt.datetime) -> list[int]:
        """Record runs of this host still ``running`` whose process is gone as failed ("interrupted")."""
        with self.store.transaction() as conn:
            rows = conn.execute(
                select(runs_log.c.run_id, runs_log.c.pid).where(
                    runs_log.c.status == "running", runs_log.c.host == self.host
                )
            ).all()
            dead = [r.run_id for r in rows if not _alive(r.pid)]
            if dead:
                conn.execute(
                    update(runs_log)
                    .where(runs_log.c.run_id.in_(dead), runs_log.c.status == "running")
                    .values(status="failed", error_message=INTERRUPTED, finished_at=now)
                )
        return dead

    def start(self, run_date: dt.date, key: str, *, now: dt.datetime, actor: str) -> int:
        """Reconcile interrupted runs, then commit a ``running`` row for a new run; returns its id."""
        self.reconcile(now)
        with self.store.transaction() as conn:
            values = {
                "run_date": run_date, "idempotency_key": key, "status": "running", "started_at": now,
                "actor": actor, "host": self.host, "pid": os.getpid(),
            }  # fmt: skip
            return inserted_id(conn.execute(insert(runs_log).values(**values)))

    def finish(self, run_id: int, *, now: dt.datetime, execution_time_ms: int, **values: Any) -> None:
        """Write a run's outcome to its row (its own transaction, so it stays even if the caller rolls back)."""
        with self.store.transaction() as conn:
            conn.execute(
                update(runs_log)
                .where(runs_log.c.run_id == run_id)
                .values(**values, finished_at=now, execution_time_ms=execution_time_ms)
            )

    @contextmanager
    def recorded(self, run_date: dt.date, key: str, *, now: dt.datetime, actor: str) -> Iterator[RunDraft]:
        """A run with exactly one row: ``running`` on entry; its outcome on exit, ``failed`` if it raised.

        The finish time is ``now`` plus the elapsed wall time, so a simulation clock stays consistent.
        """
        started = time.perf_counter()
        draft = RunDraft(self.start(run_date, key, now=now, actor=actor))

        def elapsed_ms() -> int:
            return round((time.perf_counter() - started) * 1000)

        try:
            yield draft
        except BaseException as exc:
            message = str(exc) if isinstance(exc, CJSimError) else f"{type(exc).__name__}: {exc}"
            ms = elapsed_ms()
            values = {**draft.values, "status": "failed", "error_message": draft.values.get("error_message") or message}
            self.finish(draft.run_id, now=now + dt.timedelta(milliseconds=ms), execution_time_ms=ms, **values)
            raise
        ms = elapsed_ms()
        self.finish(draft.run_id, now=now + dt.timedelta(milliseconds=ms), execution_time_ms=ms, **draft.values)

    def get(self, run_id: int) -> RunRecord | None:
        """One run by id."""
        found = self.list(run_id=run_id)
        return found[0] if found else None

    def list(self, run_date: dt.date | None = None, *, run_id: int | None = None, limit: int = 50) -> list[RunRecord]:
        """Runs, newest first, optionally of one run date."""
        stmt = select(runs_log).order_by(runs_log.c.run_id.desc()).limit(limit)
        if run_date is not None:
            stmt = stmt.where(runs_log.c.run_date == run_date)
        if run_id is not None:
            stmt = stmt.where(runs_log.c.run_id == run_id)
        rows = self.store.read(lambda conn: list(conn.execute(stmt).mappings()))
        return [RunRecord.model_validate(dict(r)) for r in rows]
