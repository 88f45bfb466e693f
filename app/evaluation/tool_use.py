"""``tool_use``: did CJ call the tools the conversation needed, and call them well?

The evaluator walks the transcript turn by turn (a *turn* is one merchant message, or CJ's
opening, and everything CJ does before the next merchant message) and checks:

* **Required tools.** Two kinds of requirement, both limited to what the conversation actually
  gave CJ the chance to do, so a merchant who ends early never costs CJ a stage:

  - *requested*: a merchant message whose intents (``data/intents.yaml``) name a tool that is
    bound in the current workflow -- or, when it is not bound, a bound fallback of that tool
    (``fallbacks`` of the same file) -- must be answered with a successful result of one of those
    tools, obtained in the turn or still fresh from earlier (see *fresh* below);
  - *due stages*: workflow stages are CJ's agenda when the merchant leaves it the initiative.
    Replaying the turns of each workflow on the ``workflow_path``, a turn is *open* when CJ
    speaks first or the merchant's message matches no intent at all; on each open turn the
    first pending tool stage of ``conversation_flow`` becomes due (stages the merchant's own
    questions cover are taken off the agenda). A due stage's tool must have been called
    successfully while that workflow was current. Stages the conversation never got to --
    the merchant ended, or kept asking its own questions -- are not required.

* **Answered despite an error.** A reply in a turn whose calls all failed that states numbers
  without saying it could not get the data (``style.unavailable_pattern``): CJ answered as if
  the data had come back.
* **Unbound tools.** A call of a tool outside the current workflow's ``tools_available`` (the
  graph refuses those with an error tool message).
* **Redundant calls.** The same tool with the same arguments (after filling in the view's
  defaults) while an earlier successful result is still *fresh*: younger, on the simulation
  clock, than the shortest refresh interval any workflow declares for the view (crisis data
  refreshes every 5 minutes, the briefing every 24 hours); views no workflow declares stay
  fresh for the whole conversation.
* **Invalid arguments.** Arguments that the tool's argument model (the view's or action's in the registry)
  rejects. Other failed calls (an unknown customer id) are listed as ``failed`` and lower the
  score, but do not fail the conversation.

**Score** = 1 - problems / checks, where checks = requirements + calls and problems = missing
requirements + calls with a problem (each call counted once). No requirements and no calls
scores 1. **Passed** when no requirement is missing, no reply ignored a failed call, no unbound tool
was attempted, no call had invalid arguments and at most ``max_redundant`` calls were redundant.

Example:
    A merchant asks "How bad is churn this month?" in ``weekly_review`` and CJ answers without
    calling anything: the requested ``get_financial_metrics`` is missing, score 0 (one check, one
    problem), not passed. Had CJ called ``get_ticket_metrics`` with ``time_range="1y"`` first and
    then ``get_financial_metrics``, the requirement is met but one of two calls has invalid
    arguments: score 1 - 1/3 = 0.67, still not passed.

The turn analysis here (:func:`trace`, :func:`due_stages`) is shared by the trajectory and
workflow-adherence evaluators.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from app.analysis.arguments import args_model, normalize_args
from app.catalog import Catalog
from app.errors import InvalidArgumentError
from app.evaluation.grounding import analyze
from app.evaluation.result import EvalResult
from app.intents import IntentMatch
from app.models import Stage, Workflow
from app.tools import TOOL_VIEWS
from app.transcript import Transcript

__all__ = [
    "CallInfo",
    "TurnInfo",
    "Trace",
    "trace",
    "due_stages",
    "request_tools",
    "intents_of",
    "intent_matches",
    "workflow_def",
    "known_workflow",
    "bound_tools",
    "tool_use_evaluator",
]

KEY = "tool_use"


# --------------------------------------------------------------------------- catalog lookups


@lru_cache(maxsize=4096)
def intents_of(catalog: Catalog, text: str) -> tuple[tuple[str, str | None], ...]:
    """(intent id, tool) of every intent in ``text``; cached because every evaluator asks."""
    return tuple((m.intent.id, m.intent.tool) for m in catalog.intents.detect(text))


@lru_cache(maxsize=4096)
def intent_matches(catalog: Catalog, text: str) -> tuple[IntentMatch, ...]:
    """Every intent in ``text`` with its arguments; cached like :func:`intents_of`."""
    return tuple(catalog.intents.detect(text))


@lru_cache(maxsize=64)
def _question_windows(catalog: Catalog) -> tuple[tuple[str, re.Pattern[str]], ...]:
    windows = catalog.evaluation.grounding.question_windows
    return tuple((w, re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)) for w, pats in windows.items())


def workflow_def(catalog: Catalog, name: str) -> Workflow:
    """A workflow of the catalog."""
    return catalog.workflows.get(name)


def known_workflow(catalog: Catalog, name: str) -> bool:
    """A workflow of the catalog (a run that stopped before routing ``auto`` has none)."""
    return name in catalog.workflows


def bound_tools(catalog: Catalog, name: str) -> frozenset[str]:
    """The tools ``name`` binds (every tool for a name outside the catalog)."""
    return catalog.workflows.bound_tools(name)


def _fresh_seconds(catalog: Catalog, tool: str) -> float:
    view = TOOL_VIEWS.get(tool)
    seconds = catalog.workflows.refresh_seconds(view) if view else None
    return float("inf") if seconds is None else float(seconds)


def request_tools(catalog: Catalog, text: str, workflow: str) -> frozenset[str]:
    """Bound tools that answer ``text`` in ``workflow``: its intents' tools, else their bound fallbacks."""
    bound = bound_tools(catalog, workflow)
    out: set[str] = set()
    for _id, tool in intents_of(catalog, text):
        if tool is None:
            continue
        if tool in bound:
            out.add(tool)
        else:
            out.update(fb for fb in catalog.intents.fallback_tools(tool) if fb in bound)
    return frozenset(out)


