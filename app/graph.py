"""The conversation graph: a LangGraph ``StateGraph`` routing CJ and a merchant through workflows.

Nodes:
    merchant  the simulated merchant speaks (or a human, through ``interrupt()``)
    router    picks the workflow (``auto``) or follows a transition the merchant triggered
    cj        CJ's model, bound to exactly the current workflow's tools
    approval  pauses with ``interrupt()`` before an action that needs the merchant's approval;
              the run resumes with ``approved`` or ``declined`` (a scripted policy, a model or a human)
    tools     a ``ToolNode``; calls to tools outside the workflow, bad arguments and provider
              errors come back as error tool messages the model can recover from (so do tool
              calls whose arguments are not valid JSON, answered by the cj node itself); actions
              run audited on the provider's operations store with the decision taken
    stages    records workflow stages reached (tool calls and milestones) and decides who is next

A model that returns an empty reply (no text, no tool calls) is asked once more; a second empty
reply ends the run as ``agent_error``, like a model that raises. How a run ends is data
(``termination_reason``), never an exception. Everything a run depends on (provider, models,
scenario, persona, limits, the data catalog) travels in :class:`RunContext`, LangGraph's run
context; the conversation itself lives in :class:`ConversationState`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.ai import add_usage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from app.agents.cj_agent import cj_system_prompt
from app.agents.merchant_agent import merchant_system_prompt, merchant_view
from app.catalog import Catalog
from app.errors import ActionDeclinedError
from app.models import MerchantContext, Persona, Scenario, Workflow
from app.policies.context import MERCHANT_DONE, CJTurnContext
from app.tools import ACTION_TOOLS, build_tools, call_tool, tool_error_message
from app.transcript import usage_totals
from app.views import DataProvider, action_spec
from app.views.actions import LlmUsage
from app.views.quality import DATA_QUALITY, quality_verdict
from app.views.registry import requires_approval
from app.workflows import AUTO

__all__ = [
    "TerminationReason",
    "ConversationState",
    "RunContext",
    "build_graph",
    "approval_decision",
    "conversation_usage",
    "DEFAULT_WORKFLOW",
    "QUIT_LINES",
]

DEFAULT_WORKFLOW = "ad_hoc_support"
"""Where ``--workflow auto`` lands when the merchant's opening matches no workflow."""

QUIT_LINES = frozenset({"", "/quit", "/exit", "/done"})
"""What a human merchant types to leave (compared case-insensitively, surrounding spaces ignored)."""


class TerminationReason(StrEnum):
    """How a conversation ended."""

    merchant_done = "merchant_done"
    human_quit = "human_quit"
    max_turns = "max_turns"
    agent_error = "agent_error"
    tool_error_limit = "tool_error_limit"


