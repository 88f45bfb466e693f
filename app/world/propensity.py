"""The generator's own view of who is likely to cancel: every active subscriber's true pick weight at
a date (:meth:`app.world.state.WorldState.weight`), for measuring how well any model could rank
customers by risk (docs/health.md, "What limits critical precision").

The weight is not in the tables: the drift a subscriber is in and how long it lasts live only in
the generator's state, so :func:`pick_weights` re-runs the simulation (same spec, same random
streams, hence the same rows) up to the end of the date and reads the state there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.errors import InvalidArgumentError
from app.world.daily import simulate
from app.world.population import initial_population
from app.world.state import WorldState
from app.world.world import WorldSpec

__all__ = ["PickWeight", "pick_weights"]


@dataclass(frozen=True)
class PickWeight:
    """One active subscriber's true cancellation pick weight at the end of a date.

    Attributes:
        weight: the weight the next day's cancellation pick uses (segment propensity x 2.5 within
            30 days of a failed payment x 1.8 within 30 days of a complaint x 6 while drifting,
            capped at 12).
        ahead: the mean weight over the following ``ahead_days`` days if nothing new happened
            (boosts expire on their own dates, the drift ends when it is due to).
        segment_propensity: the subscriber's own propensity before any boost.
        drifting: whether a drift is under way at the date.
    """

    customer_id: str
    weight: float
    ahead: float
    segment_propensity: float
    drifting: bool


def pick_weights(spec: WorldSpec, day: dt.date, ahead_days: int = 30) -> dict[str, PickWeight]:
    """Every subscriber active at the end of ``day`` -> their true pick weight, by customer id.

    Raises:
        InvalidArgumentError: ``day`` lies outside the simulated frame, or ``ahead_days`` < 1.
    """
    if ahead_days < 1:
        raise InvalidArgumentError(f"ahead_days must be at least 1, got {ahead_days}")
    state = WorldState(spec)
    if not state.start <= day <= state.horizon:
        raise InvalidArgumentError(f"{day} lies outside the simulated frame {state.start}..{state.horizon}")
    initial_population(state)
    simulate(state, days=(day - state.start).days + 1)
    at = day.toordinal()
    return {
        state.cust_id[i]: PickWeight(
            customer_id=state.cust_id[i],
            weight=state.weight(i, at + 1),
            ahead=sum(state.weight(i, at + k) for k in range(1, ahead_days + 1)) / ahead_days,
            segment_propensity=state.prop[i],
            drifting=at + 1 < state.drift_until[i],
        )
        for i in sorted(state.active)
    }
