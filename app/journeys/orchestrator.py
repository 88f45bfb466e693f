"""The orchestrator: a LangGraph graph that runs the closed loop day by day.

Each day passes through the nodes

    observe -> forecast -> match -> gate -> execute -> measure -> learn -> snapshot

and then either starts the next day or ends:

* **observe**: the interventions landing today reach the world (:class:`~app.journeys.observe.TreatedWorldDatabase`);
  every customer's journey position at the end of the day; stage changes go to ``ops_journey_state_log``;
* **forecast**: the forecast model is refitted every ``refit_every_days`` and applied to today's positions;
* **match**: each customer without a running intervention gets their best playbook (:mod:`app.journeys.matching`),
  at most ``max_launches_per_day`` within ``daily_budget``, most expected net value first;
* **gate**: an intervention whose playbook needs approval waits for a decision. With ``policy="policy"`` the
  rule decides (approve when expected value / cost >= ``min_expected_roi``, else override: nothing runs);
  with ``policy="human"`` the graph pauses with ``interrupt()`` and resumes with the human's decisions;
* **execute**: interventions are recorded (confidence, expected cost and value, triggering signals, latency);
  launched ones land the next day;
* **measure**: interventions whose window (``horizon_days`` from landing) ends today are measured against the
  counterfactual (:mod:`app.journeys.measure`);
* **learn**: the performance log per playbook x segment, and retirement below ``roi_floor`` after ``min_runs``;
* **snapshot**: the portfolio snapshot of the day.

On a database (no world to apply to) the orchestrator only recommends: interventions are recorded as
``recommended`` and nothing is measured. Heavy objects (the world, its database, the health memo)
live in :class:`Runtime`, outside the graph's checkpointed state, which holds only the day and the
decisions.
"""

from __future__ import annotations

import datetime as dt
import time
from itertools import pairwise
from typing import Any, Literal, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from app.journeys.runtime import Runtime

__all__ = ["Policy", "OrchestratorState", "build_orchestrator", "graph_config"]

Policy = Literal["policy", "human"]
NODES = ("observe", "forecast", "match", "gate", "execute", "measure", "learn", "snapshot")


class OrchestratorState(TypedDict, total=False):
    """The checkpointed state: the day and what the gate decided (everything else is in the runtime)."""

    day: str
    last_day: str
    pending: list[dict[str, Any]]
    decisions: dict[str, Any]
    days_done: int


def build_orchestrator(runtime: Runtime, policy: Policy = "policy", checkpointer: Any | None = None) -> Any:
    """The compiled graph over ``runtime`` (a checkpointer is needed for ``policy="human"``)."""

    def on_day(step: Any) -> Any:
        """A node that runs one of the runtime's daily steps and changes no graph state."""

        def node(state: OrchestratorState) -> dict[str, Any]:
            step(dt.date.fromisoformat(state["day"]))
            return {}

        return node

    observe, forecast, measure, learn = (on_day(f) for f in (runtime.observe, runtime.forecast, runtime.measure,
                                                              runtime.learn))  # fmt: skip

    def match(state: OrchestratorState) -> dict[str, Any]:
        pending = runtime.match(dt.date.fromisoformat(state["day"]))
        return {"pending": pending, "decisions": {}}

    def gate(state: OrchestratorState) -> dict[str, Any]:
        gated = [p for p in state.get("pending", []) if p["requires_human_approval"]]
        if not gated or not runtime.applies:
            return {"decisions": {}}
        if policy == "human":
            answer = interrupt({"type": "approval", "day": state["day"], "pending": gated})
            return {"decisions": _human_decisions(gated, answer)}
        return {"decisions": runtime.policy_decisions(gated)}

    def execute(state: OrchestratorState) -> dict[str, Any]:
        runtime.execute(dt.date.fromisoformat(state["day"]), state.get("decisions", {}))
        return {}

    def snapshot(state: OrchestratorState) -> dict[str, Any]:
        day = dt.date.fromisoformat(state["day"])
        runtime.snapshot(day)
        return {"day": (day + dt.timedelta(days=1)).isoformat(), "days_done": state.get("days_done", 0) + 1,
                "pending": [], "decisions": {}}  # fmt: skip

    def next_day(state: OrchestratorState) -> str:
        return "observe" if state["day"] <= state["last_day"] else END

    g = StateGraph(OrchestratorState)
    for name, fn in zip(NODES, (observe, forecast, match, gate, execute, measure, learn, snapshot), strict=True):
        g.add_node(name, _timed(runtime, name, fn))
    g.add_edge(START, "observe")
    for a, b in pairwise(NODES):
        g.add_edge(a, b)
    g.add_conditional_edges("snapshot", next_day, ["observe", END])
    return g.compile(checkpointer=checkpointer if checkpointer is not None else InMemorySaver())


def _timed(runtime: Runtime, name: str, fn: Any) -> Any:
    """The node, adding its wall time to ``runtime.seconds`` (what the benchmark reports per node)."""

    def node(state: OrchestratorState) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            return fn(state)
        finally:
            runtime.seconds[name] = runtime.seconds.get(name, 0.0) + time.perf_counter() - started

    return node


def graph_config(thread_id: str, days: int) -> dict[str, Any]:
    """Run configuration: one thread per run; the recursion limit covers every node of every day."""
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": days * len(NODES) + 10}


def _human_decisions(gated: list[dict[str, Any]], answer: Any) -> dict[str, Any]:
    """The human's answer -> a decision per gated intervention.

    ``answer`` maps intervention ids to ``"approve"``, ``"override"`` or ``{"decision": "override",
    "action": <an effect-model action or None>, "note": ...}``; ``True``/``False`` approves/overrides all.
    An intervention the answer does not mention is overridden (nothing runs): approval is never assumed.
    """
    if isinstance(answer, bool):
        answer = {p["intervention_id"]: "approve" if answer else "override" for p in gated}
    if not isinstance(answer, dict):
        answer = {}
    out: dict[str, Any] = {}
    for p in gated:
        d = answer.get(p["intervention_id"], {"decision": "override", "note": "not approved"})
        out[p["intervention_id"]] = {"decision": d} if isinstance(d, str) else dict(d)
        out[p["intervention_id"]].setdefault("by", "human")
    return out