def _args_error(tool: str, args: dict[str, Any]) -> str | None:
    model = args_model(tool)
    if model is None:
        return f"unknown tool {tool!r}"
    try:
        model.model_validate(args)
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors())
    return None


# --------------------------------------------------------------------------- the trace


@dataclass
class CallInfo:
    """One tool call CJ made, with where it stands in the conversation and what came back."""

    name: str
    args: dict[str, Any]
    message: int
    turn: int
    workflow: str
    time: dt.datetime
    status: str | None = None
    bound: bool = True
    args_error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the call was answered: data came back, or the merchant declined the action."""
        return self.status is not None and self.status != "error"

    @property
    def key(self) -> tuple[str, str]:
        return self.name, repr(sorted(normalize_args(self.name, self.args).items()))

    def label(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.args.items())})"


@dataclass
class TurnInfo:
    """A merchant message (``request`` is ``None`` when CJ opens) and CJ's work until the next one."""

    index: int
    workflow: str
    request: str | None
    request_message: int
    intents: tuple[tuple[str, str | None], ...]
    calls: list[CallInfo] = field(default_factory=list)
    reply_message: int | None = None
    reply_time: dt.datetime | None = None
    requested: frozenset[str] = frozenset()

    @property
    def open(self) -> bool:
        """CJ has the initiative: it speaks first, or the merchant asked for nothing recognisable."""
        return self.request is None or not self.intents


@dataclass
class Trace:
    """A transcript as turns and calls, with the workflow current at each message and the catalog read."""

    turns: list[TurnInfo]
    calls: list[CallInfo]
    workflow_at: list[str]
    catalog: Catalog


def _workflow_at(t: Transcript) -> list[str]:
    path = sorted(((p["at_message"], i, p["workflow"]) for i, p in enumerate(t.workflow_path)))
    first = path[0][2] if path else t.workflow
    out, j, current = [], 0, first
    for idx in range(len(t.messages)):
        while j < len(path) and path[j][0] <= idx:
            current = path[j][2]
            j += 1
        out.append(current)
    return out


def trace(t: Transcript, catalog: Catalog) -> Trace:
    """Split ``t`` into turns and calls, reading intents and workflows from ``catalog`` (pure; fast
    enough to redo in every evaluator)."""
    workflow_at = _workflow_at(t)
    turns: list[TurnInfo] = []
    calls: list[CallInfo] = []
    by_id: dict[str, CallInfo] = {}
    for i, m in enumerate(t.messages):
        wf = workflow_at[i]
        if m.role == "merchant":
            found = intents_of(catalog, m.content)
            requested = request_tools(catalog, m.content, wf)
            turns.append(TurnInfo(len(turns), wf, m.content, i, found, requested=requested))
            continue
        if not turns:  # CJ opens
            turns.append(TurnInfo(0, wf, None, -1, ()))
        turn = turns[-1]
        if m.role == "cj":
            turn.workflow = wf
            time = dt.datetime.fromisoformat(m.timestamp)
            for c in m.tool_calls or ():
                info = CallInfo(c.name, dict(c.args), i, turn.index, wf, time)
                info.bound = c.name in bound_tools(catalog, wf)
                info.args_error = _args_error(c.name, info.args)
                calls.append(info)
                turn.calls.append(info)
                by_id[c.id] = info
            if m.content and not m.tool_calls:
                turn.reply_message, turn.reply_time = i, time
        elif m.role == "tool" and m.tool_call_id in by_id:
            # a declined action was used as it should be: CJ asked, the merchant answered
            by_id[m.tool_call_id].status = "declined" if m.declined else m.status or "success"
    return Trace(turns, calls, workflow_at, catalog)


