"""Tool arguments as the views read them: defaults filled in, so equivalent calls compare equal.

Shared by the rule-based CJ (is this call one it already made?) and the evaluators (was this
call redundant, does it carry the question's arguments?).

Example:
    >>> normalize_args("get_ticket_metrics", {})["time_range"]
    '7d'
    >>> tool_has_arg("get_ticket_metrics", "time_range"), tool_has_arg("get_ticket_metrics", "segment")
    (True, False)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from app.errors import UnknownNameError
from app.views import by_tool

__all__ = ["args_model", "normalize_args", "tool_has_arg"]


def args_model(tool: str) -> type[BaseModel] | None:
    """The argument model of a tool's view or action; ``None`` for a tool the registry lacks."""
    try:
        return by_tool(tool).args
    except UnknownNameError:
        return None


def normalize_args(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """Arguments with the capability's defaults filled in, so equivalent calls compare equal."""
    model = args_model(tool)
    if model is None:
        return dict(args)
    try:
        return model.model_validate(args).model_dump(mode="json")
    except ValidationError:
        return dict(args)


def tool_has_arg(tool: str, arg: str) -> bool:
    """Whether the tool takes argument ``arg``."""
    model = args_model(tool)
    return model is not None and arg in model.model_fields
