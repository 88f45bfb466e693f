"""Local processes: a process pool on this machine (forked where the platform can), or the caller."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from app.execution.base import Executor, TaskResult, WorkerLostError, WorkerSetup, check_workers

__all__ = ["LocalExecutor"]

T = TypeVar("T")
R = TypeVar("R")


def _pool_context() -> Any:
    # fork starts workers in milliseconds with the parent's imports and compiled graph; elsewhere
    # the platform default (spawn) re-imports, and everything sent must then be picklable.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _init_process(setup: WorkerSetup | None, parent: int) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="cjsim-parent-watch").start()
    if setup is not None:
        setup.fn(*setup.args)


def _exit_with_parent(parent: int) -> None:
    # A caller killed with SIGKILL cannot stop its pool; idle workers would wait on their task
    # pipe forever (they hold its write end too), so each one leaves when its parent is gone.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


class LocalExecutor(Executor):
    """Up to ``workers`` processes on this machine, one pool per :meth:`map`; one worker runs in the caller.

    Example:
        >>> with LocalExecutor(2) as ex:
        ...     ex.run(abs, [-1, -2, 3])
        [1, 2, 3]
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = check_workers(workers)
        self._context = _pool_context()

    @property
    def forks(self) -> bool:
        """Whether pool workers are forked from this process."""
        return self.workers > 1 and self._context.get_start_method() == "fork"

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, setup: WorkerSetup | None = None,
            on_start: Callable[[], None] | None = None) -> Iterator[TaskResult[R]]:  # fmt: skip
        """See :meth:`Executor.map`; a worker that dies fails every task it had not finished."""
        if self.workers == 1:
            return self._in_caller(fn, items, setup, on_start)
        return self._in_pool(fn, items, setup, on_start)

    @staticmethod
    def _in_caller(fn: Callable[[T], R], items: Sequence[T], setup: WorkerSetup | None,
                   on_start: Callable[[], None] | None) -> Iterator[TaskResult[R]]:  # fmt: skip
        if setup is not None:
            setup.fn(*setup.args)
        if on_start is not None:
            on_start()
        for i, item in enumerate(items):
            try:
                value = fn(item)
            except Exception as exc:
                yield TaskResult(i, error=exc)
            else:
                yield TaskResult(i, value)

    def _in_pool(self, fn: Callable[[T], R], items: Sequence[T], setup: WorkerSetup | None,
                 on_start: Callable[[], None] | None) -> Iterator[TaskResult[R]]:  # fmt: skip
        if not items:
            if on_start is not None:
                on_start()
            return
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(items)), mp_context=self._context,
                                   initializer=_init_process, initargs=(setup, os.getpid()))  # fmt: skip
        try:
            futures: dict[Future[R], int] = {pool.submit(fn, item): i for i, item in enumerate(items)}
            if on_start is not None:  # fork starts every worker at the first submit
                on_start()
            for future in as_completed(futures):
                exc = future.exception()
                if exc is None:
                    yield TaskResult(futures[future], future.result())
                elif isinstance(exc, BrokenProcessPool):
                    yield TaskResult(futures[future], error=WorkerLostError(f"a worker process died: {exc}"))
                else:
                    yield TaskResult(futures[future], error=exc)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