def due_stages(tr: Trace) -> list[tuple[TurnInfo, Stage]]:
    """Tool stages that became CJ's job, with the open turn on which each fell due.

    Replays each workflow's agenda independently of what CJ did: open turns take the first
    pending tool stage; turns in which the merchant asked for a stage's tool take it off.
    """
    pending: dict[str, list[Stage]] = {}
    due: list[tuple[TurnInfo, Stage]] = []
    for turn in tr.turns:
        if turn.workflow not in pending:
            known = known_workflow(tr.catalog, turn.workflow)
            flow = workflow_def(tr.catalog, turn.workflow).conversation_flow if known else []
            pending[turn.workflow] = [s for s in flow if s.tool]
        agenda = pending[turn.workflow]
        if turn.open:
            if agenda:
                due.append((turn, agenda.pop(0)))
        else:
            agenda[:] = [s for s in agenda if s.tool not in turn.requested]
    return due


# --------------------------------------------------------------------------- the evaluator


def _fresh_result(
    catalog: Catalog, calls: Sequence[CallInfo], tools: frozenset[str], at: dt.datetime
) -> CallInfo | None:
    for c in reversed(calls):
        usable = c.ok and c.name in tools and c.time <= at
        if usable and (at - c.time).total_seconds() < _fresh_seconds(catalog, c.name):
            return c
    return None


def _evaluate(t: Transcript, catalog: Catalog, max_redundant: int) -> EvalResult:
    tr = trace(t, catalog)
    missing: list[dict[str, Any]] = []
    requirements = 0
    for turn in tr.turns:
        if turn.request is None or not turn.requested or turn.reply_time is None:
            continue
        requirements += 1
        if _fresh_result(catalog, tr.calls[: _calls_until(tr, turn)], turn.requested, turn.reply_time) is None:
            missing.append(
                {"kind": "requested", "turn": turn.index, "request": turn.request[:120], "tools": sorted(turn.requested)}
            )
    for turn, stage in due_stages(tr):
        requirements += 1
        window = stage.args.get("time_range")
        if not any(
            c.ok and c.name == stage.tool and c.workflow == turn.workflow and _window_of(c) in (None, window or _window_of(c))
            for c in tr.calls
        ):
            missing.append({"kind": "stage", "turn": turn.index, "workflow": turn.workflow, "stage": stage.id, "tools": [stage.tool]})

    ignored = _ignored_errors(t, tr, catalog)
    missing += ignored
    requirements += len(ignored)
    wrong = _wrong_windows(tr, catalog)
    missing += wrong
    requirements += len(wrong)

    problems: list[dict[str, Any]] = []
    latest: dict[tuple[str, str], CallInfo] = {}
    counts = {"unbound": 0, "invalid_args": 0, "redundant": 0, "failed": 0}
    for c in tr.calls:
        where = {"call": c.label(), "turn": c.turn, "workflow": c.workflow}
        earlier = latest.get(c.key)
        if not c.bound:
            kind, why = "unbound", f"{c.name} is not available in {c.workflow}"
        elif c.args_error:
            kind, why = "invalid_args", c.args_error
        elif earlier is not None and (c.time - earlier.time).total_seconds() < _fresh_seconds(catalog, c.name):
            kind, why = "redundant", f"same call as in turn {earlier.turn}, whose result was still fresh"
        elif c.status == "error":
            kind, why = "failed", "the tool returned an error"
        else:
            kind = why = ""
        if kind:
            counts[kind] += 1
            problems.append({"kind": kind, **where, "why": why})
        if c.ok:
            latest[c.key] = c

    checks = requirements + len(tr.calls)
    bad = len(missing) + len(problems)
    score = 1.0 if checks == 0 else max(0.0, 1.0 - bad / checks)
    passed = not missing and not counts["unbound"] and not counts["invalid_args"] and counts["redundant"] <= max_redundant
    parts = [f"{requirements - len(missing)}/{requirements} required tool uses met", f"{len(tr.calls)} calls"]
    parts += [f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n]
    return EvalResult(
        key=KEY,
        score=round(score, 4),
        passed=passed,
        comment=", ".join(parts),
        details={"missing": missing, "problems": problems, "requirements": requirements, "calls": len(tr.calls), **counts},
    )


