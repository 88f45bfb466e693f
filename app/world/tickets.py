"""Support tickets: one ticket row of a subscriber, from its creation to its rating.

:func:`ticket` draws the creation time, sentiment, priority, first response and resolution times
and the CSAT rating of one ticket of a category, under the day's phase rates and the merchant's
support strain (:mod:`app.world.generator`, step 4). A negative ticket records the complaint on
the subscriber and emits a ``negative_ticket`` signal. The daily loop numbers the rows.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import TYPE_CHECKING, Any

from app.models import SignalType
from app.world.behaviour import BASELINE, CATEGORY_PROFILES
from app.world.phases import CATEGORIES, Rates
from app.world.vocabulary import subject_for

if TYPE_CHECKING:
    from app.world.state import WorldState

__all__ = ["ticket"]

_PRIORITY_SPEED = {"urgent": 0.4, "high": 0.7, "normal": 1.0, "low": 1.3}
_HOUR_POOL = tuple([7] + [8, 9, 10, 11, 12, 13, 14, 15, 16] * 3 + [17, 18, 19, 20] * 2 + [21, 22, 23])
_SENTIMENT_CSAT = {"negative": -0.35, "neutral": 0.15, "positive": 0.4}


def ticket(state: WorldState, i: int, t: int, cat: int, rates: Rates, rng: random.Random) -> dict[str, Any]:
    """A ticket of category ``CATEGORIES[cat]`` filed by subscriber ``i`` on day ``t``; ``ticket_id`` is left empty."""
    category = CATEGORIES[cat]
    prof = CATEGORY_PROFILES[category]
    persona = state.persona
    strain = state.stress.support_strain
    ordinal = state.start_ord + t
    day = state.dates[t]
    created = dt.datetime(day.year, day.month, day.day, _HOUR_POOL[int(rng.random() * len(_HOUR_POOL))])
    created += dt.timedelta(seconds=int(rng.random() * 3600))

    distress = max(0.0, -rates.csat_shift)
    p_neg = min(0.95, prof.negative * (1.0 + 0.6 * distress))
    p_pos = prof.positive / (1.0 + 2.0 * distress)
    u = rng.random()
    sentiment = "negative" if u < p_neg else "positive" if u < p_neg + p_pos else "neutral"

    pressure = math.sqrt(max(1.0, rates.first_response))
    p_urgent = BASELINE.urgent_share * strain * pressure * prof.priority_bias
    p_high = BASELINE.high_share * prof.priority_bias
    p_low = BASELINE.low_share / prof.priority_bias
    u = rng.random()
    if u < p_urgent:
        priority = "urgent"
    elif u < p_urgent + p_high:
        priority = "high"
    elif u < p_urgent + p_high + p_low:
        priority = "low"
    else:
        priority = "normal"

    sigma = BASELINE.response_sigma
    base_hours = persona.first_response_hours * rates.first_response * strain
    hours = base_hours * _PRIORITY_SPEED[priority] * math.exp(sigma * rng.gauss(0.0, 1.0))
    responded = created + dt.timedelta(seconds=int(hours * 3600) + 60)
    first_response: dt.datetime | None = responded
    resolved: dt.datetime | None = None
    if rng.random() >= min(0.2, BASELINE.unresolved_share * rates.first_response):
        res_hours = (
            BASELINE.resolution_hours * math.sqrt(rates.first_response) * strain * math.exp(sigma * rng.gauss(0.0, 1.0))
        )
        resolved = responded + dt.timedelta(seconds=int(res_hours * 3600) + 60)
    rating = None
    if responded >= state.horizon_end:
        first_response = resolved = None
    elif resolved is not None and resolved >= state.horizon_end:
        resolved = None
    if resolved is not None and rng.random() < BASELINE.rated_share:
        slow = max(0.0, math.log2(hours / persona.first_response_hours)) if hours > 0 else 0.0
        mean = persona.csat + rates.csat_shift + state.stress.csat_shift + _SENTIMENT_CSAT[sentiment] - 0.2 * slow
        p = (min(5.0, max(1.0, mean)) - 1.0) / 4.0
        rating = 1 + sum(rng.random() < p for _ in range(4))
    status = "resolved" if resolved is not None else "pending" if first_response is not None else "open"

    if sentiment == "negative":
        state.last_neg[i] = ordinal
        state.last_neg_cat[i] = cat
        state.signal(ordinal, i, SignalType.negative_ticket, rng)
    product = persona.products[int(rng.random() * len(persona.products))]
    subject = subject_for(category, int(rng.random() * 64), product, state.plan_name[i], 2 + int(rng.random() * 6))
    return {
        "ticket_id": "",
        "customer_id": state.cust_id[i],
        "created_at": created,
        "category": category.value,
        "priority": priority,
        "status": status,
        "subject": subject,
        "sentiment": sentiment,
        "first_response_at": first_response,
        "resolved_at": resolved,
        "csat_rating": rating,
    }
