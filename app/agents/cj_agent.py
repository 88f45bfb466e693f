"""CJ: system-prompt assembly, tool binding per workflow and model choice.

Example:
    >>> cj = create_cj_agent(workflow_name="daily_briefing", scenario_name="growth_stall",
    ...                      merchant_context={"business_stage": "growth", "stress_level": "high"})
    >>> "get_daily_briefing" in cj.tool_names
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from app.catalog import Catalog
from app.catalog.system_prompts import CJ_SYSTEM
from app.model_specs import make_cj_model
from app.models import MerchantContext, Persona, Scenario, StressLevel, Workflow
from app.tools import build_tools
from app.views import DataProvider
from app.world.context import resolve_context

__all__ = ["CJ_PROMPT_VERSION", "CJAgent", "create_cj_agent", "cj_system_prompt"]

CJ_PROMPT_VERSION = CJ_SYSTEM.version

_TONE = {
    StressLevel.low: "Be warm and conversational.",
    StressLevel.moderate: "Be friendly and efficient.",
    StressLevel.high: "Be calm and brief; lead with the most important fact.",
    StressLevel.critical: "Be calm, very brief and reassuring; one clear next step at a time.",
}


def cj_system_prompt(
    workflow: Workflow, persona: Persona, context: MerchantContext, catalog: Catalog | None = None
) -> str:
    """CJ's system prompt from the versioned CJ prompt file (of ``catalog``, default: ``Catalog.default()``),
    the workflow fragment and the merchant context."""
    stages = "\n".join(
        f"{i}. {s.id}: {s.description} ({'call ' + s.tool if s.tool else 'milestone: ' + str(s.milestone)})"
        for i, s in enumerate(workflow.conversation_flow, 1)
    )
    return (catalog or Catalog.default()).prompts.system.render(
        CJ_SYSTEM,
        business_name=persona.business_name,
        merchant_name=persona.display_name,
        communication_style=persona.communication_style.value,
        business_stage=context.business_stage.value,
        stress_level=context.stress_level.value,
        tone_guidance=_TONE[context.stress_level],
        workflow_name=workflow.name,
        workflow_description=workflow.description,
        workflow_prompt=workflow.prompt.strip(),
        stages=stages,
    )


@dataclass
class CJAgent:
    """CJ for one workflow: its model, the tools it is bound to and its system prompt."""

    model: BaseChatModel
    model_spec: str
    workflow: Workflow
    persona: Persona
    merchant_context: MerchantContext
    catalog: Catalog

    @property
    def tool_names(self) -> list[str]:
        """Exactly the workflow's ``tools_available``."""
        return list(self.workflow.tools_available)

    def system_prompt(self) -> str:
        return cj_system_prompt(self.workflow, self.persona, self.merchant_context, self.catalog)

    def tools(self, provider: DataProvider | None = None) -> list[BaseTool]:
        """The workflow's tools over ``provider`` (or the running graph's provider)."""
        return build_tools(provider, self.tool_names)

    def bound_model(self, provider: DataProvider | None = None) -> Any:
        """The model with the workflow's tools bound (what the graph's CJ node calls)."""
        return self.model.bind_tools(self.tools(provider))


def create_cj_agent(
    workflow_name: str = "daily_briefing",
    merchant_context: MerchantContext | dict[str, Any] | None = None,
    scenario_name: str = "steady_operations",
    merchant_name: str = "marcus_thompson",
    model: str | BaseChatModel = "rules",
    seed: int = 0,
    catalog: Catalog | None = None,
) -> CJAgent:
    """Build CJ for a workflow, merchant and scenario with a model spec (``rules`` offline) or model.

    Names are looked up in ``catalog`` (default: ``Catalog.default()``).
    """
    catalog = catalog or Catalog.default()
    workflow = catalog.workflows.get(workflow_name)
    scenario: Scenario = catalog.scenarios.get(scenario_name)
    persona = catalog.personas.get(merchant_name)
    chat_model = make_cj_model(model, seed, catalog) if isinstance(model, str) else model
    spec = model if isinstance(model, str) else type(model).__name__
    context = resolve_context(persona, scenario, merchant_context)
    return CJAgent(chat_model, spec, workflow, persona, context, catalog)
