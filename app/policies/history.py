"""Reading CJ's view of a conversation: merchant lines, tool calls and tool results.

The rule-based CJ is stateless: every turn it reconstructs what was asked, which tools were
called with which arguments and what they returned from the messages it is given.

Example:
    >>> from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
    >>> conv = History([
    ...     HumanMessage("How is churn?"),
    ...     AIMessage("", tool_calls=[{"id": "call_0", "name": "get_financial_metrics", "args": {}}]),
    ...     ToolMessage("...", tool_call_id="call_0", name="get_financial_metrics", artifact={"time_range": "30d"}),
    ... ])
    >>> conv.request, conv.ends_with_results, len(conv.turn_results)
    ('How is churn?', True, 1)
    >>> conv.find("get_financial_metrics", {"time_range": "30d"}).artifact
    {'time_range': '30d'}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from app.analysis.arguments import normalize_args
from app.tools import DECLINED

__all__ = ["text_of", "History", "HistoryCall", "ToolResult"]


def text_of(message: BaseMessage) -> str:
    """A message's text (joins the text parts of list content)."""
    content = message.content
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else p.get("text", "") for p in content if isinstance(p, str | dict)]
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class HistoryCall:
    """One tool call CJ made: id, tool name, arguments, and the position of its AI message.

    Read back from live messages; a saved transcript records calls as :class:`app.transcript.ToolCallRecord`.
    """

    id: str
    name: str
    args: dict[str, Any]
    position: int

    @property
    def key(self) -> tuple[str, tuple[tuple[str, Any], ...]]:
        norm = normalize_args(self.name, self.args)
        return self.name, tuple(sorted((k, repr(v)) for k, v in norm.items()))


@dataclass(frozen=True)
class ToolResult:
    """A tool message matched to its call."""

    call: HistoryCall
    ok: bool
    content: str
    artifact: dict[str, Any] | None
    position: int


class History:
    """CJ's messages without the system prompt, indexed for the rule-based CJ.

    A turn's view of live messages, rebuilt every turn; the finished conversation is a
    :class:`app.transcript.Transcript`.
    """

    def __init__(self, messages: Sequence[BaseMessage]) -> None:
        self.messages: list[BaseMessage] = [m for m in messages if not isinstance(m, SystemMessage)]
        self.calls: list[HistoryCall] = []
        by_id: dict[str, HistoryCall] = {}
        self.results: list[ToolResult] = []
        for pos, m in enumerate(self.messages):
            if isinstance(m, AIMessage):
                for tc in m.tool_calls:
                    record = HistoryCall(str(tc.get("id")), tc["name"], dict(tc.get("args") or {}), pos)
                    self.calls.append(record)
                    by_id[record.id] = record
            elif isinstance(m, ToolMessage):
                call = by_id.get(m.tool_call_id) or HistoryCall(m.tool_call_id, m.name or "", {}, pos)
                artifact = m.artifact if isinstance(m.artifact, dict) else None
                ok = getattr(m, "status", "success") != "error"
                self.results.append(ToolResult(call, ok, text_of(m), artifact, pos))

    # ------------------------------------------------------------------ positions

    @property
    def last_human(self) -> int:
        """Position of the latest merchant message (-1 when CJ opens)."""
        for pos in range(len(self.messages) - 1, -1, -1):
            if isinstance(self.messages[pos], HumanMessage):
                return pos
        return -1

    @property
    def request(self) -> str | None:
        """The latest merchant message, or ``None`` when CJ opens."""
        pos = self.last_human
        return None if pos < 0 else text_of(self.messages[pos])

    @property
    def is_opening(self) -> bool:
        """No merchant message yet: CJ opens the conversation."""
        return self.last_human < 0

    @property
    def ends_with_results(self) -> bool:
        """The latest message is a tool result (CJ must now answer, or retry)."""
        return bool(self.messages) and isinstance(self.messages[-1], ToolMessage)

    def merchant_lines(self) -> list[str]:
        """Every merchant message, oldest first."""
        return [text_of(m) for m in self.messages if isinstance(m, HumanMessage)]

    # ------------------------------------------------------------------ tool traffic

    @property
    def prior_results(self) -> list[ToolResult]:
        """Results from before the latest merchant message."""
        return [r for r in self.results if r.position < self.last_human]

    @property
    def turn_results(self) -> list[ToolResult]:
        """Results since the latest merchant message."""
        return [r for r in self.results if r.position > self.last_human]

    @property
    def turn_rounds(self) -> int:
        """How many tool-calling AI messages CJ sent since the latest merchant message."""
        return sum(
            1
            for pos, m in enumerate(self.messages)
            if pos > self.last_human and isinstance(m, AIMessage) and m.tool_calls
        )

    def find(self, name: str, args: dict[str, Any]) -> ToolResult | None:
        """The latest successful result of an equivalent call, if any."""
        key = HistoryCall("", name, args, 0).key
        for r in reversed(self.results):
            if r.ok and r.call.key == key:
                return r
        return None

    def last_args(self, name: str, before: int) -> dict[str, Any] | None:
        """Arguments of the latest call of ``name`` made before position ``before``."""
        for c in reversed(self.calls):
            if c.name == name and c.position < before:
                return c.args
        return None

    def declined(self, name: str) -> bool:
        """Whether the merchant declined an action call of ``name`` in the conversation."""
        return any(not r.ok and r.call.name == name and r.content.startswith(DECLINED) for r in self.results)

    def called_ok(self, name: str) -> bool:
        """Whether ``name`` returned a successful result anywhere in the conversation."""
        return any(r.ok and r.call.name == name for r in self.results)
