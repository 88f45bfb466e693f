"""Churn: cancellations with their reasons, and subscribers drifting away before they cancel.

:func:`cancel` ends a subscription with the subscriber's own reason when their story has one (a
recent failed payment or complaint), else the next reason of a smooth weighted round robin over
the phase's reason weights (:mod:`app.world.generator`, step 1). :func:`start_drift` starts a
drift: an ``engagement_drop`` now and follow-ups queued over the next weeks (step 5).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from app.models import CancelReason, SignalType, TicketCategory
from app.world.behaviour import BASELINE
from app.world.phases import CATEGORIES, REASONS, Rates

if TYPE_CHECKING:
    from app.world.state import WorldState

__all__ = ["cancel", "start_drift"]

_CAT_INDEX = {c: k for k, c in enumerate(CATEGORIES)}
_SHIPPING_CATS = {_CAT_INDEX[TicketCategory.shipping_delay], _CAT_INDEX[TicketCategory.fulfillment]}
_QUALITY_CAT = _CAT_INDEX[TicketCategory.product_quality]
_REASON_MEMORY_DAYS = 45


def cancel(state: WorldState, i: int, ordinal: int, rates: Rates) -> None:
    """Subscriber ``i`` cancels on ``ordinal``; one who was not drifting may show an earlier drop."""
    rng = state.rng["churn"]
    reason = _personal_reason(state, i, ordinal, rng)
    if reason is None:
        reason = _quota_reason(state, rates)
    row = state.sub_rows[i]
    row["cancelled_on"] = state.date(ordinal)
    row["cancel_reason"] = reason.value
    state.cancelled[i] = True
    state.deactivate(i)
    srng = state.rng["signals"]
    if state.drift_until[i] <= ordinal and srng.random() < BASELINE.pre_churn_signal:
        day = ordinal - 6 - int(srng.random() * 30)
        if day >= state.started[i]:
            state.signal(day, i, SignalType.engagement_drop, srng)


def start_drift(state: WorldState, i: int, t: int, rng: random.Random) -> None:
    """Subscriber ``i`` starts drifting away: signals now and over the next weeks."""
    ordinal = state.start_ord + t
    lo, hi = BASELINE.drift_days
    state.drift_until[i] = ordinal + rng.randint(lo, hi)
    state.drift_log.append((i, ordinal, state.drift_until[i]))
    state.signal(ordinal, i, SignalType.engagement_drop, rng)
    for lo, hi in BASELINE.drift_followups:
        due = t + rng.randint(lo, hi)
        if due < state.n_days:
            state.followups[due].append(i)


def _personal_reason(state: WorldState, i: int, ordinal: int, rng: random.Random) -> CancelReason | None:
    """The subscriber's own story, if it decides the reason: a failed payment or a complaint."""
    if ordinal - state.last_fail[i] <= _REASON_MEMORY_DAYS and rng.random() < 0.6:
        return CancelReason.payment_failed
    if ordinal - state.last_neg[i] <= _REASON_MEMORY_DAYS:
        cat = state.last_neg_cat[i]
        if cat in _SHIPPING_CATS and rng.random() < 0.35:
            return CancelReason.shipping_issues
        if cat == _QUALITY_CAT and rng.random() < 0.35:
            return CancelReason.product_quality
    return None


def _quota_reason(state: WorldState, rates: Rates) -> CancelReason:
    """Next reason of a smooth weighted round robin over the phase's reason weights.

    Each reason accrues its weight share per cancellation and the one furthest ahead is
    taken, so reason counts over any window track the weights within about one.
    """
    acc = state.reason_acc
    weights = rates.reason_weights
    total = sum(weights)
    best = 0
    for k, w in enumerate(weights):
        acc[k] += w / total
        if acc[k] > acc[best]:
            best = k
    acc[best] -= 1.0
    return REASONS[best]
