"""The Ray executor against local processes: the same experiment numbers and the same batch records.

One local Ray instance (2 CPUs, no dashboard) serves the whole module; the local results are
computed before it starts, so no process forks while Ray runs. Under pytest-xdist the module's
tests share one worker (``xdist_group`` with ``--dist loadgroup``, set in pyproject.toml), so
parallel workers never start Ray instances of their own. Without Ray the module is skipped, with
the reason, unless ``CJSIM_REQUIRE_RAY=1`` (``.ci/run``), which turns a missing Ray into a failure.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.batch.records import RunDir
from app.batch.run import batch_manifest, run_batch
from app.errors import InvalidArgumentError
from app.evaluation.registry import DETERMINISTIC_KEYS
from app.execution import Executor, make_executor
from app.execution.base import check_workers
from app.experiments import InterventionSpec, run_experiment, world_grid

pytestmark = pytest.mark.xdist_group("ray")

SPEC = InterventionSpec(name="parity", action="loyalty_discount")
WORLDS = world_grid(["steady_operations"], ["sarah_chen", "zoe_martinez"], [0, 1])
GRID = {"scenarios": ["churn_spike"], "merchants": ["sarah_chen"], "workflows": ["crisis_response", "daily_briefing"],
        "seeds": [0, 1]}  # fmt: skip
EVALUATORS = list(DETERMINISTIC_KEYS)


def _numbers(result: Any) -> dict[str, Any]:
    return {k: v for k, v in result.to_dict().items() if k not in ("duration_s", "simulate_s")}


def _bodies(path: Path) -> dict[str, dict]:
    """Each case's record without wall-clock fields (transcript meta, duration)."""
    out = {}
    for r in RunDir(path).records():
        data = r.model_dump(mode="json", exclude={"duration_s"})
        if data["transcript"]:
            data["transcript"].pop("meta")
        out[r.case.id] = data
    return out


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        reason = f"the Ray executor tests need Ray ({exc}); install it with: pip install 'cjsim[ray]'"
        if os.environ.get("CJSIM_REQUIRE_RAY") == "1":
            pytest.fail(reason + "; CJSIM_REQUIRE_RAY=1 requires it")
        pytest.skip(reason)
    return ray


@pytest.fixture(scope="module")
def local_experiment() -> dict[str, Any]:
    return _numbers(run_experiment(SPEC, WORLDS, 8, seed=3, workers=2))


@pytest.fixture(scope="module")
def local_batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("local") / "batch"
    result = run_batch(batch_manifest("parity", evaluators=EVALUATORS, **GRID), out, jobs=2)
    assert result.mode == "processes" and result.summary.ok == 4
    return _bodies(out)


@pytest.fixture(scope="module")
def ray_executor(local_experiment: dict[str, Any], local_batch: dict[str, dict]) -> Iterator[Executor]:
    """One local Ray instance for the module, started after the local runs (they fork)."""
    ray = _ray()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        with make_executor("ray") as ex:  # joins the instance above, so leaving it stops nothing
            yield ex
        assert ray.is_initialized()
    finally:
        ray.shutdown()


def test_an_experiment_on_ray_gives_the_local_numbers(ray_executor: Executor, local_experiment: dict[str, Any]) -> None:
    assert ray_executor.name == "ray" and ray_executor.workers == 2
    result = run_experiment(SPEC, WORLDS, 8, seed=3, executor=ray_executor)
    assert _numbers(result) == local_experiment
    assert _numbers(run_experiment(SPEC, WORLDS, 8, seed=4, executor=ray_executor)) != local_experiment


def test_a_batch_on_ray_gives_the_local_records(ray_executor: Executor, local_batch: dict[str, dict], tmp_path: Path) -> None:
    out = tmp_path / "batch"
    result = run_batch(batch_manifest("parity", evaluators=EVALUATORS, **GRID), out, jobs=2, executor=ray_executor)
    assert result.mode == "ray" and (result.summary.ok, result.summary.failed) == (4, 0)
    bodies = _bodies(out)
    assert bodies == local_batch
    assert all(b["transcript"]["messages"] and b["scores"] for b in bodies.values())


def test_a_tasks_error_on_ray_comes_back_as_it_was_raised(ray_executor: Executor) -> None:
    assert ray_executor.run(check_workers, [3, 1]) == [3, 1]
    with pytest.raises(InvalidArgumentError, match="workers must be between 1 and 256, got 0"):
        ray_executor.run(check_workers, [2, 0])
