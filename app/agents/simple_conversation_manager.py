"""A small facade over the simulation with the API of the original design.

Example:
    >>> manager = SimpleConversationManager()
    >>> conversation = manager.create_conversation(
    ...     scenario_name="growth_stall", merchant_name="Marcus Thompson", workflow="daily_briefing",
    ...     merchant_context={"business_stage": "growth", "stress_level": "high"})
    >>> manager.get_data_context()["scenario"]["id"]
    'growth_stall'
    >>> transcript = conversation.run()
    >>> transcript.termination_reason
    'merchant_done'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.agents.cj_agent import CJAgent
from app.catalog import Catalog
from app.errors import InvalidArgumentError
from app.providers.data_agent import DataAgent
from app.simulation import RunConfig, run_conversation
from app.transcript import Transcript

__all__ = ["Conversation", "SimpleConversationManager"]


@dataclass
class Conversation:
    """A prepared conversation: its configuration and the DataAgent holding its world."""

    config: RunConfig
    data_agent: DataAgent
    transcript: Transcript | None = field(default=None)

    def run(self, cj: CJAgent | None = None, merchant_model: str | None = None) -> Transcript:
        """Run to the end. ``cj`` (from ``create_cj_agent``) supplies CJ's model; the workflow stays the conversation's."""
        cfg = self.config
        if merchant_model is not None:
            cfg = RunConfig(**{**cfg.__dict__, "merchant_model": merchant_model})
        if cj is not None and cj.workflow.name != cfg.workflow and cfg.workflow != "auto":
            raise InvalidArgumentError(
                f"CJ was created for workflow {cj.workflow.name!r} but the conversation runs {cfg.workflow!r}"
            )
        self.transcript = run_conversation(cfg, provider=self.data_agent, cj_model=cj.model if cj else None)
        return self.transcript


class SimpleConversationManager:
    """Creates conversations and exposes the data context of the latest one.

    Names are looked up in ``catalog`` (default: ``Catalog.default()``).
    """

    def __init__(self, seed: int = 0, max_turns: int = 8, catalog: Catalog | None = None) -> None:
        self.seed = seed
        self.max_turns = max_turns
        self.catalog = catalog or Catalog.default()
        self.current: Conversation | None = None

    def create_conversation(
        self,
        scenario_name: str,
        merchant_name: str,
        workflow: str = "daily_briefing",
        merchant_context: dict[str, Any] | None = None,
        seed: int | None = None,
        cj_model: str = "rules",
        merchant_model: str = "script",
    ) -> Conversation:
        """Prepare a conversation; the merchant may be given by id or display name."""
        persona = self.catalog.personas.get(merchant_name)
        cfg = RunConfig(
            scenario=scenario_name,
            merchant=persona.id,
            workflow=workflow,
            seed=self.seed if seed is None else seed,
            max_turns=self.max_turns,
            cj_model=cj_model,
            merchant_model=merchant_model,
            merchant_context=dict(merchant_context or {}),
            catalog=self.catalog,
        )
        cfg.validate()
        agent = DataAgent.create(
            cfg.scenario, persona, seed=cfg.seed, merchant_context=cfg.merchant_context, catalog=self.catalog
        )
        self.current = Conversation(cfg, agent)
        return self.current

    def get_data_context(self) -> dict[str, Any]:
        """Merchant context, scenario, seed and headline metrics of the current conversation."""
        if self.current is None:
            raise InvalidArgumentError("no conversation yet; call create_conversation() first")
        return self.current.data_agent.get_data_context()
