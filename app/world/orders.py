"""Orders and payments: one billing cycle of a subscriber, every :data:`CYCLE_DAYS` days.

A cycle is skipped (no order, ``skipped_box`` signal), fails (status ``failed``,
``failed_payment`` signal) or is paid (sometimes refunded later, sometimes with an add-on), with
the rates of :data:`~app.world.behaviour.BASELINE` scaled by the phase, the subscriber's
propensity and drift (see :mod:`app.world.generator`, step 3).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from app.models import SignalType
from app.world.behaviour import BASELINE
from app.world.phases import Rates

if TYPE_CHECKING:
    from app.world.state import WorldState

__all__ = ["CYCLE_DAYS", "bill", "draw_cycle"]

CYCLE_DAYS = 30


def draw_cycle(
    rng: random.Random, prop: float, drifting: bool, rates: Rates, price: int, first: bool
) -> tuple[str | None, int]:
    """The outcome of one billing cycle: ``(status, amount)``, status ``None`` for a skipped box.

    Shared by the generator and :mod:`app.world.response` (a saved subscriber's extra cycles), so
    both bill by the same rule; the draws are taken in a fixed order for a given outcome.
    """
    skip = BASELINE.skip_rate * (0.5 + 0.5 * prop) * rates.skips
    if drifting:
        skip *= BASELINE.drift_skip_boost
    if not first and rng.random() < skip:
        return None, 0
    if not first and rng.random() < BASELINE.failed_payment_rate * rates.failed_payments * (0.7 + 0.3 * prop):
        return "failed", price
    status = "refunded" if rng.random() < BASELINE.refund_rate else "paid"
    amount = price
    if rng.random() < BASELINE.addon_rate:
        amount += int(price * (0.2, 0.3, 0.5)[int(rng.random() * 3)])
    return status, amount


def bill(state: WorldState, i: int, ordinal: int, rates: Rates, first: bool) -> None:
    """One billing cycle of subscriber ``i``: a paid/failed/refunded order or a skip."""
    rng = state.rng["orders"]
    status, amount = draw_cycle(rng, state.prop[i], ordinal < state.drift_until[i], rates, state.price[i], first)
    if status is None:
        state.signal(ordinal, i, SignalType.skipped_box, rng)
        return
    if status == "failed":
        state.last_fail[i] = ordinal
        state.signal(ordinal, i, SignalType.failed_payment, rng)
    state.orders.append(
        {
            "order_id": f"O{len(state.orders) + 1:07d}",
            "customer_id": state.cust_id[i],
            "subscription_id": state.sub_rows[i]["subscription_id"],
            "ordered_on": state.date(ordinal),
            "amount_cents": amount,
            "status": status,
        }
    )
