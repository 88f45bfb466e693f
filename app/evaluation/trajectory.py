"""``trajectory``: compare CJ's tool calls with a reference trajectory.

A trajectory is the ordered list of tool calls ``{"tool": ..., "args": {...}}``. The actual one
is every call CJ made in the transcript (failed ones included: they are what CJ chose to do).

**Reference.** A list of ``{"tool", "args"}`` dicts, a golden :class:`~app.transcript.Transcript`
(its calls), or ``None``: what fell due in this conversation, in order --

* the tool stages of the transcript's ``workflow_path`` (``data/workflow_definitions.yaml``,
  with the stage ``args``) that fell due because CJ had the initiative while the stage was next
  on the agenda (see :func:`app.evaluation.tool_use.due_stages`);
* for every merchant question CJ answered, the tool its intent names (``data/intents.yaml``,
  with the intent's ``args`` such as ``segment`` or an extracted ``customer_id``) when the
  workflow binds it, else its first bound fallback; any other bound fallback (or tool of
  another intent of the question) also satisfies the step, with any arguments.

Stages and questions the conversation never got to -- the merchant ended, or kept CJ busy with
its own questions -- are not part of the default reference; a step equal to an earlier one
(a question asked twice) or covered by one (same tool, its arguments among the earlier step's)
is listed once, since CJ may answer it from the earlier result. Question steps carry only the
intent's key arguments (``style.key_args`` of ``data/evaluation.yaml``: segment, customer id,
...); windows follow the merchant's wording.

**Argument comparison** (``args_mode``, one mode or a dict tool -> mode; unlisted tools use
``"subset"``). Actual calls are compared with the view's defaults filled in:

* ``exact``: the arguments are equal once both sides have their defaults filled in (``{}`` and
  ``{"time_range": "7d"}`` are the same ``get_ticket_metrics`` call);
* ``ignore``: only the tool name counts;
* ``subset``: every argument the reference writes is in the actual call with the same value
  (an argument the reference leaves out may have any value).

**Modes** (calls are matched one to one, as multisets, maximising the matches):

=============  ============================================  ==================================
mode           passes when                                   score
=============  ============================================  ==================================
``strict``     same calls in the same order                  position-wise matches / longer list
``unordered``  same calls, any order                         matched pairs / longer list
``subset``     every actual call is in the reference         matched actual calls / actual calls
``superset``   every reference call was made                 matched reference calls / reference
=============  ============================================  ==================================

An empty side that the mode measures against scores 1 (nothing was required / nothing extra).

Example:
    Reference ``[get_daily_briefing, analyze_customer_segment(segment=at_risk)]``, actual
    ``[get_daily_briefing, get_ticket_metrics(time_range=7d)]``: superset 1/2 = 0.5 (the
    segment call is missing), subset 1/2 = 0.5 (the ticket call is extra), unordered 1/2,
    strict 1/2 (position 0 matches). With ``args_mode="ignore"`` nothing changes here; with a
    reference ``analyze_customer_segment(segment=high_value)`` and an actual
    ``analyze_customer_segment(segment=at_risk, depth=summary)``, ``subset`` args fail and
    ``ignore`` args match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.analysis.arguments import normalize_args
from app.catalog import Catalog
from app.errors import InvalidArgumentError, UnknownNameError
from app.evaluation.result import EvalResult
from app.evaluation.tool_use import Trace, TurnInfo, bound_tools, due_stages, intent_matches, trace
from app.tools import TOOL_VIEWS
from app.transcript import Transcript

__all__ = ["MODES", "ARGS_MODES", "ToolStep", "trajectory_of", "default_reference", "trajectory_evaluator"]

KEY = "trajectory"
MODES = ("strict", "unordered", "subset", "superset")
ARGS_MODES = ("exact", "ignore", "subset")


@dataclass(frozen=True)
class ToolStep:
    """One call of a trajectory: ``args`` with the view's defaults filled in, ``given`` as written.

    ``alternatives`` (default reference only): other tools that also satisfy the step, any arguments.
    """

    tool: str
    args: tuple[tuple[str, Any], ...]
    given: tuple[tuple[str, Any], ...]
    alternatives: tuple[str, ...] = ()

    @classmethod
    def of(cls, tool: str, args: Mapping[str, Any] | None, alternatives: tuple[str, ...] = ()) -> ToolStep:
        raw = dict(args or {})
        norm = normalize_args(tool, raw)
        return cls(
            tool,
            tuple(sorted(norm.items(), key=lambda kv: kv[0])),
            tuple(sorted(raw.items(), key=lambda kv: kv[0])),
            alternatives,
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tool": self.tool, "args": dict(self.given)}
        if self.alternatives:
            out["or"] = list(self.alternatives)
        return out


def trajectory_of(transcript: Transcript) -> list[ToolStep]:
    """Every tool call CJ made in ``transcript``, in order."""
    return [ToolStep.of(c.name, c.args) for c in transcript.tool_calls()]


def _asked_step(tr: Trace, turn: TurnInfo) -> ToolStep | None:
    """The call a merchant question requires: its intent's bound tool (or first bound fallback)."""
    if turn.request is None or not turn.requested or turn.reply_message is None:
        return None
    key_args = frozenset(tr.catalog.evaluation.style.key_args)
    bound = bound_tools(tr.catalog, turn.workflow)
    for m in intent_matches(tr.catalog, turn.request):
        tool = m.intent.tool
        if tool is None:
            continue
        if tool in bound:  # the arguments that change the answer; windows follow the wording
            args = {k: v for k, v in m.args.items() if k in key_args}
            return ToolStep.of(tool, args, tuple(sorted(turn.requested - {tool})))
        fallback = next((fb for fb in tr.catalog.intents.fallbacks.get(tool, []) if fb.tool in bound), None)
        if fallback is not None:
            return ToolStep.of(fallback.tool, {}, tuple(sorted(turn.requested - {fallback.tool})))
    return None


