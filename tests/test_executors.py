"""The executor interface on local processes: input order, errors as raised, lost workers, bad arguments.

The Ray executor passes the same checks against a local Ray instance in tests/test_ray_executor.py.
"""

from __future__ import annotations

import os

import pytest

from app.errors import ExecutorError, InvalidArgumentError, UnknownNameError
from app.execution import LocalExecutor, TaskResult, WorkerSetup, make_executor
from app.execution.base import WorkerLostError, check_workers
from app.execution.ray_backend import _host_port

_state: dict[str, int] = {}


def _remember(offset: int) -> None:
    _state["offset"] = offset


def _shifted(x: int) -> tuple[int, int]:
    return x + _state["offset"], os.getpid()


def _die(x: int) -> int:
    if x == 3:
        os._exit(1)  # what a worker killed by the OOM killer looks like to its pool
    return x


@pytest.mark.parametrize("workers", [1, 2])
def test_results_come_in_input_order_with_the_setup_run_in_every_worker(workers: int) -> None:
    with LocalExecutor(workers) as ex:
        results = ex.run(_shifted, list(range(20)), setup=WorkerSetup(_remember, (100,)))
        outcomes = list(ex.map(_shifted, list(range(6)), setup=WorkerSetup(_remember, (1,))))
    assert [v for v, _ in results] == list(range(100, 120))
    pids = {pid for _, pid in results}
    assert (pids == {os.getpid()}) if workers == 1 else (os.getpid() not in pids)
    assert sorted(o.index for o in outcomes) == list(range(6))  # completion order, each with its index
    assert all(o.ok and o.value is not None and o.value[0] == o.index + 1 for o in outcomes)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_tasks_error_comes_back_as_it_was_raised(workers: int) -> None:
    with LocalExecutor(workers) as ex, pytest.raises(InvalidArgumentError, match="workers must be between 1 and 256, got 0"):
        ex.run(check_workers, [2, 0, 3])
    outcomes = {o.index: o for o in LocalExecutor(workers).map(check_workers, [2, 0])}
    assert outcomes[0] == TaskResult(0, 2) and isinstance(outcomes[1].error, InvalidArgumentError)


def test_a_lost_worker_fails_its_tasks_with_an_executor_error() -> None:
    with LocalExecutor(2) as ex:
        outcomes = list(ex.map(_die, [3, 4]))
        with pytest.raises(ExecutorError, match="a worker process died"):
            ex.run(_die, [1, 3])
    assert any(isinstance(o.error, WorkerLostError) for o in outcomes)


def test_make_executor_checks_its_arguments() -> None:
    assert make_executor("local", workers=3).workers == 3
    with pytest.raises(UnknownNameError, match="unknown executor 'dask'; valid executors: local, ray"):
        make_executor("dask")
    with pytest.raises(InvalidArgumentError, match="needs the Ray executor: add --executor ray"):
        make_executor("local", address="127.0.0.1:6379")
    with pytest.raises(InvalidArgumentError, match="workers must be between 1 and 256, got 0"):
        make_executor("local", workers=0)


def test_ray_addresses_are_read_before_ray_is_asked() -> None:
    assert _host_port("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert _host_port("ray://head:10001") == ("head", 10001)
    assert _host_port("[::1]:6379") == ("::1", 6379)
    assert _host_port("auto") is None
    for bad in ("head", "head:port", ":6379"):
        with pytest.raises(ExecutorError, match="is not host:port, ray://host:port or auto"):
            _host_port(bad)