def _merge(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    return {**old, **new}


class ConversationState(TypedDict, total=False):
    """The graph's state: the conversation and where it stands."""

    messages: Annotated[list[AnyMessage], add_messages]
    workflow: str
    workflow_path: Annotated[list[dict[str, Any]], operator.add]
    stages_reached: Annotated[list[dict[str, Any]], operator.add]
    merchant_turns: int
    tool_rounds: int
    approvals: Annotated[dict[str, str], _merge]
    termination_reason: str | None
    error: str | None


@dataclass
class RunContext:
    """Dependencies of one run, passed to every node through LangGraph's runtime.

    ``merchant_model=None`` means a human plays the merchant: the graph pauses with
    ``interrupt()`` and resumes with the human's line. ``catalog`` holds the workflows, intents,
    milestones and prompts of the run.
    """

    catalog: Catalog
    provider: DataProvider
    scenario: Scenario
    persona: Persona
    merchant_context: MerchantContext
    cj_model: BaseChatModel
    merchant_model: BaseChatModel | None
    seed: int = 0
    max_turns: int = 8
    max_tool_errors: int = 3
    max_tool_rounds: int = 5
    token_prices: tuple[float, float] | None = None
    """USD per million input and output tokens of the run's models, when known: actions that record
    what the conversation spent (a simulation run) then record its cost too."""


Rt = Runtime[RunContext]


def conversation_usage(messages: list[AnyMessage], prices: tuple[float, float] | None) -> LlmUsage | None:
    """Tokens (and, with ``prices``, the cost) the conversation's models reported so far; None when
    none reported any (the offline models)."""
    totals = usage_totals(messages)
    if not totals:
        return None
    tokens_in = sum(u["input_tokens"] for u in totals.values())
    tokens_out = sum(u["output_tokens"] for u in totals.values())
    tokens = sum(u["total_tokens"] for u in totals.values()) or tokens_in + tokens_out
    cost = None if prices is None else round((tokens_in * prices[0] + tokens_out * prices[1]) / 1e6 * 100)
    return LlmUsage(tokens=tokens, cost_cents=cost)


def _current_workflow(state: ConversationState, ctx: RunContext) -> Workflow:
    return ctx.catalog.workflows.get(state["workflow"])


def _reached_ids(state: ConversationState, workflow: str) -> tuple[str, ...]:
    return tuple(s["stage"] for s in state.get("stages_reached", []) if s["workflow"] == workflow)


# --------------------------------------------------------------------------- model calls


def _text(reply: Any) -> str:
    return reply.text if isinstance(reply, BaseMessage) else str(reply)


def _invoke(model: Any, messages: list[AnyMessage], empty: Callable[[Any], bool]) -> Any:
    """The model's reply; an empty one is asked for once more (its tokens still count), then it is an error."""
    reply = model.invoke(messages)
    if not empty(reply):
        return reply
    first = reply
    reply = model.invoke(messages)
    if empty(reply):
        raise ValueError("returned an empty reply twice")
    spent = getattr(first, "usage_metadata", None)
    if spent and isinstance(reply, AIMessage):
        reply.usage_metadata = add_usage(spent, reply.usage_metadata)
    return reply


def _cj_reply_empty(reply: Any) -> bool:
    calls = isinstance(reply, AIMessage) and (reply.tool_calls or reply.invalid_tool_calls)
    return not calls and not _text(reply).strip()


def _invalid_call_messages(reply: AIMessage) -> list[ToolMessage]:
    """An error tool message for each tool call whose arguments could not be parsed, so the model can retry.

    A call without an id or name gets one here, so the reply and its error message stay paired.
    """
    out = []
    for i, call in enumerate(reply.invalid_tool_calls):
        call["id"] = call.get("id") or f"invalid_call_{i}"
        call["name"] = name = call.get("name") or "unknown"
        raw = call.get("args")
        shown = "none" if raw is None else repr(raw if len(raw) <= 300 else raw[:300] + "...")
        out.append(
            ToolMessage(
                content=(
                    f"Error: the call to {name} could not be read: its arguments are not a valid JSON object "
                    f"(received {shown}). Call the tool again with its arguments as a JSON object."
                ),
                tool_call_id=call["id"],
                name=name,
                status="error",
            )
        )
    return out


# --------------------------------------------------------------------------- nodes


def merchant_node(state: ConversationState, runtime: Rt) -> dict[str, Any]:
    """The merchant's turn: a model's reply, or a human's line through ``interrupt()``."""
    ctx = runtime.context
    turns = state.get("merchant_turns", 0)
    if turns >= ctx.max_turns:
        return {"termination_reason": TerminationReason.max_turns.value}
    usage = None
    if ctx.merchant_model is None:
        last_cj = next(
            (m.content for m in reversed(state.get("messages", [])) if isinstance(m, AIMessage) and m.content), ""
        )
        text = str(interrupt({"type": "merchant_turn", "cj": last_cj, "turn": turns + 1})).strip()
        if text.lower() in QUIT_LINES:  # the human left: record that, not words they never said
            return {"termination_reason": TerminationReason.human_quit.value}
    else:
        prompt = merchant_system_prompt(ctx.persona, ctx.scenario, ctx.catalog)
        view = merchant_view(state.get("messages", []), prompt)
        try:
            reply = _invoke(ctx.merchant_model, view, lambda r: not _text(r).strip())
        except Exception as exc:  # a failing model ends the run as data, not as a crash
            return {"termination_reason": TerminationReason.agent_error.value, "error": f"merchant model: {exc}"}
        text = _text(reply)
        usage = getattr(reply, "usage_metadata", None)
    done = MERCHANT_DONE in text
    text = text.replace(MERCHANT_DONE, "").strip() or "Thanks."
    message = HumanMessage(content=text, name="merchant")
    if usage:
        message.response_metadata["usage"] = dict(usage)  # the transcript's merchant usage
    update: dict[str, Any] = {
        "messages": [message],
        "merchant_turns": turns + 1,
        "tool_rounds": 0,
    }
    if done:
        update["termination_reason"] = TerminationReason.merchant_done.value
    return update


def router_node(state: ConversationState, runtime: Rt) -> dict[str, Any]:
    """Pick the workflow for ``auto`` or switch on a transition trigger in the merchant's message."""
    ctx = runtime.context
    text = str(state["messages"][-1].content)
    found = ctx.catalog.intents.detect(text)
    at = len(state["messages"]) - 1
    if state["workflow"] == AUTO:
        chosen = next((m.intent for m in found if m.intent.workflow), None)
        name = chosen.workflow if chosen else DEFAULT_WORKFLOW
        trigger = chosen.id if chosen else None
        return {"workflow": name, "workflow_path": [{"workflow": name, "at_message": at, "trigger": trigger}]}
    current = _current_workflow(state, ctx)
    matched = {m.intent.id for m in found}
    for transition in current.transitions:
        if transition.trigger in matched:
            return {
                "workflow": transition.to,
                "workflow_path": [{"workflow": transition.to, "at_message": at, "trigger": transition.trigger}],
            }
    return {}


def cj_node(state: ConversationState, runtime: Rt) -> dict[str, Any]:
    """CJ's turn: its model, bound to exactly the current workflow's tools."""
    ctx = runtime.context
    if state.get("tool_rounds", 0) >= ctx.max_tool_rounds:
        return {
            "termination_reason": TerminationReason.agent_error.value,
            "error": f"CJ called tools {ctx.max_tool_rounds} times in one turn without answering",
        }
    workflow = _current_workflow(state, ctx)
    model: Any = ctx.cj_model
    if hasattr(model, "with_turn_context"):
        model = model.with_turn_context(
            CJTurnContext(
                workflow=workflow.name,
                stages=tuple(workflow.conversation_flow),
                stages_reached=_reached_ids(state, workflow.name),
                stress_level=ctx.merchant_context.stress_level,
                communication_style=ctx.persona.communication_style,
                merchant_name=ctx.persona.display_name,
                business_name=ctx.persona.business_name,
                turn=state.get("merchant_turns", 0),
                data_gaps=frozenset(ctx.provider.data_gaps()),
                data_quality=quality_verdict(ctx.provider)
                if DATA_QUALITY.tool in workflow.tools_available
                else "unknown",
            )
        )
    model = model.bind_tools(build_tools(ctx.provider, workflow.tools_available))
    prompt = cj_system_prompt(workflow, ctx.persona, ctx.merchant_context, ctx.catalog)
    try:
        reply = _invoke(model, [SystemMessage(prompt), *state.get("messages", [])], _cj_reply_empty)
    except Exception as exc:  # a failing model ends the run as data, not as a crash
        return {"termination_reason": TerminationReason.agent_error.value, "error": f"CJ model: {exc}"}
    if not isinstance(reply, AIMessage):
        reply = AIMessage(content=str(getattr(reply, "content", reply)))
    calls = reply.tool_calls or reply.invalid_tool_calls
    return {
        "messages": [reply, *_invalid_call_messages(reply)],
        "tool_rounds": state.get("tool_rounds", 0) + (1 if calls else 0),
    }


def _last_reply(state: ConversationState) -> AIMessage:
    """CJ's latest message (error messages for its unreadable tool calls may follow it)."""
    return next(m for m in reversed(state["messages"]) if isinstance(m, AIMessage))


def _pending_approvals(state: ConversationState) -> list[dict[str, Any]]:
    """Calls in CJ's last message to actions that need approval and have no decision yet."""
    last = _last_reply(state)
    decided = state.get("approvals", {})
    return [
        call
        for call in getattr(last, "tool_calls", None) or []
        if call["name"] in ACTION_TOOLS and requires_approval(call["name"]) and call["id"] not in decided
    ]


def approval_node(state: ConversationState, runtime: Rt) -> dict[str, Any]:
    """Ask the merchant before each action that needs approval; record ``approved`` or ``declined``."""
    bound = _current_workflow(state, runtime.context).tools_available
    decisions: dict[str, str] = {}
    for call in _pending_approvals(state):
        if call["name"] not in bound:  # refused by the tools node; nothing to ask
            decisions[call["id"]] = "not_bound"
            continue
        spec = action_spec(ACTION_TOOLS[call["name"]])
        answer = interrupt(
            {
                "type": "approval",
                "tool_call_id": call["id"],
                "action": spec.name,
                "description": spec.description,
                "side_effect": spec.side_effect,
                "args": call["args"],
            }
        )
        decisions[call["id"]] = approval_decision(answer)
    return {"approvals": decisions}


def approval_decision(answer: Any) -> str:
    """``approved`` for a yes (True, 'approve', 'approved', 'yes', 'y'), else ``declined``."""
    if isinstance(answer, dict):
        answer = answer.get("decision")
    if answer is True or str(answer).strip().lower() in {"approve", "approved", "yes", "y"}:
        return "approved"
    return "declined"


def _run_action(request: ToolCallRequest, ctx: RunContext) -> ToolMessage:
    call = request.tool_call
    decision: Any = request.state.get("approvals", {}).get(call["id"])  # approved | declined | not_bound
    try:
        text, artifact = call_tool(
            ctx.provider, call["name"], call["args"], approval=decision, actor="cj",
            conversation=f"{ctx.scenario.id}/{ctx.persona.id}/{ctx.seed}",
            llm_usage=conversation_usage(request.state.get("messages", []), ctx.token_prices),
        )  # fmt: skip
    except ActionDeclinedError as exc:
        return ToolMessage(
            content=tool_error_message(exc), tool_call_id=call["id"], name=call["name"], status="error",
            artifact={"status": "declined"},
        )  # fmt: skip
    except Exception as exc:  # an action's failure is the model's to handle, like any tool error
        return ToolMessage(content=tool_error_message(exc), tool_call_id=call["id"], name=call["name"], status="error")
    return ToolMessage(content=text, artifact=artifact, tool_call_id=call["id"], name=call["name"])


def _run_context(request: ToolCallRequest) -> RunContext:
    ctx: Any = request.runtime.context  # the graph's context_schema, RunContext
    return ctx


def _enforce_binding(request: ToolCallRequest, execute: Callable[[ToolCallRequest], Any]) -> Any:
    """Refuse calls to tools the current workflow does not bind; run actions audited; run the rest."""
    ctx = _run_context(request)
    workflow = ctx.catalog.workflows.get(request.state["workflow"])
    name = request.tool_call["name"]
    if name not in workflow.tools_available:
        return ToolMessage(
            content=(
                f"Error: tool {name!r} is not available in the {workflow.name} workflow. "
                f"Available tools: {', '.join(workflow.tools_available)}."
            ),
            tool_call_id=request.tool_call["id"],
            name=name,
            status="error",
        )
    if name in ACTION_TOOLS:
        return _run_action(request, ctx)
    return execute(request)


def _tool_node() -> ToolNode:
    # Tools resolve the provider from the run context at call time, so one node serves every run.
    return ToolNode(build_tools(), handle_tool_errors=tool_error_message, wrap_tool_call=_enforce_binding)


def stages_node(state: ConversationState, runtime: Rt) -> dict[str, Any]:
    """Record stages reached by successful tool calls or by milestones in the latest messages."""
    ctx = runtime.context
    workflow = _current_workflow(state, ctx)
    reached = set(_reached_ids(state, workflow.name))
    messages = state["messages"]
    last = messages[-1]
    new: list[dict[str, Any]] = []
    at = len(messages) - 1
    if isinstance(last, ToolMessage):
        tool_msgs = []
        for m in reversed(messages):
            if not isinstance(m, ToolMessage):
                break
            tool_msgs.append(m)
        ok_tools = {m.name for m in tool_msgs if m.status != "error"}
        for stage in workflow.conversation_flow:
            if stage.tool in ok_tools and stage.id not in reached:
                new.append({"workflow": workflow.name, "stage": stage.id, "at_message": at})
                reached.add(stage.id)
        errors = sum(1 for m in messages if isinstance(m, ToolMessage) and m.status == "error" and not _declined(m))
        if errors >= ctx.max_tool_errors:
            return {"stages_reached": new, "termination_reason": TerminationReason.tool_error_limit.value}
    elif isinstance(last, AIMessage):
        previous_merchant = next((m for m in reversed(messages[:-1]) if isinstance(m, HumanMessage)), None)
        milestones = ctx.catalog.milestones
        found = milestones.found(str(last.content), speaker="cj", replying_to=previous_merchant is not None)
        if previous_merchant is not None:
            found |= milestones.found(str(previous_merchant.content), speaker="merchant")
        for stage in workflow.conversation_flow:
            if stage.milestone in found and stage.id not in reached:
                new.append({"workflow": workflow.name, "stage": stage.id, "at_message": at})
                reached.add(stage.id)
    return {"stages_reached": new}


def _declined(message: ToolMessage) -> bool:
    # A merchant's "no" is an answer, not a tool failure: it does not count toward the error limit.
    return isinstance(message.artifact, dict) and message.artifact.get("status") == "declined"


# --------------------------------------------------------------------------- routing


def _start(state: ConversationState, runtime: Rt) -> str:
    if state["workflow"] == AUTO:
        return "merchant"
    return "cj" if _current_workflow(state, runtime.context).initiator == "cj" else "merchant"


def _after_merchant(state: ConversationState) -> str:
    return END if state.get("termination_reason") else "router"


def _after_cj(state: ConversationState) -> str:
    if state.get("termination_reason"):
        return END
    if not _last_reply(state).tool_calls:
        return "stages"  # no call to run (error messages for unreadable calls are counted there)
    return "approval" if _pending_approvals(state) else "tools"


def _after_stages(state: ConversationState) -> str:
    if state.get("termination_reason"):
        return END
    return "cj" if isinstance(state["messages"][-1], ToolMessage) else "merchant"


def build_graph(checkpointer: Any = None) -> Any:
    """Compile the conversation graph (optionally with a checkpointer for resumable or human runs)."""
    graph = StateGraph(ConversationState, context_schema=RunContext)
    graph.add_node("merchant", merchant_node)
    graph.add_node("router", router_node)
    graph.add_node("cj", cj_node)
    graph.add_node("approval", approval_node)
    graph.add_node("tools", _tool_node())
    graph.add_node("stages", stages_node)
    graph.add_conditional_edges(START, _start, ["cj", "merchant"])
    graph.add_conditional_edges("merchant", _after_merchant, ["router", END])
    graph.add_edge("router", "cj")
    graph.add_conditional_edges("cj", _after_cj, ["approval", "tools", "stages", END])
    graph.add_edge("approval", "tools")
    graph.add_edge("tools", "stages")
    graph.add_conditional_edges("stages", _after_stages, ["cj", "merchant", END])
    return graph.compile(checkpointer=checkpointer)
