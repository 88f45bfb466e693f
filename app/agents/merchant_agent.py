"""The simulated merchant: its system prompt and its role-flipped view of the conversation.

The merchant never sees tool traffic: CJ's tool calls and tool results are hidden, CJ's text
replies become the "human" side, and the merchant's own lines are its "AI" side, so any chat
model can play the merchant.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from app.catalog import Catalog
from app.catalog.system_prompts import MERCHANT_SYSTEM
from app.models import CommunicationStyle, Persona, Scenario
from app.policies.context import MERCHANT_DONE

__all__ = ["MERCHANT_PROMPT_VERSION", "merchant_system_prompt", "merchant_view", "is_merchant"]

MERCHANT_PROMPT_VERSION = MERCHANT_SYSTEM.version
MERCHANT_NAME = "merchant"

_STYLE = {
    CommunicationStyle.direct: "you are terse and data-driven; short sentences, you want numbers.",
    CommunicationStyle.collaborative: "you are friendly and detail-oriented; you think out loud with CJ.",
    CommunicationStyle.scattered: "you are overwhelmed; you jump between worries and write run-on messages.",
}


def merchant_system_prompt(persona: Persona, scenario: Scenario, catalog: Catalog | None = None) -> str:
    """The system prompt an LLM merchant plays from (the prompt file of ``catalog``, default: ``Catalog.default()``)."""
    goals = "\n".join(f"{i}. {g.ask}" for i, g in enumerate(scenario.merchant_goals, 1))
    return (catalog or Catalog.default()).prompts.system.render(
        MERCHANT_SYSTEM,
        merchant_name=persona.display_name,
        business_name=persona.business_name,
        business_type=persona.business_type,
        style_guidance=_STYLE[persona.communication_style],
        scenario_description=scenario.description.strip(),
        known_facts="; ".join(persona.known_facts) or "nothing special",
        goals=goals,
        done_marker=MERCHANT_DONE,
    )


def is_merchant(message: AnyMessage) -> bool:
    return isinstance(message, HumanMessage)


def merchant_view(messages: Sequence[AnyMessage], system_prompt: str) -> list[AnyMessage]:
    """The conversation as the merchant sees it: roles flipped, tool traffic hidden."""
    view: list[AnyMessage] = [SystemMessage(system_prompt)]
    for m in messages:
        if isinstance(m, HumanMessage):
            view.append(AIMessage(content=m.content))
        elif isinstance(m, AIMessage) and isinstance(m.content, str) and m.content.strip():
            view.append(HumanMessage(content=m.content))
    return view
