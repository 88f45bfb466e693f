"""Shared CLI pieces: consoles, world options, building a DataAgent from options."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from app.models import BusinessStage, StressLevel

__all__ = ["console", "err_console", "ScenarioOpt", "MerchantOpt", "SeedOpt", "StageOpt", "StressOpt", "build_agent"]

console = Console()
err_console = Console(stderr=True)

ScenarioOpt = Annotated[str, typer.Option("--scenario", "-s", help="Scenario id (cjsim list scenarios).")]
MerchantOpt = Annotated[
    str, typer.Option("--merchant", "-m", help="Merchant id or name, e.g. marcus_thompson or 'Marcus Thompson'.")
]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Random seed of the world.")]
StageOpt = Annotated[
    BusinessStage | None, typer.Option("--stage", help="Business stage (default: the merchant's).")
]
StressOpt = Annotated[
    StressLevel | None, typer.Option("--stress", help="Stress level (default: the scenario's).")
]


def build_agent(scenario: str, merchant: str, seed: int, stage: BusinessStage | None, stress: StressLevel | None):
    """A DataAgent for the world the options describe."""
    from app.agents.data_agent import DataAgent

    context = {"business_stage": stage, "stress_level": stress}
    return DataAgent.create(scenario, merchant, seed=seed, merchant_context=context)
