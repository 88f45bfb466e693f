"""The simulated merchant: its system prompt and its role-flipped view of the conversation.

The merchant never sees tool traffic: CJ's tool calls and tool results are hidden, CJ's text
replies become the "human" side, and the merchant's own lines are its "AI" side, so any chat
model can play the merchant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from app.catalog import Catalog
from app.catalog.system_prompts import MERCHANT_SYSTEM
from app.models import CommunicationStyle, Persona, Scenario
from app.policies.context import MERCHANT_DONE

__all__ = ["MERCHANT_PROMPT_VERSION", "merchant_system_prompt", "merchant_view", "merchant_approval"]

MERCHANT_PROMPT_VERSION = MERCHANT_SYSTEM.version

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


def merchant_view(messages: Sequence[AnyMessage], system_prompt: str) -> list[AnyMessage]:
    """The conversation as the merchant sees it: roles flipped, tool traffic hidden."""
    view: list[AnyMessage] = [SystemMessage(system_prompt)]
    for m in messages:
        if isinstance(m, HumanMessage):
            view.append(AIMessage(content=m.content))
        elif isinstance(m, AIMessage) and isinstance(m.content, str) and m.content.strip():
            view.append(HumanMessage(content=m.content))
    return view


def merchant_approval(
    merchant_model: BaseChatModel,
    persona: Persona,
    scenario: Scenario,
    request: dict[str, Any],
    catalog: Catalog | None = None,
) -> str:
    """The merchant's answer to CJ's request to run an action: ``approved`` or ``declined``.

    A model with its own approval policy (the scripted merchant decides by persona) answers
    directly; any other chat model is asked in its merchant role and approves only with a
    clear yes.
    """
    decide = getattr(merchant_model, "decide_approval", None)
    if callable(decide):
        return "approved" if decide(request) == "approved" else "declined"
    question = (
        f"CJ asks for your approval before it acts: {request['description']} "
        f"({', '.join(f'{k}={v!r}' for k, v in request['args'].items())}). "
        "Answer with one word: APPROVE or DECLINE."
    )
    prompt = merchant_system_prompt(persona, scenario, catalog)
    reply = merchant_model.invoke([SystemMessage(prompt), HumanMessage(question)])
    text = str(reply.content).strip().upper()
    return "approved" if text.startswith("APPROVE") or text.startswith("YES") else "declined"
