"""Transcripts: the complete, reproducible record of one conversation, and its export formats.

Everything except ``meta`` (wall-clock time, versions, models, provider) is a deterministic
function of the run's inputs: two runs with the same arguments produce byte-identical bodies.
Timestamps inside come from the simulation clock, never the wall clock.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from pydantic import BaseModel, ConfigDict, Field

from app.formatting import count
from app.models import MerchantGoal

__all__ = [
    "ToolCallRecord", "InvalidToolCallRecord", "MessageRecord", "GoalSource", "Transcript", "message_records",
    "TRANSCRIPT_FORMATS",
]  # fmt: skip

TRANSCRIPT_FORMATS = ("text", "markdown", "json", "openai-jsonl")


class _TranscriptModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolCallRecord(_TranscriptModel):
    id: str
    name: str
    args: dict[str, Any]


class InvalidToolCallRecord(_TranscriptModel):
    """A tool call the model made whose arguments could not be parsed (``args`` is the raw text)."""

    id: str
    name: str
    args: str | None = None


class MessageRecord(_TranscriptModel):
    """One message. CJ messages may carry tool calls (and unreadable ones, answered by error tool
    messages); tool messages carry the view JSON as artifact."""

    role: Literal["merchant", "cj", "tool"]
    content: str
    timestamp: str = Field(description="simulation clock, ISO 8601")
    tool_calls: list[ToolCallRecord] | None = None
    # left out of the JSON when absent, so transcripts without unreadable calls keep their exact form
    invalid_tool_calls: list[InvalidToolCallRecord] | None = Field(default=None, exclude_if=lambda v: v is None)
    tool_call_id: str | None = None
    name: str | None = None
    status: str | None = None
    artifact: Any = None

    @property
    def declined(self) -> bool:
        """Whether this tool message records the merchant's "no" to an action: an answer, not a failure."""
        return self.role == "tool" and isinstance(self.artifact, dict) and self.artifact.get("status") == "declined"


class GoalSource(_TranscriptModel):
    """The merchant's goals when they do not come from the scenario file named by ``scenario``.

    A conversation about a real database's own merchant asks what the data shows (the metric that
    moved most, what the data does not hold); one started in a workflow with goals of its own
    (``merchant_goals`` in the workflow file) asks those. They are recorded here, so evaluation
    scores the questions actually asked and never the base scenario's.
    """

    source: Literal["database", "workflow"] = Field(description="where the goals were derived from")
    as_of: str = Field(description="the data's date the goals were derived at (ISO 8601)")
    goals: list[MerchantGoal]