def default_reference(transcript: Transcript, catalog: Catalog | None = None) -> list[ToolStep]:
    """What fell due in this conversation: due workflow stages and the tools its questions require.

    Workflows and intents come from ``catalog`` (default: ``Catalog.default()``).
    """
    tr = trace(transcript, catalog or Catalog.default())
    stages: dict[int, list[ToolStep]] = {}
    for turn, stage in due_stages(tr):
        stages.setdefault(turn.index, []).append(ToolStep.of(stage.tool, stage.args))  # type: ignore[arg-type]
    steps: list[ToolStep] = []
    for turn in tr.turns:
        asked = _asked_step(tr, turn)
        for step in [*([asked] if asked is not None else []), *stages.get(turn.index, [])]:
            if not any(s.tool == step.tool and all(a in s.given for a in step.given) for s in steps):
                steps.append(step)  # a step an earlier one covers may be answered from its result
    return steps


def _args_match(ref: ToolStep, act: ToolStep, mode: str) -> bool:
    if mode == "ignore":
        return True
    if mode == "exact":
        return ref.args == act.args
    actual = dict(act.args)  # a reference argument left out means "any value"
    return all(k in actual and actual[k] == v for k, v in ref.given)


def _max_matching(refs: Sequence[ToolStep], acts: Sequence[ToolStep], match: Any) -> int:
    """Size of a maximum one-to-one matching (augmenting paths; trajectories are short)."""
    owner: dict[int, int] = {}
    edges = [[j for j, a in enumerate(acts) if match(r, a)] for r in refs]

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    return sum(1 for i in range(len(refs)) if augment(i, set()))


def _check_args_mode(args_mode: str | Mapping[str, str]) -> None:
    modes = args_mode.values() if isinstance(args_mode, Mapping) else [args_mode]
    for m in modes:
        if m not in ARGS_MODES:
            raise UnknownNameError("args mode", m, ARGS_MODES)
    if isinstance(args_mode, Mapping):
        for tool in args_mode:
            if tool not in TOOL_VIEWS:
                raise UnknownNameError("tool", tool, TOOL_VIEWS)


