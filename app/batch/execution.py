"""How a batch's cases are executed: in the caller, in a process pool, or on threads under asyncio.

* **In process** (``jobs=1``, offline models): one :class:`CaseRunner`, cases in order.
* **Process pool** (offline models, ``jobs>1``): cases are grouped by world; each group is one
  task, so a world (~220 ms to generate) is made once and shared by its workflows (~20 ms each).
  Workers send each record back through a queue as soon as it is scored.
* **Threads** (network models): up to ``jobs`` conversations at once, bounded by an asyncio
  semaphore, each thread with its own runner (world cache, database connection); model calls
  are retried on transient errors.

In every mode the caller's ``sink`` receives each record in the calling thread, so the caller
is the only writer of ``transcripts.jsonl``. Record order follows completion, not case order.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import queue as queue_module
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from app.batch.records import CaseKey, RunRecord
from app.batch.runner import CaseRunner, CaseSettings, error_text
from app.catalog import Catalog
from app.evaluation.result import Evaluator

__all__ = ["Sink", "group_by_world", "run_in_process", "run_in_pool", "run_on_threads"]

Sink = Callable[[RunRecord], None]
"""Receives each finished record, in the thread that started the batch."""

_STRAGGLER_WAIT_S = 1.0  # after a worker crash, how long to wait for records it had already sent


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
    """Run every case in the calling thread, world by world."""
    _warm_up(runner.settings, runner.evaluators(), runner.catalog)
    with _frozen_heap():
        for group in group_by_world(cases):
            for case in group:
                sink(runner.run(case))


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
            f.add_done_callback(lambda _, i=i: finished_tasks.put(i))
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

    Each thread makes its own runner with ``make_runner`` the first time it runs a case.
    """
    local = threading.local()

    def run(case: CaseKey) -> RunRecord:
        if not hasattr(local, "runner"):
            local.runner = make_runner()
        return local.runner.run(case)

    async def main() -> None:
        limit = asyncio.Semaphore(jobs)
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="cjsim-case") as threads:

            async def one(case: CaseKey) -> RunRecord:
                async with limit:
                    return await loop.run_in_executor(threads, run, case)

            tasks = [asyncio.ensure_future(one(c)) for g in group_by_world(cases) for c in g]
            try:
                for finished in asyncio.as_completed(tasks):
                    sink(await finished)
            finally:
                for task in tasks:
                    task.cancel()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(main())
        return
    # called from inside an event loop (a notebook): run ours on a helper thread, still one writer
    with ThreadPoolExecutor(max_workers=1) as helper:
        helper.submit(asyncio.run, main()).result()
