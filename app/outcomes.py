"""What a conversation's interventions did: after a conversation on a generated world, the world's
next days are revealed and every intervention CJ launched in it is measured against the same world
without it (:func:`app.journeys.measure.measure`, exact: the untreated customer is the counterfactual).

The outcomes are stored in the operations store like any measured outside an orchestrator run
(``run_id`` null), and summed up for the transcript's ``meta["outcome"]``, which the ``outcome``
evaluator scores (:mod:`app.evaluation.outcome`). Only interventions that ran count: one still
waiting for approval (the merchant declined) was never launched.

Example:
    >>> from app.simulation import RunConfig, run_conversation
    >>> t = run_conversation(RunConfig(scenario="churn_spike", merchant="marcus_thompson",
    ...                                workflow="retention_planning", outcome_days=30))
    >>> t.meta["outcome"]["horizon_days"], t.meta["outcome"]["measured"]
    (30, 1)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.errors import InvalidArgumentError
from app.journeys import records
from app.journeys.measure import measure
from app.storage.ops import OpsStore
from app.transcript import Transcript
from app.world.world import World

__all__ = ["MAX_OUTCOME_DAYS", "check_outcome_days", "conversation_interventions", "measure_conversation"]

MAX_OUTCOME_DAYS = 365
LAUNCH_TOOL = "launch_intervention"


def check_outcome_days(days: int, world: World | None, day: dt.date) -> None:
    """Refuse a horizon the run cannot measure: no generated world, or past the world's horizon.

    ``day`` is the conversation's date; its interventions land the day after.
    """
    if world is None:
        raise InvalidArgumentError("outcome days need a generated world (its future is the counterfactual); a "
                                   "database has no future to measure against: leave --outcome-days out")  # fmt: skip
    most = (world.horizon - day).days
    if not 1 <= days <= most:
        raise InvalidArgumentError(f"outcome days must be between 1 and {most} (the world is simulated up to "
                                   f"{world.horizon}), got {days}")  # fmt: skip


def conversation_interventions(t: Transcript) -> list[str]:
    """Ids of the interventions the conversation launched, in call order (each once)."""
    ids: list[str] = []
    for m in t.messages:
        art = m.artifact if m.role == "tool" and m.name == LAUNCH_TOOL and m.status != "error" else None
        iv = ((art or {}).get("result") or {}).get("intervention_id") if isinstance(art, dict) else None
        if iv and iv not in ids:
            ids.append(iv)
    return ids


def measure_conversation(world: World, ops: OpsStore, t: Transcript, days: int) -> dict[str, Any]:
    """Measure the conversation's interventions over ``days`` from when each lands, store the outcomes
    (``run_id`` null; one measured before is kept, not measured twice) and return the summary."""
    ids = conversation_interventions(t)

    def run(conn: Any) -> tuple[list[records.InterventionRecord], dict[str, Any]]:
        mine = [records.get_intervention(conn, i) for i in ids]
        customers = {r.customer_id for r in mine}
        # every earlier intervention of these customers shapes the "without" run of a later one
        history = [r for r in records.read_interventions(conn, launched_by_cj=True) if r.customer_id in customers]
        done = {o.intervention_id: o for o in records.read_outcomes(conn, None)}
        fresh = [o for o in measure(world, history, days) if o.intervention_id in ids and o.intervention_id not in done]
        records.insert_outcomes(conn, None, fresh)
        return mine, {**done, **{o.intervention_id: o for o in fresh}}

    with ops.transaction() as conn:
        mine, outcomes = run(conn)
    rows = []
    for r in mine:
        o = outcomes.get(r.intervention_id)
        rows.append({
            "intervention_id": r.intervention_id, "customer_id": r.customer_id, "playbook_id": r.playbook_id,
            "segment": r.segment, "status": r.status, "outcome": o.outcome if o else "not_launched",
            "kept": bool(o and o.kept), "revenue_saved_cents": o.revenue_saved_cents if o else 0,
            "cost_cents": o.cost_cents if o else 0, "measured_at": o.measured_at.isoformat() if o else None,
        })  # fmt: skip
    measured = [x for x in rows if x["outcome"] != "not_launched"]
    return {
        "horizon_days": days,
        "interventions": rows,
        "measured": len(measured),
        "customers_kept": sum(x["kept"] for x in measured),
        "revenue_saved_cents": sum(x["revenue_saved_cents"] for x in measured),
        "cost_cents": sum(x["cost_cents"] for x in measured),
    }
