"""The synthetic world generator: a day-by-day simulation of one subscription business.

``generate_world(spec)`` turns a :class:`~app.world.world.WorldSpec` (scenario, persona, merchant
context, seed) into rows of every table of :mod:`app.storage.schema`. The same spec always yields
identical rows; another seed yields other customers, other picks and slightly different counts,
while the scenario's signature (its ``expected`` ranges) holds for every seed.

Frame
    ``as_of`` is the scenario's today, ``start = as_of - (history_days - 1)`` and
    ``horizon = as_of + horizon_days``. Days ``start..horizon`` are simulated, so the near future
    exists for clock advances; views filter by ``as_of`` themselves.

Initial population
    About ``baseline / (1 + g/30) ** history_days`` subscribers are active just before ``start``
    (``baseline`` is ``spec.subscribers`` or the persona's, ``g`` the business stage's monthly
    growth), so that steady operations end near the baseline at ``as_of``. Segments are drawn in
    their stationary mix (loyal customers are over-represented among survivors), tenures from a
    truncated exponential with rate ``own hazard + g/30``, capped by the business age. Their whole
    order history since ``started_on`` is generated, so lifetime revenue is real.

Each day (phase rules: the phase in force on a day is the last one whose ``starts_days_ago`` is
at least the day's distance from ``as_of``; no phase means baseline; after ``as_of`` the last
phase continues)
    1. Cancellations: ``hazard = monthly_churn / 30 x stage churn multiplier x phase.churn``,
       expected count ``hazard x active``. Who cancels is random, weighted by the subscriber's
       propensity (segment; x2.5 for 30 days after a failed payment; x1.8 after a complaint;
       x6 while drifting, see 5), capped at 12 so rejection sampling stays O(1) per pick.
       The reason is the subscriber's own story when there is one (a failed payment in the last
       45 days -> ``payment_failed`` 60% of the time; a recent shipping or quality complaint ->
       ``shipping_issues`` / ``product_quality`` 35%), otherwise the next pick of a smooth
       weighted round robin over baseline weights x ``phase.cancel_reasons``, so the reason mix
       of any window tracks the weights. A cancelling subscriber who was not drifting still
       shows an ``engagement_drop`` in the weeks before 75% of the time.
    2. Arrivals: ``active x (hazard + phase.net_growth / 30)`` when the phase sets a net growth,
       else ``phase.acquisition x active x (baseline hazard + g / 30)``. A new subscriber gets a
       customer row, a subscription and a first order the same day; plans follow the plan
       weights by a smooth weighted round robin (the initial population draws them at random).
    3. Orders: every active subscription bills every 30 days after ``started_on``. A cycle is
       skipped (no order, ``skipped_box`` signal) with 5% x phase.skips (x3 while drifting,
       scaled by propensity), fails (status ``failed``,
       ``failed_payment`` signal) with 2% x phase.failed_payments, else is paid (1% later
       refunded, 8% with an add-on). Refunds: :mod:`app.world.refunds` (refunded orders in full,
       some shipping and fulfillment complaints in part), from a stream of their own.
    4. Tickets, per category: ``active x tickets_per_100/100/30 x category share x
       phase.ticket_volume x phase.ticket_mix[category]``. Complaints come from high-propensity
       subscribers. First response after a log-normal time with median ``first_response_hours x
       phase.first_response x stress strain`` (faster for urgent tickets); resolution later; a few
       never resolve; ~45% of resolved tickets are rated 1-5 around ``csat + phase.csat_shift``
       (lower for negative tickets and slow responses). Negative tickets emit a signal.
    5. Drift: ``active x 6.5%/30 x phase.churn`` subscribers a day start drifting away (picked by
       propensity). A drift lasts 30-90 days unless the subscriber cancels first; it emits an
       ``engagement_drop`` at once and up to three more over the next 5-40 days. Drifting
       subscribers are the likeliest to cancel, so the views' risk score (at-risk = risk >= 0.6,
       i.e. about three drops, or drops plus a skip or failed payment) anticipates churn: about
       5% of actives are at risk in steady operations, clearly more under a churn spike. Plus
       sparse background drops, and one ``marketing_daily`` row: spend = expected arrivals x CAC
       x phase.cac, visitors = expected arrivals / 2.5% x phase.visitors.

Counts are low-variance by design: each expected count gets a seed-dependent daily jitter of
+-8% and is emitted by error diffusion (running remainder, floor), so a 30-day total lands within
about one unit of its expectation and scenario signatures hold for every seed. Every random draw
comes from a named ``random.Random`` stream derived from the seed (no global state); names come
from a Faker instance seeded with the seed.

Modules
    :mod:`app.world.phases` (phase rule, per-day rates), :mod:`app.world.state` (frame, random
    streams, subscribers, shared primitives), :mod:`app.world.population` (customers,
    subscriptions, initial population), :mod:`app.world.daily` (the loop),
    :mod:`app.world.churn` (steps 1 and 5), :mod:`app.world.orders` (step 3),
    :mod:`app.world.tickets` (step 4), :mod:`app.world.marketing` (the marketing row). This
    module runs them and assembles the tables; :mod:`app.world.propensity` re-runs them up to a
    date to read every subscriber's true pick weight there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.world.daily import simulate
from app.world.fates import fates_of
from app.world.phases import phase_in_force
from app.world.population import initial_population
from app.world.refunds import refund_rows
from app.world.state import WorldState
from app.world.world import World, WorldSpec

__all__ = ["generate_world", "phase_in_force"]


def generate_world(spec: WorldSpec) -> World:
    """Generate every table of the world described by ``spec``.

    Raises:
        InvalidArgumentError: a spec field is out of range.

    Example:
        >>> from app.models import MerchantContext
        >>> from app.scenarios import get_persona, get_scenario
        >>> spec = WorldSpec(get_scenario("churn_spike"), get_persona("marcus_thompson"), MerchantContext())
        >>> world = generate_world(spec)
        >>> len(world.tables["merchants"])
        1
    """
    state = WorldState(spec)
    initial_population(state)
    simulate(state)
    return _assemble(state)


def _assemble(state: WorldState) -> World:
    """The world of a simulated run: signal and timeline rows numbered, every table in place."""
    state.signals.sort(key=lambda s: s[0])
    signals = [
        {
            "signal_id": f"SG{k:06d}",
            "customer_id": cid,
            "signal_type": kind,
            "strength": strength,
            "detected_on": state.date(ordinal),
        }
        for k, (ordinal, cid, kind, strength) in enumerate(state.signals, start=1)
    ]
    events = sorted(state.scenario.timeline, key=lambda e: e.day)
    timeline = [
        {
            "event_id": f"E{k:04d}",
            "day": state.as_of + dt.timedelta(days=e.day),
            "kind": e.kind,
            "title": e.title,
            "impact": e.impact,
        }
        for k, e in enumerate(events, start=1)
    ]
    persona = state.persona
    tables: dict[str, list[dict[str, Any]]] = {
        "merchants": [
            {
                "merchant_id": persona.id,
                "name": persona.display_name,
                "business_name": persona.business_name,
                "business_type": persona.business_type,
                "currency": "USD",
            }
        ],
        "customers": state.customers,
        "subscriptions": state.sub_rows,
        "orders": state.orders,
        "refunds": refund_rows(state.spec.seed, state.orders, state.tickets),
        "support_tickets": state.tickets,
        "marketing_daily": state.marketing,
        "customer_signals": signals,
        "timeline_events": timeline,
    }
    return World(spec=state.spec, start=state.start, as_of=state.as_of, horizon=state.horizon, tables=tables,
                 fates=fates_of(state))  # fmt: skip