def _window_of(call: CallInfo) -> str | None:
    window = normalize_args(call.name, call.args).get("time_range")
    return window if isinstance(window, str) else None


def _wrong_windows(tr: Trace, catalog: Catalog) -> list[dict[str, Any]]:
    """Calls answering a question with another time window than it asked for.

    The window asked for: one the question names (``grounding.question_windows``: "this month"),
    else the window of the question's intent (``data/intents.yaml``), of the workflow's stage of
    that tool, or -- for a follow-up -- of the previous call of the same tool.
    """
    phrases = _question_windows(catalog)
    out: list[dict[str, Any]] = []
    last: dict[str, str | None] = {}
    for turn in tr.turns:
        if turn.request is not None and turn.requested:
            named = {w for w, rx in phrases if rx.search(turn.request)}
            intents: dict[str | None, set[str | None]] = {}
            for m in intent_matches(catalog, turn.request):
                intents.setdefault(m.intent.tool, set()).add(m.args.get("time_range"))
            for c in turn.calls:
                got = _window_of(c)
                if got is None or c.name not in turn.requested:
                    continue
                if len(named) == 1:
                    wanted = set(named)
                else:
                    flow = workflow_def(catalog, c.workflow).conversation_flow if known_workflow(catalog, c.workflow) else []
                    staged = {st.args.get("time_range") for st in flow if st.tool == c.name}
                    wanted = {*intents.get(c.name, ()), *staged, last.get(c.name)} - {None}
                if wanted and got not in wanted:
                    out.append({"kind": "window", "turn": turn.index, "tools": [c.name], "asked": sorted(wanted), "got": got})
        for c in turn.calls:
            if c.ok:
                last[c.name] = _window_of(c)
    return out


def _ignored_errors(t: Transcript, tr: Trace, catalog: Catalog) -> list[dict[str, Any]]:
    """Replies that state numbers after a failed call nothing in the turn fixed, without saying so."""
    unavailable = re.compile(catalog.evaluation.style.unavailable_pattern, re.IGNORECASE)
    out: list[dict[str, Any]] = []
    analysis = None
    for turn in tr.turns:
        if turn.reply_message is None:
            continue
        failed = [c for c in turn.calls if c.status == "error"]
        if not failed or any(c.ok for c in turn.calls):
            continue  # nothing failed, or some data came back this turn
        text = t.messages[turn.reply_message].content
        analysis = analysis or analyze(t, catalog)
        numbers = [ch.text for ch in analysis.checks.get(turn.reply_message, []) if ch.claim is not None]
        if numbers and not unavailable.search(text):
            out.append(
                {
                    "kind": "answered_despite_error",
                    "turn": turn.index,
                    "tools": sorted({c.name for c in failed}),
                    "stated": numbers[:5],
                }
            )
    return out


def _calls_until(tr: Trace, turn: TurnInfo) -> int:
    """Number of calls made up to the end of ``turn``."""
    n = 0
    for c in tr.calls:
        if c.turn > turn.index:
            break
        n += 1
    return n


def tool_use_evaluator(*, max_redundant: int = 0, catalog: Catalog | None = None) -> Any:
    """Build the ``tool_use`` evaluator.

    Args:
        max_redundant: redundant calls tolerated before the conversation fails (default 0).
        catalog: intents, workflows and fallbacks to judge by (default: ``Catalog.default()``).

    Returns:
        A keyword-only callable ``evaluator(transcript=t) -> EvalResult`` with ``.key == "tool_use"``.

    Example:
        >>> ev = tool_use_evaluator()
        >>> ev.key
        'tool_use'
    """
    if isinstance(max_redundant, bool) or not isinstance(max_redundant, int) or max_redundant < 0:
        raise InvalidArgumentError(f"max_redundant must be a non-negative integer, got {max_redundant!r}")
    data = catalog or Catalog.default()

    def evaluator(*, transcript: Transcript) -> EvalResult:
        return _evaluate(transcript, data, max_redundant)

    evaluator.key = KEY  # type: ignore[attr-defined]
    return evaluator
