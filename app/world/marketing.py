"""Marketing: the ``marketing_daily`` row of each simulated day.

Spend is the day's expected arrivals x the persona's CAC x ``phase.cac``, visitors the expected
arrivals / the baseline conversion rate x ``phase.visitors``, each with a little noise; e-mail
deliverability is the phase's override or the baseline with noise (:mod:`app.world.generator`,
step 5). All draws come from the run's ``marketing`` stream.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from app.world.behaviour import BASELINE
from app.world.phases import Rates

if TYPE_CHECKING:
    from app.world.state import WorldState

__all__ = ["marketing_day"]


def marketing_day(state: WorldState, t: int, expected_arrivals: float, rates: Rates, rng: random.Random) -> None:
    """Append the ``marketing_daily`` row of day ``t``."""
    persona = state.persona
    spend = expected_arrivals * persona.cac_cents * rates.cac * (0.97 + 0.06 * rng.random())
    visitors = expected_arrivals / BASELINE.conversion_rate * rates.visitors * (0.95 + 0.1 * rng.random())
    deliverability = rates.deliverability
    if deliverability is None:
        deliverability = BASELINE.email_deliverability + 0.012 * (rng.random() - 0.5)
    state.marketing.append(
        {
            "day": state.dates[t],
            "spend_cents": round(spend),
            "visitors": round(visitors),
            "email_deliverability": round(min(1.0, deliverability), 4),
        }
    )
