"""``workflow_adherence``: did CJ follow the workflow it was in?

Four kinds of problem, each counted:

* **Out-of-order stages.** A stage in ``stages_reached`` completed on CJ's own initiative while
  an earlier stage of the same workflow's ``conversation_flow`` was still pending. Completions
  the merchant asked for are in order by definition: a tool stage whose tool the merchant's
  message requested (its intents' tools or their fallbacks, as in ``tool_use``), or a milestone
  reached in reply to a message with any recognised intent ("what should we do?").
* **Skipped stages.** A tool stage that fell due -- CJ had the initiative (its opening, or a
  merchant message with no recognisable request) while the stage was first on the workflow's
  agenda, see :func:`app.evaluation.tool_use.due_stages` -- but was never reached in that
  workflow. Stages the conversation never got to (the merchant ended, or kept asking its own
  questions, or never accepted CJ's offer of the stage) are not skipped: only the stages CJ
  was free to drive count.
* **Unjustified transitions.** Every ``workflow_path`` entry after the first must carry a
  ``trigger`` that the previous workflow declares in ``transitions`` for that target, and the
  trigger intent must be recognisable in the merchant message at ``at_message``.
* **Off-workflow calls.** A call of a tool outside the current workflow's ``tools_available``;
  or a call CJ made on its own initiative of a tool that is none of the workflow's stage tools
  (a bound ``get_data_quality`` is exempt: checking the data before answering from it is in order)
  (a call is on the merchant's behalf when its tool answers the latest merchant request that
  named one, and a retry when it follows a failed call of the same turn). On an open turn with
  nothing left on the workflow's agenda (``ad_hoc_support`` has no tool stages) any bound tool
  may answer: "How bad is it this year?" can fairly be answered from the briefing.

**Score** = 1 - problems / checks, where checks = stages reached + stages due + transitions +
calls (1 when there is nothing to check). **Passed** when there is no problem at all.

Example:
    In ``crisis_response`` the merchant opens with "Our carrier had an outage, how bad is it?".
    CJ calls ``get_customer_list`` and then ``analyze_customer_segment`` (not bound in
    crisis_response): ``identify_affected`` is completed out of order (``assess_impact`` pending,
    and the merchant asked for a crisis analysis, not a list) and one call is off-workflow:
    2 problems out of 1 stage reached + 2 calls = 3 checks, score 0.33, not passed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from app.catalog import Catalog
from app.evaluation.result import EvalResult
from app.evaluation.tool_use import (
    Trace,
    TurnInfo,
    bound_tools,
    due_stages,
    intents_of,
    known_workflow,
    trace,
    workflow_def,
)
from app.transcript import Transcript
from app.views.quality import DATA_QUALITY

__all__ = ["workflow_adherence_evaluator"]

KEY = "workflow_adherence"


def _allowed_triggers(catalog: Catalog, source: str, target: str) -> frozenset[str]:
    if not known_workflow(catalog, source):
        return frozenset()
    return frozenset(tr.trigger for tr in workflow_def(catalog, source).transitions if tr.to == target)


def _turn_of(turns: Sequence[TurnInfo], message: int) -> TurnInfo | None:
    found = None
    for turn in turns:
        if turn.request_message <= message:
            found = turn
        else:
            break
    return found


def _order_problems(t: Transcript, tr: Trace) -> tuple[list[dict[str, Any]], int]:
    reached: dict[str, set[str]] = {}
    problems = []
    for entry in t.stages_reached:
        wf, stage_id = entry["workflow"], entry["stage"]
        flow = workflow_def(tr.catalog, wf).conversation_flow if known_workflow(tr.catalog, wf) else []
        done = reached.setdefault(wf, set())
        ids = [s.id for s in flow]
        if stage_id not in ids:
            problems.append({"kind": "unknown_stage", "workflow": wf, "stage": stage_id})
            continue
        stage = flow[ids.index(stage_id)]
        earlier = [s for s in ids[: ids.index(stage_id)] if s not in done]
        done.add(stage_id)
        if not earlier:
            continue
        turn = _turn_of(tr.turns, entry["at_message"])
        asked = turn is not None and turn.request is not None
        if stage.tool:
            asked = asked and stage.tool in turn.requested  # type: ignore[union-attr]
        else:
            asked = asked and bool(turn.intents)  # type: ignore[union-attr]
        if not asked:
            problems.append({"kind": "out_of_order", "workflow": wf, "stage": stage_id, "pending_before": earlier})
    return problems, len(t.stages_reached)


def _skipped(t: Transcript, tr: Trace) -> tuple[list[dict[str, Any]], int]:
    reached = {(s["workflow"], s["stage"]) for s in t.stages_reached}
    due = due_stages(tr)
    problems = [
        {"kind": "skipped", "workflow": turn.workflow, "stage": stage.id, "turn": turn.index}
        for turn, stage in due
        if (turn.workflow, stage.id) not in reached
    ]
    return problems, len(due)


def _transition_problems(t: Transcript, catalog: Catalog) -> tuple[list[dict[str, Any]], int]:
    problems = []
    path = t.workflow_path
    for prev, entry in itertools.pairwise(path):
        trigger, target = entry.get("trigger"), entry["workflow"]
        allowed = _allowed_triggers(catalog, prev["workflow"], target)
        at = entry.get("at_message", -1)
        text = t.messages[at].content if 0 <= at < len(t.messages) and t.messages[at].role == "merchant" else ""
        if trigger not in allowed:
            why = f"{prev['workflow']} declares no transition to {target} on {trigger!r}"
        elif trigger not in {i for i, _ in intents_of(catalog, text)}:
            why = f"the merchant message at {at} does not carry {trigger!r}"
        else:
            continue
        problems.append({"kind": "unjustified_transition", "from": prev["workflow"], "to": target, "why": why})
    return problems, max(0, len(path) - 1)


def _off_workflow(tr: Trace) -> tuple[list[dict[str, Any]], int]:
    problems = []
    asked: frozenset[str] = frozenset()
    due = {turn.index for turn, _stage in due_stages(tr)}
    for turn in tr.turns:
        # nothing on the agenda: any bound lookup may answer an open question
        free = turn.open and turn.index not in due
        if turn.requested:  # a request without a tool ("numbers, please") keeps the previous one
            asked = turn.requested
        failed: set[str] = set()
        for c in turn.calls:
            where = {"kind": "off_workflow", "call": c.label(), "turn": turn.index, "workflow": c.workflow}
            retry = c.name in failed or any(c.name in tr.catalog.intents.fallback_tools(f) for f in failed)
            if c.name not in bound_tools(tr.catalog, c.workflow):
                problems.append({**where, "why": f"{c.name} is not available in {c.workflow}"})
            elif not (free or retry or c.name in tr.catalog.workflows.stage_tools(c.workflow) or c.name in asked) and (
                c.name != DATA_QUALITY.tool  # checking the data before answering from it is always in order
            ):
                problems.append({**where, "why": "not a stage tool and not asked for"})
            if c.status == "error":
                failed.add(c.name)
    return problems, len(tr.calls)


def _evaluate(t: Transcript, catalog: Catalog) -> EvalResult:
    tr = trace(t, catalog)
    found: list[dict[str, Any]] = []
    checks = 0
    for problems, n in (_order_problems(t, tr), _skipped(t, tr), _transition_problems(t, catalog), _off_workflow(tr)):
        found += problems
        checks += n
    score = 1.0 if checks == 0 else max(0.0, 1.0 - len(found) / checks)
    kinds: dict[str, int] = {}
    for p in found:
        kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
    comment = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in kinds.items()) or "followed the workflow"
    return EvalResult(
        key=KEY,
        score=round(score, 4),
        passed=not found,
        comment=comment,
        details={"problems": found, "checks": checks, **kinds},
    )


def workflow_adherence_evaluator(*, catalog: Catalog | None = None) -> Any:
    """Build the ``workflow_adherence`` evaluator.

    Args:
        catalog: workflows and intents to judge by (default: ``Catalog.default()``).

    Returns:
        A keyword-only callable ``evaluator(transcript=t) -> EvalResult`` with
        ``.key == "workflow_adherence"``.

    Example:
        >>> workflow_adherence_evaluator().key
        'workflow_adherence'
    """

    data = catalog or Catalog.default()

    def evaluator(*, transcript: Transcript) -> EvalResult:
        return _evaluate(transcript, data)

    evaluator.key = KEY  # type: ignore[attr-defined]
    return evaluator
