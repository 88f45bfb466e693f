"""Customers and their subscriptions: who a subscriber is, and the population active at the start.

:func:`add_subscriber` writes a customer row and a subscription row (segment, plan, country, name
and e-mail drawn from the run's tables) and registers the subscriber in the parallel lists of
:class:`~app.world.state.WorldState`. :func:`initial_population` creates the subscribers active
just before ``start``, with their whole order history since ``started_on`` (see
:mod:`app.world.generator`, "Initial population"). Cancellations are in :mod:`app.world.churn`.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from itertools import accumulate
from typing import TYPE_CHECKING

from app.world.behaviour import SEGMENTS
from app.world.orders import CYCLE_DAYS, bill

if TYPE_CHECKING:
    from app.world.state import WorldState

__all__ = ["draw_profile", "next_plan", "add_subscriber", "initial_population"]

_MIN_TENURE_RATE = 0.0005


def draw_profile(state: WorldState, rng: random.Random, seg_weights: list[float] | None = None) -> tuple[int, float]:
    """A segment index (by ``seg_weights``, default the segment weights) and a jittered propensity."""
    cum = state.seg_cum if seg_weights is None else list(accumulate(seg_weights))
    k = bisect_right(cum, rng.random() * cum[-1])
    k = min(k, len(SEGMENTS) - 1)
    jitter = min(1.5, max(0.6, math.exp(0.25 * rng.gauss(0.0, 1.0))))
    return k, SEGMENTS[k].propensity * jitter


def next_plan(state: WorldState) -> int:
    """Plan of the next new subscriber: a smooth weighted round robin over plan weights."""
    acc = state.plan_acc
    best = 0
    for k, share in enumerate(state.plan_shares):
        acc[k] += share
        if acc[k] > acc[best]:
            best = k
    acc[best] -= 1.0
    return best


def add_subscriber(
    state: WorldState, rng: random.Random, started: int, seg: int, prop: float, plan_index: int = -1
) -> int:
    """A new subscriber who started on ordinal ``started``; a plan is drawn when ``plan_index < 0``."""
    i = len(state.cust_id)
    num = i + 1
    cid = f"C{num:06d}"
    if plan_index < 0:
        plan_index = min(bisect_right(state.plan_cum, rng.random() * state.plan_cum[-1]), len(state.plans) - 1)
    plan = state.plans[plan_index]
    country = state.countries[
        min(bisect_right(state.country_cum, rng.random() * state.country_cum[-1]), len(state.countries) - 1)
    ]
    f = int(rng.random() * len(state.firsts))
    la = int(rng.random() * len(state.lasts))
    domain = state.domains[int(rng.random() * len(state.domains))]
    day = state.date(started)
    state.customers.append(
        {
            "customer_id": cid,
            "merchant_id": state.persona.id,
            "name": f"{state.firsts[f]} {state.lasts[la]}",
            "email": f"{state.first_slugs[f]}.{state.last_slugs[la]}{num}@{domain}",
            "segment_hint": SEGMENTS[seg].hint,
            "created_on": day,
            "country": country,
        }
    )
    row = {
        "subscription_id": f"S{num:06d}",
        "customer_id": cid,
        "plan": plan.id,
        "monthly_price_cents": plan.monthly_price_cents,
        "started_on": day,
        "cancelled_on": None,
        "cancel_reason": None,
    }
    state.sub_rows.append(row)
    state.cust_id.append(cid)
    state.plan_name.append(plan.name)
    state.price.append(plan.monthly_price_cents)
    state.started.append(started)
    state.prop.append(prop)
    state.cancelled.append(False)
    state.last_fail.append(-(10**9))
    state.last_neg.append(-(10**9))
    state.last_neg_cat.append(-1)
    state.drift_until.append(0)
    state.pos.append(-1)
    return i


def initial_population(state: WorldState) -> None:
    """Subscribers active just before ``start``, their order history, and their first cycles to bill."""
    rng = state.rng["population"]
    baseline = state.spec.subscribers or state.persona.baseline_subscribers
    n0 = max(1, round(baseline / (1.0 + state.daily_growth) ** state.spec.history_days))
    h, g = state.base_hazard, state.daily_growth
    # Stationary segment mix among survivors: arrival weight x mean lifetime.
    mean_prop = 1.0
    for _ in range(20):
        mix = [s.weight / max(_MIN_TENURE_RATE, h * s.propensity / mean_prop + g) for s in SEGMENTS]
        total = sum(mix)
        mean_prop = sum(m * s.propensity for m, s in zip(mix, SEGMENTS, strict=True)) / total
    age_at_start = max(CYCLE_DAYS, state.stage.age_days - state.spec.history_days + 1)
    drafts = []
    for _ in range(n0):
        seg, prop = draw_profile(state, rng, mix)
        lam = max(_MIN_TENURE_RATE, h * prop / mean_prop + g)
        span = age_at_start - 1
        u = rng.random()
        tenure = 1 + int(-math.log(1.0 - u * (1.0 - math.exp(-lam * span))) / lam)
        drafts.append((state.start_ord - min(tenure, age_at_start), seg, prop))
    drafts.sort(key=lambda d: d[0])
    buckets: dict[int, list[int]] = {}
    for started, seg, prop in drafts:
        i = add_subscriber(state, rng, started, seg, prop)
        state.activate(i)
        buckets.setdefault(started, []).append(i)
    if not drafts:
        return
    # Order history before start, day by day so order ids are chronological.
    for ordinal in range(drafts[0][0], state.start_ord):
        due = buckets.pop(ordinal, None)
        if not due:
            continue
        rates = state.rates_at(state.as_of_ord - ordinal)
        for i in due:
            bill(state, i, ordinal, rates, first=ordinal == state.started[i])
            nxt = ordinal + CYCLE_DAYS
            if nxt < state.start_ord:
                buckets.setdefault(nxt, []).append(i)
            elif nxt - state.start_ord < state.n_days:
                state.schedule[nxt - state.start_ord].append(i)
