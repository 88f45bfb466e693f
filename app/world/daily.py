"""The day-by-day simulation loop: every day ``start..horizon``, the five steps in order.

Cancellations, arrivals, renewals, tickets, then drift, background engagement drops and the
marketing row (the steps of :mod:`app.world.generator`). Each expected count gets a daily jitter
and is emitted by error diffusion (:class:`_Diffuser`), so totals over any window track their
expectations within about one unit.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from app.models import SignalType
from app.world.behaviour import BASELINE, CATEGORY_PROFILES
from app.world.churn import cancel, start_drift
from app.world.marketing import marketing_day
from app.world.orders import CYCLE_DAYS, bill
from app.world.phases import CATEGORIES
from app.world.population import add_subscriber, draw_profile, next_plan
from app.world.tickets import ticket

if TYPE_CHECKING:
    from app.world.state import WorldState

__all__ = ["simulate"]


class _Diffuser:
    """Error diffusion: emits whole counts whose running total tracks the expected total."""

    __slots__ = ("acc",)

    def __init__(self, rng: random.Random) -> None:
        self.acc = rng.random()

    def emit(self, expected: float) -> int:
        self.acc += expected
        n = int(self.acc)
        self.acc -= n
        return n


def _jitter(state: WorldState) -> float:
    j = BASELINE.count_jitter
    return 1.0 + j * (2.0 * state.rng["jitter"].random() - 1.0)


def simulate(state: WorldState) -> None:
    """Simulate every day of the frame, appending rows and signals to ``state``."""
    r_churn, r_arr, r_tix, r_sig, r_mkt = (
        state.rng[k] for k in ("churn", "arrivals", "tickets", "signals", "marketing")
    )
    d_cancel = _Diffuser(r_churn)
    d_arrive = _Diffuser(r_arr)
    d_cats = [_Diffuser(r_tix) for _ in CATEGORIES]
    d_engage = _Diffuser(r_sig)
    d_drift = _Diffuser(r_sig)
    shares = [CATEGORY_PROFILES[c].share for c in CATEGORIES]
    risky = [CATEGORY_PROFILES[c].targets_risky for c in CATEGORIES]
    baseline_arrival_rate = max(0.0, state.base_hazard + state.daily_growth)

    for t in range(state.n_days):
        ordinal = state.start_ord + t
        rates = state.rates[t]
        n_active = len(state.active)
        hazard = state.base_hazard * rates.churn

        # 1. cancellations (before arrivals: nobody cancels on their first day)
        n_cancel = min(n_active, d_cancel.emit(hazard * n_active * _jitter(state)))
        for _ in range(n_cancel):
            cancel(state, state.pick(r_churn, ordinal, weighted=True), ordinal, rates)

        # 2. arrivals
        if rates.net_growth is not None:
            expected_arrivals = n_active * max(0.0, hazard + rates.net_growth / 30.0)
        else:
            expected_arrivals = n_active * baseline_arrival_rate * rates.acquisition
        expected_arrivals *= _jitter(state)
        for _ in range(d_arrive.emit(expected_arrivals)):
            seg, prop = draw_profile(state, r_arr)
            i = add_subscriber(state, r_arr, ordinal, seg, prop, next_plan(state))
            state.activate(i)
            bill(state, i, ordinal, rates, first=True)
            if t + CYCLE_DAYS < state.n_days:
                state.schedule[t + CYCLE_DAYS].append(i)

        # 3. renewals
        for i in state.schedule[t]:
            if state.cancelled[i]:
                continue
            bill(state, i, ordinal, rates, first=False)
            if t + CYCLE_DAYS < state.n_days:
                state.schedule[t + CYCLE_DAYS].append(i)
        state.schedule[t] = []

        # 4. tickets
        n_active = len(state.active)
        day_tickets = []
        if n_active:
            base = n_active * state.ticket_rate * rates.ticket_volume
            for c in range(len(CATEGORIES)):
                n = d_cats[c].emit(base * shares[c] * rates.ticket_mix[c] * _jitter(state))
                for _ in range(n):
                    i = state.pick(r_tix, ordinal, weighted=risky[c])
                    day_tickets.append(ticket(state, i, t, c, rates, r_tix))
        day_tickets.sort(key=lambda r: r["created_at"])
        for row in day_tickets:
            row["ticket_id"] = f"T{len(state.tickets) + 1:06d}"
            state.tickets.append(row)

        # 5. drifting subscribers, background engagement drops, marketing
        for i in state.followups[t]:
            if not state.cancelled[i] and ordinal < state.drift_until[i]:
                state.signal(ordinal, i, SignalType.engagement_drop, r_sig)
        state.followups[t] = []
        if n_active:
            for _ in range(d_drift.emit(n_active * BASELINE.drift_rate / 30.0 * rates.churn * _jitter(state))):
                i = state.pick(r_sig, ordinal, weighted=True)
                if ordinal >= state.drift_until[i]:
                    start_drift(state, i, t, r_sig)
            for _ in range(d_engage.emit(n_active * BASELINE.engagement_drop_rate / 30.0)):
                state.signal(ordinal, state.pick(r_sig, ordinal, weighted=True), SignalType.engagement_drop, r_sig)
        marketing_day(state, t, expected_arrivals, rates, r_mkt)
