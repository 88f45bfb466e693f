"""CJ's tools: one langchain-core tool per data view, over any :class:`DataProvider`.

Each tool's argument schema is the view's argument model (typed, enums where the domain is
closed, descriptions the model reads). A call returns the view's compact text as the message
content and the view's JSON as the tool message's artifact, so evaluation can check every
number CJ states against what it was shown.

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

from app.data_views import VIEWS, DataProvider
from app.errors import CJSimError, UnknownNameError

__all__ = ["TOOL_VIEWS", "build_tools", "tools_by_name", "tool_error_message"]

TOOL_VIEWS: dict[str, str] = {
    "get_daily_briefing": "daily_briefing",
    "get_ticket_metrics": "ticket_metrics",
    "get_financial_metrics": "financial_metrics",
    "analyze_customer_segment": "customer_segment",
    "get_crisis_analysis": "crisis_analysis",
    "detect_anomalies": "detect_anomalies",
    "get_customer_list": "customer_list",
    "get_customer_profile": "customer_profile",
    "search_tickets": "search_tickets",
    "get_business_timeline": "business_timeline",
}
"""Tool name -> data view it answers with."""

_GUIDANCE: dict[str, str] = {
    "get_daily_briefing": "Use it to open the day or when asked how the business is doing.",
    "get_ticket_metrics": "Use it for support volume, response times, CSAT and ticket categories.",
    "get_financial_metrics": "Use it for MRR, subscribers, churn, new subscribers, CAC and ARPU.",
    "analyze_customer_segment": "Use it to size and characterise high_value, at_risk, new or churned customers.",
    "get_crisis_analysis": "Use it when something is going wrong now: severity, onset, affected customers.",
    "detect_anomalies": "Use it to find metrics that recently moved away from their normal range.",
    "get_customer_list": "Use it for the actual customers (names and ids) behind a segment.",
    "get_customer_profile": "Use it for one customer's full history; needs a customer id like C000123.",
    "search_tickets": "Use it to find support tickets about a topic.",
    "get_business_timeline": "Use it for dated events (launches, outages, promotions) around today.",
}

ProviderSource = DataProvider | Callable[[], DataProvider]


def _runtime_provider() -> DataProvider:
    from langgraph.runtime import get_runtime

    return get_runtime().context.provider


def build_tools(provider: ProviderSource | None = None, names: Iterable[str] | None = None) -> list[BaseTool]:
    """Tools over ``provider``.

    Args:
        provider: a provider, a zero-argument callable returning one, or ``None`` to use the
            provider of the current conversation graph run (``RunContext.provider``).
        names: only these tools (default: all ten); unknown names raise ``UnknownNameError``.
    """
    wanted = list(TOOL_VIEWS) if names is None else list(names)
    for name in wanted:
        if name not in TOOL_VIEWS:
            raise UnknownNameError("tool", name, TOOL_VIEWS)
    if provider is None:
        resolve: Callable[[], DataProvider] = _runtime_provider
    elif isinstance(provider, DataProvider):
        resolve = lambda: provider  # noqa: E731
    else:
        resolve = provider
    return [_make_tool(name, resolve) for name in wanted]


def _make_tool(name: str, resolve: Callable[[], DataProvider]) -> BaseTool:
    spec = VIEWS[TOOL_VIEWS[name]]

    def run(**kwargs: Any) -> tuple[str, dict[str, Any]]:
        args = {k: v for k, v in kwargs.items() if v is not None}
        result = resolve().get_view(spec.name, **args)
        return result.to_text(), result.to_json()

    return StructuredTool.from_function(
        func=run,
        name=name,
        description=f"{spec.description} {_GUIDANCE[name]}",
        args_schema=spec.args,
        response_format="content_and_artifact",
    )


def tools_by_name(tools: Iterable[BaseTool]) -> dict[str, BaseTool]:
    """Index tools by name."""
    return {t.name: t for t in tools}


def tool_error_message(exc: Exception) -> str:
    """The error text a model sees when a tool call fails, written so it can recover."""
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
