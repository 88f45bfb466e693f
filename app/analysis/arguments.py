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

from pydantic import ValidationError

from app.tools import TOOL_VIEWS
from app.views import VIEWS

__all__ = ["normalize_args", "tool_has_arg"]


def normalize_args(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """Arguments with the view's defaults filled in, so equivalent calls compare equal."""
    view = TOOL_VIEWS.get(tool)
    if view is None:
        return dict(args)
    try:
        return VIEWS[view].args.model_validate(args).model_dump(mode="json")
    except ValidationError:
        return dict(args)


def tool_has_arg(tool: str, arg: str) -> bool:
    """Whether the tool takes argument ``arg``."""
    view = TOOL_VIEWS.get(tool)
    return view is not None and arg in VIEWS[view].args.model_fields
