"""Shared fixtures. Worlds are generated once per (scenario, merchant, seed) and shared read-only."""

from __future__ import annotations

import functools

import pytest
from hypothesis import settings

from app.agents.data_agent import DataAgent

# Reproducible property tests: no example database on disk, the same examples on every run, and
# no per-example time limit (tests assert behaviour, never wall-clock time).
settings.register_profile("cjsim", database=None, derandomize=True, deadline=None)
settings.load_profile("cjsim")


@functools.cache
def cached_agent(scenario: str, merchant: str, seed: int = 0) -> DataAgent:
    """A shared DataAgent; tests must not advance its clock (use ``DataAgent.create`` for that)."""
    return DataAgent.create(scenario, merchant, seed=seed)


@pytest.fixture
def growth_stall_agent() -> DataAgent:
    return cached_agent("growth_stall", "marcus_thompson", 0)
