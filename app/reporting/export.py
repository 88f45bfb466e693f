"""Exporting a batch for other evaluation tools: one OpenAI chat-format JSON line per conversation.

Each line is a JSON object:

``messages``
    CJ's side of the conversation in OpenAI chat format (:meth:`Transcript.to_openai`): the
    system prompt CJ ran with (``system``), the merchant as ``user``, CJ as ``assistant`` with its
    ``tool_calls`` (``id``, ``type: function``, ``function.name``, ``function.arguments`` as a JSON
    string), and every tool result as ``tool`` with the ``tool_call_id`` it answers and the text CJ
    read. This is the message list openevals/agentevals trajectory evaluators take as ``outputs``.
``tools``
    The tools CJ was bound to, in OpenAI ``tools`` format (``{"type": "function", "function":
    {"name", "description", "parameters"}}``), derived from the registry like the tools CJ was given.
``deepeval``
    The same conversation as the arguments of DeepEval's ``ConversationalTestCase``: ``turns``
    (``role`` ``user`` or ``assistant``, ``content``, and for an assistant turn the
    ``tools_called`` on the way to that reply, each ``name``, ``input_parameters`` and the
    ``output`` CJ read), the ``scenario`` and CJ's ``chatbot_role``.
``metadata``
    The case (``id``, scenario, merchant, workflow, seed), how the conversation ended, the
    workflows it went through, and each evaluator's ``score``/``passed``/``skipped``.

The system prompt is rendered again from the data folder's CJ prompt, the conversation's first
workflow, the merchant and the merchant context recorded in the transcript; for a conversation
that switched workflows (``auto``), the tools are those of every workflow it went through.
Failed conversations have no transcript and are left out (counted in :class:`ExportResult`).

Example:
    >>> from app.batch.records import RunDir
    >>> lines = list(openai_lines(RunDir("runs/nightly").records()))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.utils.function_calling import convert_to_openai_tool

from app.agents.cj_agent import cj_system_prompt
from app.batch.records import RunRecord, latest_by_case
from app.catalog import Catalog
from app.errors import InvalidArgumentError
from app.models import MerchantContext
from app.tools import build_tools
from app.transcript import Transcript
from app.world.context import resolve_context

__all__ = ["EXPORT_FORMATS", "ExportResult", "deepeval_turns", "openai_line", "openai_lines", "export_run"]

EXPORT_FORMATS = ("openai-jsonl",)
"""Formats ``cjsim export`` writes."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_run` wrote: ``written`` conversations, ``left_out`` failed ones."""

    written: int
    left_out: int


def deepeval_turns(t: Transcript) -> list[dict[str, Any]]:
    """DeepEval ``Turn`` arguments: user turns, and assistant turns carrying the tools called for them.

    CJ's tool-calling messages, their results and the reply that follows form one assistant turn.
    """
    turns: list[dict[str, Any]] = []
    pending: dict[str, Any] | None = None
    calls: dict[str, dict[str, Any]] = {}
    for m in t.messages:
        if m.role == "merchant":
            if pending is not None:
                turns.append(pending)
                pending, calls = None, {}
            turns.append({"role": "user", "content": m.content})
            continue
        if pending is None:
            pending = {"role": "assistant", "content": "", "tools_called": []}
        if m.role == "cj":
            for c in m.tool_calls or ():
                calls[c.id] = {"name": c.name, "input_parameters": c.args, "output": None}
                pending["tools_called"].append(calls[c.id])
            if m.content:
                pending["content"] = f"{pending['content']}\n{m.content}" if pending["content"] else m.content
        elif m.tool_call_id in calls:
            calls[m.tool_call_id]["output"] = m.content
    if pending is not None:
        turns.append(pending)
    return turns


def openai_line(record: RunRecord, catalog: Catalog | None = None) -> dict[str, Any]:
    """One conversation as ``{"messages", "tools", "metadata"}`` (see the module docstring).

    Raises:
        InvalidArgumentError: a record without a transcript (a failed conversation).
    """
    t = record.transcript
    if t is None:
        raise InvalidArgumentError(f"{record.case.id} has no transcript ({record.status}); only finished conversations export")
    catalog = catalog or Catalog.default()
    workflows = [str(p["workflow"]) for p in t.workflow_path] or [t.workflow]
    persona, scenario = catalog.personas.get(t.merchant), catalog.scenarios.get(t.scenario)
    # only the keys the prompt reads: a transcript from another tool may record more
    known = {k: v for k, v in t.merchant_context.items() if k in MerchantContext.model_fields}
    context = resolve_context(persona, scenario, known)
    system = cj_system_prompt(catalog.workflows.get(workflows[0]), persona, context, catalog)
    names = list(dict.fromkeys(n for w in workflows for n in catalog.workflows.get(w).tools_available))
    tools = [convert_to_openai_tool(tool) for tool in build_tools(None, names)]  # no provider: schemas only
    scores = {s.key: {"score": s.score, "passed": s.passed, "skipped": s.skipped} for s in record.scores}
    metadata = {
        "id": record.case.id,
        **record.case.model_dump(),
        "workflows": workflows,
        "termination_reason": t.termination_reason,
        "scores": scores,
    }
    deepeval = {
        "turns": deepeval_turns(t),
        "scenario": scenario.description.strip(),
        "chatbot_role": f"CJ, the AI copilot of {persona.business_name} for customer success, support and retention",
    }
    return {"messages": t.to_openai(system)["messages"], "tools": tools, "deepeval": deepeval, "metadata": metadata}


def openai_lines(records: Iterable[RunRecord], catalog: Catalog | None = None) -> Iterator[dict[str, Any]]:
    """:func:`openai_line` of every finished conversation (the newest record per case), in file order."""
    for record in latest_by_case(list(records)):
        if record.status == "ok" and record.transcript is not None:
            yield openai_line(record, catalog)


def export_run(records: Iterable[RunRecord], out: Path | None, fmt: str, catalog: Catalog | None = None) -> tuple[str, ExportResult]:
    """Render ``records`` in ``fmt``; write to ``out`` when given. Returns ``(text, result)``.

    Raises:
        InvalidArgumentError: an unknown format, or ``out`` cannot be written.
    """
    if fmt not in EXPORT_FORMATS:
        raise InvalidArgumentError(f"unknown export format {fmt!r}; valid formats: {', '.join(EXPORT_FORMATS)}")
    latest = latest_by_case(list(records))
    lines = [json.dumps(line, ensure_ascii=False) for line in openai_lines(latest, catalog)]
    text = "".join(line + "\n" for line in lines)
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidArgumentError(f"cannot write {out}: {exc.strerror or exc}; choose another --out") from None
    return text, ExportResult(written=len(lines), left_out=len(latest) - len(lines))
