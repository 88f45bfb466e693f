"""CJ's tools, built from the registry: one langchain-core tool per view and per action.

Each tool's argument schema is its capability's argument model (typed, enums where the domain is
closed, descriptions the model reads); its description is the capability's description plus its
guidance. A call returns the result's compact text as the message content and its JSON as the
tool message's artifact, so evaluation can check every number CJ states against what it was shown.

A view tool reads from the provider. An action tool runs through
:func:`app.views.actions.execute_action` on the provider's operations store: audited, idempotent,
and (for actions that need it) only with the merchant's approval, which the conversation graph
asks for before the call.

Example:
    >>> from app.providers.data_agent import DataAgent
    >>> tools = build_tools(DataAgent.create("growth_stall", "marcus_thompson"))
    >>> msg = tools_by_name(tools)["get_ticket_metrics"].invoke(
    ...     {"type": "tool_call", "id": "c1", "name": "get_ticket_metrics", "args": {"time_range": "7d"}})
    >>> msg.artifact["time_range"]
    '7d'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import ValidationError

from app.errors import ActionDeclinedError, CJSimError, InvalidArgumentError
from app.views import ACTIONS, VIEWS, ActionSpec, DataProvider, by_tool
from app.views.actions import Approval, LlmUsage, execute_action

__all__ = [
    "TOOL_VIEWS",
    "VIEW_TOOLS",
    "ACTION_TOOLS",
    "ALL_TOOLS",
    "build_tools",
    "tools_by_name",
    "call_tool",
    "tool_error_message",
    "DECLINED",
]

TOOL_VIEWS: dict[str, str] = {spec.tool: spec.name for spec in VIEWS.values()}
"""Tool name -> data view it answers with (views registered when this module was imported)."""
VIEW_TOOLS: tuple[str, ...] = tuple(TOOL_VIEWS)
"""Every read tool, in display order."""
ACTION_TOOLS: dict[str, str] = {spec.tool: spec.name for spec in ACTIONS.values()}
"""Tool name -> action it runs."""
ALL_TOOLS: tuple[str, ...] = (*VIEW_TOOLS, *ACTION_TOOLS)
"""Every tool: views first, then actions."""

ProviderSource = DataProvider | Callable[[], DataProvider]


def _runtime_provider() -> DataProvider:
    from langgraph.runtime import get_runtime

    context: Any = get_runtime().context  # the graph's RunContext
    provider: DataProvider = context.provider
    return provider


def build_tools(provider: ProviderSource | None = None, names: Iterable[str] | None = None) -> list[BaseTool]:
    """Tools over ``provider``.

    Args:
        provider: a provider, a zero-argument callable returning one, or ``None`` to use the
            provider of the current conversation graph run (``RunContext.provider``).
        names: only these tools (default: every registered view and action); an undeclared
            name raises ``UnknownNameError`` listing the tools.
    """
    specs = [by_tool(n) for n in names] if names is not None else [*VIEWS.values(), *ACTIONS.values()]
    if provider is None:
        resolve: Callable[[], DataProvider] = _runtime_provider
    elif isinstance(provider, DataProvider):
        resolve = lambda: provider
    else:
        resolve = provider
    return [_make_tool(spec.tool, resolve) for spec in specs]


def call_tool(
    provider: DataProvider,
    tool: str,
    args: dict[str, Any],
    *,
    approval: Approval | None = None,
    actor: str = "cj",
    conversation: str | None = None,
    llm_usage: LlmUsage | None = None,
) -> tuple[str, dict[str, Any]]:
    """Run one tool call: ``(text, JSON)`` of the view's or the action's result.

    ``llm_usage`` (an action's only) is what the conversation's models spent so far.

    Raises:
        UnknownNameError: an undeclared tool.
        InvalidArgumentError: bad arguments, or an action on a provider without an operations store.
        ActionDeclinedError / ActionFailedError: see :func:`app.views.actions.execute_action`.
    """
    spec = by_tool(tool)
    given = {k: v for k, v in args.items() if v is not None}
    if not isinstance(spec, ActionSpec):
        result = provider.get_view(spec.name, **given)
        return result.to_text(), result.to_json()
    if provider.ops is None:
        raise InvalidArgumentError(
            f"action {spec.name!r} needs an operations store, and this data provider has none "
            "(open the production provider with an operations store URL)"
        )
    outcome = execute_action(
        provider.ops, spec.name, given, day=provider.default_as_of(), approval=approval, actor=actor,
        conversation=conversation, now=provider.action_clock(), provider=provider, llm_usage=llm_usage,
    )  # fmt: skip
    text = spec.result.model_validate(outcome.result).to_text()
    if outcome.status == "duplicate":
        text = f"Already done earlier (not repeated): {text}"
    return text, {"status": outcome.status, "audit_id": outcome.audit_id, "result": outcome.result}


def _make_tool(name: str, resolve: Callable[[], DataProvider]) -> BaseTool:
    spec = by_tool(name)

    def run(**kwargs: Any) -> tuple[str, dict[str, Any]]:
        return call_tool(resolve(), name, kwargs)

    return StructuredTool.from_function(
        func=run,
        name=name,
        description=spec.tool_description,
        args_schema=spec.args,
        response_format="content_and_artifact",
    )


def tools_by_name(tools: Iterable[BaseTool]) -> dict[str, BaseTool]:
    """Index tools by name."""
    return {t.name: t for t in tools}


DECLINED = "Not done:"
"""How the tool message of a declined action starts (the merchant said no: do not ask again)."""


def tool_error_message(exc: Exception) -> str:
    """The error text a model sees when a tool call fails, written so it can recover."""
    if isinstance(exc, ActionDeclinedError):
        return f"{DECLINED} {exc}. Do not call it again unless the merchant asks; ask what they would like instead."
    if isinstance(exc, CJSimError):
        return f"Error: {exc}. Fix the arguments and call the tool again, or use another tool."
    cause = exc.__cause__ if isinstance(exc.__cause__, ValidationError) else exc
    if isinstance(cause, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: "
            f"{'unknown argument' if e['type'] == 'extra_forbidden' else e['msg']}"
            for e in cause.errors()
        )
        return f"Error: invalid arguments ({problems}). Fix the arguments and call the tool again."
    return f"Error: the tool failed ({type(exc).__name__}: {exc}). Try again or use another tool."
