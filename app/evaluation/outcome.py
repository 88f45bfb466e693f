"""``outcome``: what the interventions a conversation launched really did, per unit cost.

A conversation run with outcome days (``RunConfig.outcome_days``, ``cjsim run --outcome-days N``)
on a generated world has its launched interventions measured against the same world without them
(:mod:`app.outcomes`); the transcript's ``meta["outcome"]`` holds the measured outcomes. This
evaluator reads that summary only (it never opens the world):

* **revenue saved** and **customers kept** (would have cancelled within the horizon and did not)
  over the interventions that ran (approved or needing no approval), against the counterfactual;
* **return per unit cost** = revenue saved / cost;
* **score** = customers kept / interventions measured, the share of launches that kept a customer
  (revenue saved within a short horizon is often zero: a kept subscriber's next charge may fall
  after it, so keeping the customer is the outcome a launch is judged by); **passed** when the
  interventions kept a customer or saved more revenue than they cost.

A transcript without a measured outcome -- run without outcome days, on a database, or one whose
conversation launched nothing -- is ``skipped`` with the reason, never given a made-up score.
Across a batch, :func:`app.reporting.outcome.outcome_interval` gives the interval over seeds.

Example:
    >>> outcome_evaluator().key
    'outcome'
"""

from __future__ import annotations

from typing import Any

from app.evaluation.result import EvalResult, Evaluator
from app.transcript import Transcript

__all__ = ["KEY", "outcome_evaluator", "measured_outcome"]

KEY = "outcome"


def measured_outcome(transcript: Transcript) -> dict[str, Any] | None:
    """The transcript's measured outcome summary, or None when nothing was measured."""
    summary = transcript.meta.get("outcome")
    if not isinstance(summary, dict) or not summary.get("measured"):
        return None
    return summary


class _OutcomeEvaluator:
    key = KEY

    def __call__(self, *, transcript: Transcript) -> EvalResult:
        summary = transcript.meta.get("outcome")
        if not isinstance(summary, dict):
            return EvalResult.skip(KEY, "no measured outcome: run the conversation on a generated world with "
                                   "outcome days (cjsim run --outcome-days N)")  # fmt: skip
        if not summary.get("measured"):
            return EvalResult.skip(KEY, "no intervention ran in this conversation, so there is no outcome to score")
        n, kept = int(summary["measured"]), int(summary["customers_kept"])
        saved, cost = int(summary["revenue_saved_cents"]), int(summary["cost_cents"])
        per_cost = round(saved / cost, 4) if cost else None
        details = {"horizon_days": summary.get("horizon_days"), "measured": n, "customers_kept": kept,
                   "revenue_saved_cents": saved, "cost_cents": cost, "revenue_per_cost": per_cost,
                   "interventions": summary.get("interventions", [])}  # fmt: skip
        ratio = f"{per_cost:.2f} per unit cost" if per_cost is not None else "at no cost"
        comment = (f"{kept} of {n} interventions kept a customer over {summary.get('horizon_days')} days; revenue "
                   f"saved {saved / 100:.2f} for a cost of {cost / 100:.2f} ({ratio})")  # fmt: skip
        return EvalResult(key=KEY, score=round(kept / n, 4), passed=kept > 0 or saved > cost, comment=comment,
                          details=details)  # fmt: skip


def outcome_evaluator() -> Evaluator:
    """Evaluator ``outcome``: customers kept and revenue saved per unit cost by the conversation's
    interventions, against the world without them (module docstring); skipped when nothing was measured."""
    return _OutcomeEvaluator()
