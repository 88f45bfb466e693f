"""The Ray executor against local processes: the same experiment numbers and the same batch records.

One test starts one local Ray instance (2 CPUs, no dashboard) after computing the local results,
so no process forks while Ray runs, and checks everything on it: being one test, it runs on one
pytest-xdist worker, and parallel workers never start Ray instances of their own. Without Ray it is
skipped, with the reason, unless ``CJSIM_REQUIRE_RAY=1`` (``.ci/run``), which turns a missing Ray
into a failure.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.batch.run import batch_manifest, run_batch
from app.errors import InvalidArgumentError
from app.evaluation.registry import DETERMINISTIC_KEYS
from app.execution import Executor, make_executor
from app.execution.base import check_workers
from app.experiments import InterventionSpec, run_experiment, world_grid
from tests.test_batch import bodies

SPEC = InterventionSpec(name="parity", action="loyalty_discount")
WORLDS = world_grid(["steady_operations"], ["sarah_chen", "zoe_martinez"], [0, 1])
GRID = {"scenarios": ["churn_spike"], "merchants": ["sarah_chen"], "workflows": ["crisis_response", "daily_briefing"],
        "seeds": [0, 1]}  # fmt: skip
EVALUATORS = list(DETERMINISTIC_KEYS)


def _numbers(result: Any) -> dict[str, Any]:
    return {k: v for k, v in result.to_dict().items() if k not in ("duration_s", "simulate_s")}


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        reason = f"the Ray executor tests need Ray ({exc}); install it with: pip install 'cjsim[ray]'"
        if os.environ.get("CJSIM_REQUIRE_RAY") == "1":
            pytest.fail(reason + "; CJSIM_REQUIRE_RAY=1 requires it")
        pytest.skip(reason)
    return ray


def _local_batch(out: Path) -> dict[str, dict]:
    result = run_batch(batch_manifest("parity", evaluators=EVALUATORS, **GRID), out, jobs=2)
    assert result.mode == "processes" and result.summary.ok == 4
    return bodies(out)


@pytest.fixture
def ray_executor() -> Iterator[Executor]:
    """A local Ray instance for the test."""
    ray = _ray()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        with make_executor("ray") as ex:  # joins the instance above, so leaving it stops nothing
            yield ex
        assert ray.is_initialized()
    finally:
        ray.shutdown()


def test_ray_gives_the_local_numbers_records_and_errors(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    _ray()
    local_experiment = _numbers(run_experiment(SPEC, WORLDS, 8, seed=3, workers=2))
    local_batch = _local_batch(tmp_path / "local")  # both fork: before Ray starts
    ray_executor: Executor = request.getfixturevalue("ray_executor")
    assert ray_executor.name == "ray" and ray_executor.workers == 2

    # an experiment: the same numbers, and another seed other numbers
    assert _numbers(run_experiment(SPEC, WORLDS, 8, seed=3, executor=ray_executor)) == local_experiment
    assert _numbers(run_experiment(SPEC, WORLDS, 8, seed=4, executor=ray_executor)) != local_experiment

    # a batch: the same records
    result = run_batch(batch_manifest("parity", evaluators=EVALUATORS, **GRID), tmp_path / "ray", jobs=2,
                       executor=ray_executor)  # fmt: skip
    assert result.mode == "ray" and (result.summary.ok, result.summary.failed) == (4, 0)
    records = bodies(tmp_path / "ray")
    assert records == local_batch
    assert all(b["transcript"]["messages"] and b["scores"] for b in records.values())

    # a task's error comes back as it was raised
    assert ray_executor.run(check_workers, [3, 1]) == [3, 1]
    with pytest.raises(InvalidArgumentError, match="workers must be between 1 and 256, got 0"):
        ray_executor.run(check_workers, [2, 0])
