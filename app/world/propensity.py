"""The generator's own view of who is likely to cancel: every active subscriber's true pick weight at
a date, for measuring how well any model could rank customers by risk (docs/health.md, "What limits
critical precision").

The weight is not in the tables (the drift a subscriber is in and how long it lasts live only in
the generator), so it is read from the world's fates (:mod:`app.world.fates`), which keep each
subscriber's propensity, incidents and drifts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.errors import InvalidArgumentError
from app.world.world import World

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


def pick_weights(world: World, day: dt.date, ahead_days: int = 30) -> dict[str, PickWeight]:
    """Every subscriber active at the end of ``day`` -> their true pick weight, by customer id.

    Raises:
        InvalidArgumentError: the world is not generated, ``day`` lies outside the simulated frame,
            or ``ahead_days`` < 1.
    """
    if ahead_days < 1:
        raise InvalidArgumentError(f"ahead_days must be at least 1, got {ahead_days}")
    if world.fates is None:
        raise InvalidArgumentError("only a generated world knows its subscribers' true weights")
    if not world.start <= day <= world.horizon:
        raise InvalidArgumentError(f"{day} lies outside the simulated frame {world.start}..{world.horizon}")
    at = day.toordinal()
    out = {}
    for cid, fate in sorted(world.fates.subscribers.items()):
        if fate.started > at or (fate.cancelled is not None and fate.cancelled <= at):
            continue
        known = fate.known_at(at)
        out[cid] = PickWeight(
            customer_id=cid,
            weight=known.weight(at + 1),
            ahead=sum(known.weight(at + k) for k in range(1, ahead_days + 1)) / ahead_days,
            segment_propensity=fate.propensity,
            drifting=at + 1 < known.drift_until(at + 1),
        )
    return out