class Transcript(_TranscriptModel):
    """A conversation: deterministic body plus ``meta``.

    ``goals`` is set when the merchant's goals were not the scenario's (a database's own merchant,
    see :class:`GoalSource`); it is left out of the JSON otherwise, so those transcripts keep their form.
    """

    meta: dict[str, Any]
    scenario: str
    merchant: str
    workflow: str = Field(description="the workflow requested (may be 'auto')")
    seed: int
    merchant_context: dict[str, str]
    messages: list[MessageRecord]
    workflow_path: list[dict[str, Any]]
    stages_reached: list[dict[str, Any]]
    termination_reason: str
    error: str | None = None
    usage: dict[str, dict[str, int]]
    goals: GoalSource | None = Field(default=None, exclude_if=lambda v: v is None)

    def body(self) -> dict[str, Any]:
        """Everything but ``meta``: identical across runs with the same inputs."""
        return self.model_dump(mode="json", exclude={"meta"})

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Transcript:
        return cls.model_validate_json(text)

    def tool_calls(self) -> list[ToolCallRecord]:
        """Every tool call CJ made, in order."""
        return [c for m in self.messages if m.tool_calls for c in m.tool_calls]

    def to_openai(self, system_prompt: str | None = None) -> dict[str, Any]:
        """OpenAI chat format, from CJ's side: the merchant is the user, CJ the assistant."""
        out: list[dict[str, Any]] = []
        if system_prompt:
            out.append({"role": "system", "content": system_prompt})
        for m in self.messages:
            if m.role == "merchant":
                out.append({"role": "user", "content": m.content})
            elif m.role == "cj":
                item: dict[str, Any] = {"role": "assistant", "content": m.content or None}
                calls = [(c.id, c.name, json.dumps(c.args)) for c in m.tool_calls or ()]
                calls += [(c.id, c.name, c.args or "") for c in m.invalid_tool_calls or ()]
                if calls:
                    item["tool_calls"] = [
                        {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}
                        for id_, name, arguments in calls
                    ]
                out.append(item)
            else:
                out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content})
        return {"messages": out, "metadata": {k: v for k, v in self.body().items() if k not in ("messages",)}}

    def to_markdown(self) -> str:
        lines = [
            f"# {self.scenario} / {self.merchant} / {self.workflow} (seed {self.seed})",
            "",
            f"- workflow path: {' -> '.join(p['workflow'] for p in self.workflow_path) or self.workflow}",
            f"- stages reached: {', '.join(s['workflow'] + '.' + s['stage'] for s in self.stages_reached) or 'none'}",
            f"- ended: {self.termination_reason}" + (f" ({self.error})" if self.error else ""),
            "",
        ]
        for m in self.messages:
            if m.role == "tool":
                lines += [f"> **tool {m.name}** ({m.status})", ">", *[f"> {ln}" for ln in m.content.splitlines()], ""]
            elif m.role == "cj" and m.tool_calls and not m.content:
                calls = ", ".join(f"`{c.name}({json.dumps(c.args)})`" for c in m.tool_calls)
                lines += [f"*CJ calls {calls}*", ""]
            else:
                who = "Merchant" if m.role == "merchant" else "CJ"
                lines += [f"**{who}** ({m.timestamp[11:16]}): {m.content}", ""]
        return "\n".join(lines)

    def to_text(self) -> str:
        lines = []
        for m in self.messages:
            if m.role == "merchant":
                lines.append(f"MERCHANT: {m.content}")
            elif m.role == "cj":
                if m.tool_calls:
                    lines += [f"  [CJ calls {c.name} {json.dumps(c.args)}]" for c in m.tool_calls]
                if m.content:
                    lines.append(f"CJ: {m.content}")
            else:
                lines.append(f"  [{m.name} -> {m.status}, {count(len(m.content))} chars]")
        lines.append(f"-- ended: {self.termination_reason}")
        return "\n".join(lines)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # provider content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def message_records(messages: list[AnyMessage], start: dt.datetime) -> list[MessageRecord]:
    """Transcript records with simulation-clock timestamps (typing and tool time are simulated)."""
    records = []
    clock = start
    for m in messages:
        text = _text(m.content)
        if isinstance(m, HumanMessage):
            clock += dt.timedelta(seconds=5 + len(text) // 5)
            records.append(MessageRecord(role="merchant", content=text, timestamp=clock.isoformat()))
        elif isinstance(m, AIMessage):
            clock += dt.timedelta(seconds=2 + len(text) // 40)
            calls = [ToolCallRecord(id=c["id"] or "", name=c["name"], args=c["args"]) for c in m.tool_calls]
            invalid = [
                InvalidToolCallRecord(id=c.get("id") or "", name=c.get("name") or "", args=c.get("args"))
                for c in m.invalid_tool_calls
            ]
            records.append(
                MessageRecord(
                    role="cj",
                    content=text,
                    timestamp=clock.isoformat(),
                    tool_calls=calls or None,
                    invalid_tool_calls=invalid or None,
                )
            )
        elif isinstance(m, ToolMessage):
            clock += dt.timedelta(seconds=1)
            records.append(
                MessageRecord(
                    role="tool",
                    content=text,
                    timestamp=clock.isoformat(),
                    tool_call_id=m.tool_call_id,
                    name=m.name,
                    status=m.status,
                    artifact=m.artifact,
                )
            )
    return records


def usage_totals(messages: list[AnyMessage]) -> dict[str, dict[str, int]]:
    """Token usage reported by the models, per participant (empty for models that report none)."""
    totals: dict[str, dict[str, int]] = {}
    for m in messages:
        if isinstance(m, AIMessage) and m.usage_metadata:
            who, usage = "cj", m.usage_metadata
        elif isinstance(m, HumanMessage) and m.response_metadata.get("usage"):
            who, usage = "merchant", m.response_metadata["usage"]
        else:
            continue
        bucket = totals.setdefault(who, {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0})
        for key in bucket:
            bucket[key] += int(usage.get(key, 0) or 0)  # type: ignore[call-overload]  # usage is provider JSON
    return totals