def _parse_reference(reference: Any) -> list[ToolStep] | Transcript | None:
    if reference is None or isinstance(reference, Transcript):
        return reference
    if isinstance(reference, (str, bytes)) or not isinstance(reference, Sequence):
        raise InvalidArgumentError("reference must be a list of {'tool', 'args'} dicts, a Transcript or None")
    steps = []
    for i, item in enumerate(reference):
        if not isinstance(item, Mapping) or "tool" not in item or set(item) - {"tool", "args"}:
            raise InvalidArgumentError(f"reference[{i}] must be a dict with 'tool' and optional 'args', got {item!r}")
        if item["tool"] not in TOOL_VIEWS:
            raise UnknownNameError("tool", item["tool"], TOOL_VIEWS)
        args = item.get("args") or {}
        if not isinstance(args, Mapping):
            raise InvalidArgumentError(f"reference[{i}].args must be a dict, got {args!r}")
        steps.append(ToolStep.of(item["tool"], args))
    return steps


def trajectory_evaluator(
    reference: Sequence[Mapping[str, Any]] | Transcript | None = None,
    *,
    mode: str = "superset",
    args_mode: str | Mapping[str, str] = "subset",
    catalog: Catalog | None = None,
) -> Any:
    """Build the ``trajectory`` evaluator.

    Args:
        reference: list of ``{"tool": name, "args": {...}}``, a golden transcript, or ``None``
            for the workflow's due tool stages (see the module docstring).
        mode: ``strict``, ``unordered``, ``subset`` (actual within reference) or ``superset``
            (actual covers reference).
        args_mode: ``exact``, ``ignore`` or ``subset`` (reference args within actual args), or a
            dict tool -> mode (other tools: ``subset``).
        catalog: workflows and intents of the default reference (default: ``Catalog.default()``).

    Returns:
        A keyword-only callable ``evaluator(transcript=t) -> EvalResult`` with ``.key == "trajectory"``.

    Raises:
        UnknownNameError: an unknown mode, args mode or tool.
        InvalidArgumentError: a malformed reference.

    Example:
        >>> ev = trajectory_evaluator([{"tool": "get_daily_briefing"}], mode="superset")
        >>> ev.key
        'trajectory'
    """
    if mode not in MODES:
        raise UnknownNameError("trajectory mode", mode, MODES)
    _check_args_mode(args_mode)
    parsed = _parse_reference(reference)
    data = catalog or Catalog.default()
    per_tool = dict(args_mode) if isinstance(args_mode, Mapping) else {}
    default_args = args_mode if isinstance(args_mode, str) else "subset"

    def match(ref: ToolStep, act: ToolStep) -> bool:
        if act.tool in ref.alternatives:
            return True
        return ref.tool == act.tool and _args_match(ref, act, per_tool.get(ref.tool, default_args))

    def evaluator(*, transcript: Transcript) -> EvalResult:
        if parsed is None:
            ref = default_reference(transcript, data)
        elif isinstance(parsed, Transcript):
            ref = trajectory_of(parsed)
        else:
            ref = parsed
        act = trajectory_of(transcript)
        if mode == "strict":
            matched = sum(1 for r, a in zip(ref, act, strict=False) if match(r, a))  # strict mode counts the longer list
            total = max(len(ref), len(act))
            passed = matched == len(ref) == len(act)
        else:
            matched = _max_matching(ref, act, match)
            total = {"unordered": max(len(ref), len(act)), "subset": len(act), "superset": len(ref)}[mode]
            need = {"unordered": matched == len(ref) == len(act), "subset": matched == len(act), "superset": matched == len(ref)}
            passed = need[mode]
        score = 1.0 if total == 0 else matched / total
        return EvalResult(
            key=KEY,
            score=round(score, 4),
            passed=passed,
            comment=f"{mode}: {matched}/{total} calls matched",
            details={
                "mode": mode,
                "args_mode": args_mode if isinstance(args_mode, str) else dict(args_mode),
                "reference": [s.as_dict() for s in ref],
                "actual": [s.as_dict() for s in act],
                "matched": matched,
                "total": total,
            },
        )

    evaluator.key = KEY  # type: ignore[attr-defined]
    return evaluator
