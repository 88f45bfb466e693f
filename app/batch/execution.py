"""How a batch's cases are executed: in the caller, in a process pool, or on threads.

* **In process** (``jobs=1``, offline models): one :class:`CaseRunner`, cases in order.
* **Process pool** (offline models, ``jobs>1``): cases are grouped by world; each group is one
  task, so a world (~220 ms to generate) is made once and shared by its workflows (~20 ms each).
  Workers send each record back through a queue as soon as it is scored.
* **Threads** (network models): up to ``jobs`` conversations at once, each thread with its own
  runner (world cache, database connection); model calls are retried on transient errors.

Ctrl-C stops a batch within moments in the caller and on threads: the case (or cases) running
then get an ``interrupted`` record, and ``--resume`` runs them again.

In every mode the caller's ``sink`` receives each record in the calling thread, so the caller
is the only writer of ``transcripts.jsonl``. Record order follows completion, not case order.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue as queue_module
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any

from app.batch.records import CaseKey, RunRecord
from app.batch.runner import CaseRunner, CaseSettings, error_text
from app.catalog import Catalog
from app.evaluation.result import Evaluator

__all__ = ["Sink", "group_by_world", "run_in_process", "run_in_pool", "run_on_threads", "INTERRUPTED"]

Sink = Callable[[RunRecord], None]
"""Receives each finished record, in the thread that started the batch."""

_STRAGGLER_WAIT_S = 1.0  # after a worker crash, how long to wait for records it had already sent

INTERRUPTED = "interrupted while running; resuming the batch runs it again"
"""The error of a case that was running when the batch was interrupted."""


def _interrupted(case: CaseKey) -> RunRecord:
    return RunRecord(case=case, status="interrupted", error=INTERRUPTED)


def group_by_world(cases: Sequence[CaseKey]) -> list[list[CaseKey]]:
    """Cases sharing a world (scenario, merchant, seed), in first-appearance order."""
    groups: dict[tuple[str, str, int], list[CaseKey]] = {}
    for case in cases:
        groups.setdefault((case.scenario, case.merchant, case.seed), []).append(case)
    return list(groups.values())


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep the collector off what exists now (catalogs, compiled graph, imports) while inside.

    The long-lived heap is ~150k objects; sparing the collector from walking it on every full
    collection makes a batch ~15% faster, and in forked workers keeps those pages shared.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_in_process(cases: Sequence[CaseKey], runner: CaseRunner, sink: Sink) -> None:
    """Run every case in the calling thread, world by world; Ctrl-C records the running case as interrupted."""
    _warm_up(runner.settings, runner.evaluators(), runner.catalog)
    with _frozen_heap():
        for group in group_by_world(cases):
            for case in group:
                try:
                    record = runner.run(case)
                except KeyboardInterrupt:
                    sink(_interrupted(case))
                    raise
                sink(record)


# --------------------------------------------------------------------------- process pool

_worker: CaseRunner | None = None
_results: Any = None


def _init_worker(
    settings: CaseSettings, catalog: Catalog, evaluators: Sequence[Evaluator] | None, results: Any, parent: int
) -> None:
    global _worker, _results
    # the catalog arrives once per worker (inherited when forking), never re-read per case
    _worker = CaseRunner(settings, catalog=catalog, evaluators=evaluators)
    _results = results
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="cjsim-parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    # A batch killed with SIGKILL cannot stop its pool; idle workers would wait on their task
    # pipe forever (they hold its write end too), so each one leaves when its parent is gone.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def _run_group(cases: list[dict[str, Any]]) -> int:
    assert _worker is not None
    for data in cases:
        _results.put(_worker.run(CaseKey(**data)).model_dump_json())
    return len(cases)


def _pool_context() -> Any:
    # fork starts workers in milliseconds with the parent's imports and compiled graph; elsewhere
    # the platform default (spawn) re-imports, and evaluator objects must then be picklable.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _warm_up(settings: CaseSettings, evaluators: Sequence[Evaluator] | None, catalog: Catalog) -> None:
    """Import and compile what every conversation needs once, before workers are forked."""
    from app.simulation import _graph

    _graph()
    if evaluators is None:
        from app.evaluation.registry import default_evaluators

        keys = list(settings.evaluator_keys) if settings.evaluator_keys is not None else None
        default_evaluators(keys=keys, catalog=catalog)  # imports the evaluator modules once for every worker


def run_in_pool(
    cases: Sequence[CaseKey],
    settings: CaseSettings,
    sink: Sink,
    *,
    jobs: int,
    catalog: Catalog,
    evaluators: Sequence[Evaluator] | None = None,
    on_start: Callable[[], None] | None = None,
) -> None:
    """Run cases in ``jobs`` processes, one world group per task; records stream back as they finish.

    Every worker gets ``catalog`` once, when it starts.

    ``on_start`` runs once the workers exist: anything that starts threads in this process (a live
    progress display) belongs there, since a thread holding a lock while a worker forks would
    leave that lock held forever in the worker. A worker that dies (killed, out of memory) fails
    the cases of its group that had not reported.
    """
    groups = group_by_world(cases)
    group_of = {case.id: i for i, group in enumerate(groups) for case in group}
    received = [0] * len(groups)
    seen: set[str] = set()
    ctx = _pool_context()
    forking = ctx.get_start_method() == "fork"
    if forking:
        _warm_up(settings, evaluators, catalog)
        gc.collect()
        gc.freeze()  # workers inherit the heap frozen (see _frozen_heap); unfrozen here once they exist
    results = ctx.Queue()

    def deliver(line: str) -> int:
        record = RunRecord.model_validate_json(line)
        group = group_of[record.case.id]
        received[group] += 1
        seen.add(record.case.id)
        sink(record)
        return group

    pool = ProcessPoolExecutor(
        max_workers=max(1, min(jobs, len(groups))),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(settings, catalog, evaluators, results, os.getpid()),
    )
    try:
        futures: list[Future[int]] = [pool.submit(_run_group, [c.model_dump() for c in g]) for g in groups]
        gc.unfreeze()  # the workers exist now (fork starts them all at the first submit)
        if on_start is not None:
            on_start()
        finished_tasks: queue_module.SimpleQueue[int] = queue_module.SimpleQueue()
        for i, f in enumerate(futures):
            f.add_done_callback(partial(_put, finished_tasks, i))
        pending = set(range(len(groups)))

        def settle(i: int) -> None:
            # a group is settled when its task crashed, or returned and all its records arrived
            f = futures[i]
            if f.done() and (f.exception() is not None or received[i] >= f.result()):
                pending.discard(i)

        while pending:
            try:
                settle(deliver(results.get(timeout=0.2)))
            except queue_module.Empty:
                pass
            while not finished_tasks.empty():
                settle(finished_tasks.get())
        crashed = [i for i, f in enumerate(futures) if f.exception() is not None]
        if crashed:
            while True:  # records a crashed group sent before dying may still be in the pipe
                try:
                    deliver(results.get(timeout=_STRAGGLER_WAIT_S))
                except queue_module.Empty:
                    break
            for i in crashed:
                error = f"worker process failed: {error_text(futures[i].exception())}"  # type: ignore[arg-type]
                for case in groups[i]:
                    if case.id not in seen:
                        sink(RunRecord(case=case, status="failed", error=error))
    except BaseException:
        gc.unfreeze()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    results.close()


# --------------------------------------------------------------------------- threads (network models)

def run_on_threads(
    cases: Sequence[CaseKey],
    make_runner: Callable[[], CaseRunner],
    sink: Sink,
    *,
    jobs: int,
) -> None:
    """Run up to ``jobs`` cases at once on threads (for models behind a network).

    Each thread makes its own runner with ``make_runner`` the first time it runs a case. An
    interrupt (Ctrl-C) in the calling thread returns at once: records already finished are
    delivered, each case still running gets an ``interrupted`` record, and the interrupt is
    raised again. The threads are daemons and take no new case, so a model call that is still
    waiting on the network cannot keep the process alive.
    """
    order = iter([c for g in group_by_world(cases) for c in g])
    lock = threading.Lock()
    running: dict[str, CaseKey] = {}
    stop = threading.Event()
    finished: queue_module.SimpleQueue[RunRecord] = queue_module.SimpleQueue()

    def work() -> None:
        runner: CaseRunner | None = None
        while not stop.is_set():
            with lock:
                case = next(order, None)
                if case is None:
                    return
                running[case.id] = case
            try:
                runner = runner or make_runner()
                record = runner.run(case)
            except Exception as exc:  # making the runner failed; the case is recorded, the batch goes on
                record = RunRecord(case=case, status="failed", error=error_text(exc))
            finished.put(record)

    def deliver(record: RunRecord) -> None:
        with lock:
            running.pop(record.case.id, None)
        sink(record)

    threads = [
        threading.Thread(target=work, name=f"cjsim-case-{i}", daemon=True) for i in range(max(1, min(jobs, len(cases))))
    ]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads) or not finished.empty():
            try:
                deliver(finished.get(timeout=0.1))
            except queue_module.Empty:
                pass
    except BaseException:
        stop.set()
        while not finished.empty():  # finished before the interrupt: kept as they are
            deliver(finished.get())
        with lock:
            cut = list(running.values())
            running.clear()
        for case in cut:
            sink(_interrupted(case))
        raise


def _put(done: queue_module.SimpleQueue[int], index: int, _future: Future[Any]) -> None:
    done.put(index)
