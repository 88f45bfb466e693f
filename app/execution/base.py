"""The executor interface: map a picklable function over items, results tagged with their index."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from app.errors import ExecutorError, InvalidArgumentError

__all__ = ["Executor", "TaskResult", "WorkerSetup", "WorkerLostError", "MAX_WORKERS", "check_workers"]

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 256
"""No executor may ask for more workers than this."""


def check_workers(workers: int | None) -> int:
    """``workers``, or this machine's CPU count when ``None``; out of range raises :class:`InvalidArgumentError`."""
    n = (os.cpu_count() or 1) if workers is None else workers
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_WORKERS:
        raise InvalidArgumentError(f"workers must be between 1 and {MAX_WORKERS}, got {workers}")
    return n


class WorkerLostError(ExecutorError):
    """A worker died (killed, out of memory, its node gone) while it ran a task."""


@dataclass(frozen=True)
class WorkerSetup:
    """A function every worker runs once, before its first task of a map (e.g. to build a runner).

    ``fn(*args)`` typically stores what it builds in a module global that the task function reads;
    both must be importable functions so that any worker can run them.
    """

    fn: Callable[..., None]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class TaskResult(Generic[R]):
    """What one item's task gave: its ``value``, or the ``error`` it raised (or :class:`WorkerLostError`)."""

    index: int
    """The item's position in the sequence given to :meth:`Executor.map`."""
    value: R | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether the task returned."""
        return self.error is None


class Executor(ABC):
    """Runs a function over work items on some workers; use it as a context manager.

    Subclasses implement :meth:`map`; :meth:`run` and the context manager come with it. The
    function, the items, the setup and the results must be picklable (functions by their module
    path), since they may cross to other processes or machines.
    """

    name: str = ""
    """``local`` or ``ray``."""
    workers: int = 1
    """How many tasks run at once."""

    @property
    def forks(self) -> bool:
        """Whether workers are forked from this process (they then inherit its heap and imports)."""
        return False

    @abstractmethod
    def map(self, fn: Callable[[T], R], items: Sequence[T], *, setup: WorkerSetup | None = None,
            on_start: Callable[[], None] | None = None) -> Iterator[TaskResult[R]]:  # fmt: skip
        """Run ``fn(item)`` for every item; yield each :class:`TaskResult` as its task finishes.

        Args:
            setup: run once per worker before its first task of this map.
            on_start: called once the workers exist and every task is submitted (start progress
                displays and other threads there, never before a fork).

        The order of the results follows completion; their ``index`` says which item each one is.
        Leaving the loop early (or an interrupt) cancels the tasks not yet finished.
        """

    def run(self, fn: Callable[[T], R], items: Sequence[T], *, setup: WorkerSetup | None = None) -> list[R]:
        """``[fn(item) for item in items]`` on the workers, in input order.

        Raises:
            CJSimError: the error a task raised, as it was raised (the lowest failing index first).
            ExecutorError: a worker was lost.
        """
        results: list[Any] = [None] * len(items)
        failures: dict[int, BaseException] = {}
        for outcome in self.map(fn, items, setup=setup):
            if outcome.error is not None:
                failures[outcome.index] = outcome.error
            else:
                results[outcome.index] = outcome.value
        if failures:
            raise failures[min(failures)]
        return results

    def shutdown(self) -> None:  # noqa: B027  (nothing to release unless the executor started something)
        """Release what this executor started (pools, a Ray instance); never what it joined."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers})"

