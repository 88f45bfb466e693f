"""Executors: one way to run a picklable function over work items, on local processes or on Ray.

Simulated experiments (:func:`app.experiments.run_experiment`) and conversation batches
(:func:`app.batch.run.run_batch`) both hand their work to an :class:`Executor`:

* :class:`LocalExecutor` (the default): a process pool on this machine, or the calling process
  when it has one worker.
* :class:`RayExecutor` (``pip install 'cjsim[ray]'``): Ray tasks on a cluster (``address``) or on
  a Ray instance it starts on this machine.

Results carry their item's index, so what a run computes never depends on which worker finished
first. docs/experiments.md shows both from the command line.

Example:
    >>> from app.execution import make_executor
    >>> with make_executor("local", workers=1) as ex:
    ...     ex.run(abs, [-2, 3])
    [2, 3]
"""

from __future__ import annotations

from app.errors import InvalidArgumentError, UnknownNameError
from app.execution.base import Executor, TaskResult, WorkerSetup
from app.execution.local import LocalExecutor

__all__ = ["Executor", "TaskResult", "WorkerSetup", "LocalExecutor", "RayExecutor", "make_executor", "EXECUTORS"]

EXECUTORS = ("local", "ray")
"""The executors' names, as ``--executor`` takes them."""


def make_executor(name: str, *, workers: int | None = None, address: str | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``).

    Args:
        workers: local processes, or the CPUs of the Ray instance started here (default: this
            machine's CPUs); a Ray cluster given by ``address`` uses all of its CPUs.
        address: the Ray cluster to join (``ray`` only): ``host:port``, ``ray://host:port`` or ``auto``.

    Raises:
        UnknownNameError: ``name`` is not an executor.
        InvalidArgumentError: an address for the local executor, or a bad worker count.
        ExecutorError: Ray is not installed or its cluster cannot be reached.
    """
    if name not in EXECUTORS:
        raise UnknownNameError("executor", name, EXECUTORS)
    if name == "local":
        if address is not None:
            raise InvalidArgumentError("a Ray address needs the Ray executor: add --executor ray (or drop --ray-address)")
        return LocalExecutor(workers)
    from app.execution.ray_backend import RayExecutor

    return RayExecutor(workers, address=address)


def __getattr__(name: str) -> object:
    if name == "RayExecutor":  # imported on use: Ray is an optional extra
        from app.execution.ray_backend import RayExecutor

        return RayExecutor
    raise AttributeError(name)
