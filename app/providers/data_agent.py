"""The DataAgent: a synthetic merchant business answering every data view.

It generates the world for (scenario, persona, merchant context, seed), loads it into an
embedded SQLite database (in memory, or a file on request) and answers views with the same SQL
queries a production database gets. The world already holds a short future after the scenario's
``as_of``; the simulation clock reveals it day by day, so advancing time appends events (new
tickets arrive at the scenario's rate) and never rewrites what was already known.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.catalog import Catalog
from app.errors import InvalidArgumentError
from app.models import MerchantContext, Persona, Scenario
from app.providers.sql_provider import SqlDataProvider
from app.storage.loader import create_schema, insert_rows, memory_engine, sqlite_file_engine
from app.storage.ops import OpsStore
from app.world.context import resolve_context
from app.world.generator import generate_world
from app.world.world import World, WorldSpec

__all__ = ["DataAgent", "resolve_context"]

ACTION_TIME = dt.time(9, 0)
"""Time of day on the simulation clock at which actions are recorded."""


class DataAgent(SqlDataProvider):
    """Synthetic data provider for one world.

    Example:
        >>> agent = DataAgent.create("churn_spike", "Sarah Chen", seed=3)
        >>> agent.financial_metrics("30d").churn_rate.direction
        'up'
        >>> agent.advance(days=1)
        >>> agent.clock == agent.world.as_of + dt.timedelta(days=1)
        True
    """

    name = "data_agent"

    def __init__(self, world: World, path: str | None = None) -> None:
        engine = sqlite_file_engine(path) if path else memory_engine()
        create_schema(engine)
        self.row_counts = insert_rows(engine, world.tables)
        super().__init__(engine)
        self.ops = OpsStore(engine, "embedded")  # actions write ops_ tables beside the world's, never into them
        self.world = world
        self.clock = world.as_of

    @classmethod
    def create(
        cls,
        scenario: str | Scenario,
        merchant: str | Persona,
        *,
        seed: int = 0,
        merchant_context: MerchantContext | dict[str, Any] | None = None,
        subscribers: int | None = None,
        path: str | None = None,
        catalog: Catalog | None = None,
    ) -> DataAgent:
        """Generate and load the world for a scenario and a merchant (id or display name).

        Names are looked up in ``catalog`` (default: ``Catalog.default()``).
        """
        catalog = catalog or Catalog.default()
        sc = catalog.scenarios.get(scenario) if isinstance(scenario, str) else scenario
        persona = catalog.personas.get(merchant) if isinstance(merchant, str) else merchant
        if seed < 0:
            raise InvalidArgumentError(f"seed must be a non-negative integer, got {seed}")
        if subscribers is not None and not 50 <= subscribers <= 1_000_000:
            raise InvalidArgumentError(f"subscribers must be between 50 and 1,000,000, got {subscribers}")
        spec = WorldSpec(
            scenario=sc,
            persona=persona,
            context=resolve_context(persona, sc, merchant_context),
            seed=seed,
            subscribers=subscribers,
        )
        return cls(generate_world(spec), path=path)

    @property
    def scenario(self) -> Scenario:
        return self.world.spec.scenario

    @property
    def persona(self) -> Persona:
        return self.world.spec.persona

    @property
    def merchant_context(self) -> MerchantContext:
        return self.world.spec.context

    def default_as_of(self) -> dt.date:
        """The simulation clock."""
        return self.clock

    def merchant_name(self) -> str:
        return self.persona.business_name

    def action_clock(self) -> dt.datetime:
        """Actions are stamped with the simulation clock (conversations start at 09:00)."""
        return dt.datetime.combine(self.clock, ACTION_TIME)

    def advance(self, days: int = 1) -> dt.date:
        """Move the simulation clock forward; returns the new date.

        Raises:
            InvalidArgumentError: for a non-positive step or a date past the simulated horizon.
        """
        if days < 1:
            raise InvalidArgumentError(f"days must be at least 1, got {days}")
        target = self.clock + dt.timedelta(days=days)
        if target > self.world.horizon:
            left = (self.world.horizon - self.clock).days
            raise InvalidArgumentError(
                f"the world is simulated up to {self.world.horizon}; the clock can advance at most {left} more days"
            )
        self.clock = target
        return target

    def get_data_context(self) -> dict[str, Any]:
        """Merchant context, scenario, seed and headline metrics at the current clock."""
        fin = self.financial_metrics("30d")
        tickets = self.ticket_metrics("30d")
        return {
            "merchant": {"id": self.persona.id, "name": self.persona.display_name, "business": self.persona.business_name},
            "merchant_context": self.merchant_context.model_dump(mode="json"),
            "scenario": {
                "id": self.scenario.id,
                "name": self.scenario.display_name,
                "stress_level": self.scenario.stress_level.value,
                "as_of": self.scenario.as_of.isoformat(),
            },
            "seed": self.world.spec.seed,
            "clock": self.clock.isoformat(),
            "headline_metrics": {
                "mrr": fin.mrr.current,
                "active_subscribers": fin.active_subscribers.current,
                "churn_rate_30d": fin.churn_rate.current,
                "new_subscribers_30d": fin.new_subscribers.current,
                "cac_30d": fin.cac.current,
                "tickets_30d": tickets.created.current,
                "csat_30d": tickets.csat.current,
            },
        }

