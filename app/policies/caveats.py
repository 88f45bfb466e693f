"""When the rule-based CJ checks data quality, and the caveat it adds to answers from flagged data.

The graph tells CJ the data_quality verdict of its provider (:class:`CJTurnContext`). When it is
not ok, CJ calls ``get_data_quality`` itself along with its first data call, so the caveats it
then writes rest on a result the transcript shows. An answer stating figures from a view that
result flags (``affected_views``) names the flagged tables and dimensions.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.policies.context import CJTurnContext
from app.policies.history import ToolResult
from app.tools import TOOL_VIEWS
from app.views.quality import DATA_QUALITY

__all__ = ["QUALITY_TOOL", "needs_quality_check", "caveat_problems"]

QUALITY_TOOL = DATA_QUALITY.tool


def needs_quality_check(ctx: CJTurnContext | None, bound: Sequence[str], called: Sequence[str]) -> bool:
    """Whether CJ should check data quality now: the context flags the data, the tool is bound and
    CJ has not called it (``called`` also holds the calls about to be made)."""
    return (
        ctx is not None
        and ctx.data_quality not in ("ok", "unknown")
        and QUALITY_TOOL in bound
        and QUALITY_TOOL not in called
    )


def caveat_problems(results: Sequence[ToolResult], tools: Sequence[str]) -> str:
    """What a caveat names for an answer from ``tools``: "orders (validity) falls short of the quality
    thresholds", from the latest data_quality result; '' when it is ok or flags none of those views."""
    quality = next((r.artifact for r in reversed(results) if r.ok and r.call.name == QUALITY_TOOL and r.artifact), None)
    if not quality or quality.get("verdict", "ok") == "ok":
        return ""
    flagged = set(quality.get("affected_views") or [])
    if not any(TOOL_VIEWS.get(tool) in flagged for tool in tools):
        return ""
    problems: dict[str, list[str]] = {}
    for check in quality.get("checks") or []:
        dims = problems.setdefault(check["table"], [])
        if check.get("level") != "ok" and check["dimension"] not in dims:
            dims.append(check["dimension"])
    named = [f"{table} ({', '.join(dims)})" for table, dims in problems.items() if dims]
    text = " and ".join([", ".join(named[:-1]), named[-1]] if len(named) > 1 else named)
    return f"{text} {'fall' if len(named) > 1 else 'falls'} short of the quality thresholds"
