"""Progress of a batch: a rich progress bar on a terminal, periodic plain lines otherwise.

A batch calls ``start`` once, ``advance`` with every finished record, then ``finish``.
"""

from __future__ import annotations

from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from app.batch.records import RunRecord

__all__ = ["BatchProgress", "NullProgress", "RichProgress", "PlainProgress", "progress_for"]


class BatchProgress(Protocol):
    """Receives a batch's progress (all calls come from the thread running the batch)."""

    def start(self, total: int, done: int, label: str) -> None:
        """``total`` cases in the batch, ``done`` of them already recorded (resume)."""

    def advance(self, record: RunRecord) -> None:
        """One more case finished (ok or failed)."""

    def finish(self) -> None:
        """The batch stopped (finished or interrupted)."""


class NullProgress:
    """Reports nothing (library default, ``--quiet``)."""

    def start(self, total: int, done: int, label: str) -> None:
        pass

    def advance(self, record: RunRecord) -> None:
        pass

    def finish(self) -> None:
        pass


class RichProgress:
    """A live progress bar with counts of failed cases, for terminals."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: int | None = None
        self._failed = 0

    def start(self, total: int, done: int, label: str) -> None:
        self._progress.start()
        self._task = self._progress.add_task(label, total=total, completed=done, failed=0)

    def advance(self, record: RunRecord) -> None:
        if self._task is None:
            return
        self._failed += record.status != "ok"
        self._progress.update(self._task, advance=1, failed=self._failed)  # type: ignore[arg-type]  # rich's TaskID is an int

    def finish(self) -> None:
        self._progress.stop()


class PlainProgress:
    """One line per tenth of the batch (and at the end), for logs and pipes."""

    def __init__(self, stream: TextIO, steps: int = 10) -> None:
        self._stream = stream
        self._steps = steps
        self._total = self._done = self._failed = self._every = 0
        self._label = ""

    def start(self, total: int, done: int, label: str) -> None:
        self._total, self._done, self._label = total, done, label
        self._every = max(1, (total - done) // self._steps)
        print(f"{label}: {total - done} of {total} cases to run", file=self._stream, flush=True)

    def advance(self, record: RunRecord) -> None:
        self._done += 1
        self._failed += record.status != "ok"
        if self._done % self._every == 0 or self._done == self._total:
            print(f"{self._label}: {self._done}/{self._total} done, {self._failed} failed", file=self._stream, flush=True)

    def finish(self) -> None:
        pass


def progress_for(console: Console, quiet: bool = False) -> BatchProgress:
    """The right progress display for ``console``: bar on a terminal, plain lines otherwise, none when quiet."""
    if quiet:
        return NullProgress()
    if console.is_terminal:
        return RichProgress(console)
    return PlainProgress(console.file)  # type: ignore[arg-type]  # rich's file is a text stream
