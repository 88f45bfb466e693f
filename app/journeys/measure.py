"""Measuring interventions in a generated world against the world without them.

Each intervention is measured over its window ``[lands_on, lands_on + horizon - 1]`` (cut at the
world's horizon) by comparing two exact runs of its customer (:func:`~app.world.response.treat_customer`):
*with* every action the customer received up to and including this one, and *without* this one
(the earlier actions only; none for the first). Customers never affect each other, so the
customer's own runs are the whole counterfactual.

* **revenue saved**: charged orders net of refunds in the window, with minus without;
* **kept**: without it the customer would have cancelled within the window, with it they did not;
* **outcome**: ``kept``, ``revenue_gained`` (saved > 0), ``lost`` (cancelled in the window
  anyway), ``no_change``, or ``not_run`` (an override that ran nothing: cost and value 0).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from app.journeys.learning import Outcome
from app.journeys.records import InterventionRecord
from app.world.effects import InterventionEffects, load_intervention_effects
from app.world.response import Intervention, TreatedCustomer, added_revenue, skipped_boxes, treat_customer
from app.world.world import World

__all__ = ["window_end", "measure"]


def window_end(record: InterventionRecord, horizon_days: int, world_horizon: dt.date) -> dt.date:
    """The last day an intervention is measured over."""
    return min(record.lands_on + dt.timedelta(days=horizon_days - 1), world_horizon)


def _plan(record: InterventionRecord) -> list[Intervention]:
    return [Intervention(record.customer_id, a, record.lands_on) for a in record.executed_action or ()]


def measure(world: World, records: list[InterventionRecord], horizon_days: int, *,
            effects: InterventionEffects | None = None) -> list[Outcome]:  # fmt: skip
    """The outcome of each record (launched or overridden) in ``world``, the untreated generated world.

    ``records`` must hold every executed intervention of each of their customers up to the last one
    measured (earlier ones shape the *without* run). Outcomes come back in the records' order, with
    ``churn_risk_delta`` and ``resolution_time_days`` left to the caller (they need the observed
    health, which a generated world alone does not have).
    """
    effects = effects or load_intervention_effects()
    by_customer: dict[str, list[InterventionRecord]] = defaultdict(list)
    for r in records:
        if r.status in ("launched", "overridden"):
            by_customer[r.customer_id].append(r)
    skips = skipped_boxes(world, set(by_customer))
    measured: dict[str, Outcome] = {}
    for cid, mine in by_customer.items():
        mine.sort(key=lambda r: (r.lands_on, r.intervention_id))
        before: list[Intervention] = []
        previous: TreatedCustomer | None = None
        for r in mine:
            end = window_end(r, horizon_days, world.horizon)
            own = _plan(r)
            if not own:
                measured[r.intervention_id] = _outcome(r, "not_run", 0, 0, False, end)
                continue
            now = treat_customer(world, before + own, effects, skips[cid])
            cancelled_without = (previous.outcome.cancelled_with if previous is not None
                                 else now.outcome.cancelled_without)  # fmt: skip
            cancelled_with = now.outcome.cancelled_with
            saved = added_revenue(now, r.lands_on, end) - (added_revenue(previous, r.lands_on, end) if previous else 0)
            left_without = cancelled_without is not None and cancelled_without <= end
            left_with = cancelled_with is not None and cancelled_with <= end
            kept = left_without and not left_with
            label = "kept" if kept else "lost" if left_with else "revenue_gained" if saved > 0 else "no_change"
            cost = round(sum(effects.get(a).cost for a in r.executed_action or ()) * 100)
            measured[r.intervention_id] = _outcome(r, label, saved, cost, kept, end)
            before += own
            previous = now
    return [measured[r.intervention_id] for r in records if r.intervention_id in measured]


def _outcome(r: InterventionRecord, label: str, saved: int, cost: int, kept: bool, end: dt.date) -> Outcome:
    return Outcome(
        intervention_id=r.intervention_id, customer_id=r.customer_id, playbook_id=r.playbook_id, segment=r.segment,
        outcome=label, resolution_time_days=None, churn_risk_delta=None, revenue_saved_cents=saved, cost_cents=cost,
        kept=kept, human_override=r.human_override, measured_at=end,
    )  # fmt: skip
