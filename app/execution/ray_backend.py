"""Ray: tasks on a Ray cluster, or on a Ray instance started on this machine for the executor's lifetime.

Install with ``pip install 'cjsim[ray]'``. A cluster's workers need the same ``cjsim`` version
installed (tasks name the project's functions by module path). An executor that joins a running
cluster, or a Ray instance this process already started, never shuts it down.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from app.errors import ExecutorError
from app.execution.base import Executor, TaskResult, WorkerLostError, WorkerSetup, check_workers

__all__ = ["RayExecutor", "INSTALL_HINT", "import_ray"]

T = TypeVar("T")
R = TypeVar("R")

INSTALL_HINT = "pip install 'cjsim[ray]'"
"""How to get Ray; every error about a missing Ray names it."""

_CONNECT_TIMEOUT_S = 5.0

# The setups this worker process has run, by map: Ray reuses worker processes across tasks.
_ready: set[str] = set()


def import_ray() -> Any:
    """The ``ray`` module; :class:`ExecutorError` naming the install command when it is missing."""
    try:
        import ray
    except ImportError as exc:
        raise ExecutorError(f"the Ray executor needs Ray, which is not installed ({exc}); "
                            f"install it with: {INSTALL_HINT}") from None  # fmt: skip
    return ray


def _task(token: str, setup: WorkerSetup | None, fn: Callable[[Any], Any], item: Any) -> Any:
    if setup is not None and token not in _ready:
        setup.fn(*setup.args)
        _ready.add(token)
    return fn(item)


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``host:port`` or ``ray://host:port``; ``None`` for ``auto``/``local``."""
    rest = address.split("://", 1)[1] if "://" in address else address
    if rest in ("auto", "local"):
        return None
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ExecutorError(f"Ray address {address!r} is not host:port, ray://host:port or auto; "
                            "give the head node's address, e.g. --ray-address 10.0.0.5:6379")  # fmt: skip
    return host.strip("[]"), int(port)


def _check_reachable(address: str) -> None:
    # Ray retries an unreachable cluster for a long time; a plain TCP connect says it at once.
    target = _host_port(address)
    if target is None:
        return
    try:
        socket.create_connection(target, timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ExecutorError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); start it with "
                            "`ray start --head` on the head node, or check --ray-address") from None  # fmt: skip


class RayExecutor(Executor):
    """Ray tasks on the cluster at ``address``, or on a Ray instance started here with ``workers`` CPUs.

    Example:
        >>> with RayExecutor(2) as ex:  # doctest: +SKIP
        ...     ex.run(abs, [-1, -2, 3])
        [1, 2, 3]
    """

    name = "ray"

    def __init__(self, workers: int | None = None, *, address: str | None = None) -> None:
        ray = import_ray()
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            n = check_workers(workers)
            quiet = {"logging_level": logging.ERROR, "log_to_driver": False, "configure_logging": True}
            try:
                if address:
                    _check_reachable(address)
                    ray.init(address=address, **quiet)
                else:
                    ray.init(num_cpus=n, include_dashboard=False, **quiet)
            except ExecutorError:
                raise
            except Exception as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise ExecutorError(f"cannot start {where}: {exc}; check --ray-address, or run "
                                    "`ray status` to see whether the cluster is up") from None  # fmt: skip
            self._started = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, cpus if address or workers is None else min(workers, cpus))
        self._remote = ray.remote(_task)

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, setup: WorkerSetup | None = None,
            on_start: Callable[[], None] | None = None) -> Iterator[TaskResult[R]]:  # fmt: skip
        """See :meth:`Executor.map`; a task's own error comes back as it was raised."""
        ray = self._ray
        from ray.exceptions import RayTaskError

        token = uuid.uuid4().hex
        shared = ray.put(setup) if setup is not None else None  # sent once, not once per task
        refs = [self._remote.remote(token, shared, fn, item) for item in items]
        index = {ref: i for i, ref in enumerate(refs)}
        if on_start is not None:
            on_start()
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    try:
                        yield TaskResult(index[ref], ray.get(ref))
                    except RayTaskError as exc:
                        cause = exc.cause if isinstance(exc.cause, Exception) else exc
                        yield TaskResult(index[ref], error=cause)
                    except Exception as exc:  # worker crashed, node died, object lost
                        yield TaskResult(index[ref], error=WorkerLostError(f"a Ray worker was lost: {exc}"))
        except BaseException:
            for ref in pending:
                with contextlib.suppress(Exception):  # a task that finished meanwhile cannot be cancelled
                    ray.cancel(ref, force=True)
            raise

    def shutdown(self) -> None:
        """Stop the Ray instance if this executor started it (a joined cluster keeps running)."""
        if self._started:
            self._started = False
            self._ray.shutdown()

    def __repr__(self) -> str:
        return f"RayExecutor(workers={self.workers}, started={self._started})"
