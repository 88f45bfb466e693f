"""How a batch's cases are executed: in the caller, on an executor (processes or Ray), or on threads.

* **In process** (``jobs=1``, offline models): one :class:`CaseRunner`, cases in order.
* **An executor** (offline models, ``jobs>1`` or Ray; :mod:`app.execution`): cases are grouped by
  world; each group is one task, so a world (~220 ms to generate) is made once and shared by its
  workflows (~20 ms each). A group's records come back together when its task finishes.
* **Threads** (network models): up to ``jobs`` conversations at once, each thread with its own
  runner (world cache, database connection); model calls are retried on transient errors.

Ctrl-C stops a batch within moments in the caller and on threads: the case (or cases) running
then get an ``interrupted`` record, and ``--resume`` runs them again.

In every mode the caller's ``sink`` receives each record in the calling thread, so the caller
is the only writer of ``transcripts.jsonl``. Record order follows completion, not case order.
"""

from __future__ import annotations

import gc
import queue as queue_module
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from app.batch.records import CaseKey, RunRecord
from app.batch.runner import CaseRunner, CaseSettings, error_text
from app.catalog import Catalog
from app.evaluation.result import Evaluator
from app.execution import Executor, WorkerSetup

__all__ = ["Sink", "group_by_world", "run_in_process", "run_on_executor", "run_on_threads", "INTERRUPTED"]

Sink = Callable[[RunRecord], None]
"""Receives each finished record, in the thread that started the batch."""

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


# --------------------------------------------------------------------------- an executor (processes, Ray)

_worker: CaseRunner | None = None


def _init_worker(settings: CaseSettings, catalog: Catalog, evaluators: Sequence[Evaluator] | None) -> None:
    global _worker
    # the catalog arrives once per worker (inherited when forking), never re-read per case
    _worker = CaseRunner(settings, catalog=catalog, evaluators=evaluators)


def _run_group(cases: list[dict[str, Any]]) -> list[str]:
    assert _worker is not None
    return [_worker.run(CaseKey(**data)).model_dump_json() for data in cases]


def _warm_up(settings: CaseSettings, evaluators: Sequence[Evaluator] | None, catalog: Catalog) -> None:
    """Import and compile what every conversation needs once, before workers are forked."""
    from app.simulation import _graph

    _graph()
    if evaluators is None:
        from app.evaluation.registry import default_evaluators

        keys = list(settings.evaluator_keys) if settings.evaluator_keys is not None else None
        default_evaluators(keys=keys, catalog=catalog)  # imports the evaluator modules once for every worker


def run_on_executor(
    cases: Sequence[CaseKey],
    settings: CaseSettings,
    sink: Sink,
    *,
    executor: Executor,
    catalog: Catalog,
    evaluators: Sequence[Evaluator] | None = None,
    on_start: Callable[[], None] | None = None,
) -> None:
    """Run cases on ``executor``, one world group per task; each group's records arrive when it finishes.

    Every worker gets ``settings``, ``catalog`` and ``evaluators`` once, before its first group.
    ``on_start`` runs once the workers exist: anything that starts threads in this process (a live
    progress display) belongs there, since a thread holding a lock while a worker forks would
    leave that lock held forever in the worker. A group whose task fails (its worker died, or
    making the runner raised) fails its cases with the reason; the other groups go on.
    """
    groups = group_by_world(cases)
    frozen = executor.forks
    if frozen:
        _warm_up(settings, evaluators, catalog)
        gc.collect()
        gc.freeze()  # workers inherit the heap frozen (see _frozen_heap); unfrozen here once they exist

    def started() -> None:
        nonlocal frozen
        if frozen:
            gc.unfreeze()
            frozen = False
        if on_start is not None:
            on_start()

    setup = WorkerSetup(_init_worker, (settings, catalog, evaluators))
    try:
        tasks = [[c.model_dump() for c in g] for g in groups]
        for outcome in executor.map(_run_group, tasks, setup=setup, on_start=started):
            if outcome.error is None:
                for line in outcome.value or []:
                    sink(RunRecord.model_validate_json(line))
                continue
            error = f"worker process failed: {error_text(outcome.error)}"
            for case in groups[outcome.index]:
                sink(RunRecord(case=case, status="failed", error=error))
    finally:
        if frozen:
            gc.unfreeze()


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

