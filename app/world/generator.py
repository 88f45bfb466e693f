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
       refunded, 8% with an add-on).
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
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Any

from app.errors import InvalidArgumentError
from app.models import CancelReason, Phase, Scenario, SignalType, TicketCategory
from app.world.behaviour import (
    BASELINE,
    CANCEL_REASON_WEIGHTS,
    CATEGORY_PROFILES,
    SEGMENTS,
    SIGNAL_STRENGTHS,
)
from app.world.context import context_effects
from app.world.vocabulary import subject_for
from app.world.world import World, WorldSpec

__all__ = ["generate_world", "phase_in_force"]

_CATEGORIES: tuple[TicketCategory, ...] = tuple(TicketCategory)
_REASONS: tuple[CancelReason, ...] = tuple(CancelReason)
_CAT_INDEX = {c: k for k, c in enumerate(_CATEGORIES)}
_SHIPPING_CATS = {_CAT_INDEX[TicketCategory.shipping_delay], _CAT_INDEX[TicketCategory.fulfillment]}
_QUALITY_CAT = _CAT_INDEX[TicketCategory.product_quality]

_CYCLE_DAYS = 30
_RECENT_DAYS = 30
_REASON_MEMORY_DAYS = 45
_MIN_TENURE_RATE = 0.0005
_PRIORITY_SPEED = {"urgent": 0.4, "high": 0.7, "normal": 1.0, "low": 1.3}
_HOUR_POOL = tuple([7] + [8, 9, 10, 11, 12, 13, 14, 15, 16] * 3 + [17, 18, 19, 20] * 2 + [21, 22, 23])
_SENTIMENT_CSAT = {"negative": -0.35, "neutral": 0.15, "positive": 0.4}


def phase_in_force(scenario: Scenario, day: dt.date) -> Phase | None:
    """The scenario phase in force on ``day`` (``None`` = baseline, all multipliers 1).

    It is the last phase whose ``starts_days_ago`` is at least ``(as_of - day).days``; days after
    ``as_of`` keep the last phase.

    Example:
        >>> from app.scenarios import get_scenario
        >>> s = get_scenario("steady_operations")
        >>> phase_in_force(s, s.as_of) is None or phase_in_force(s, s.as_of).churn > 0
        True
    """
    return _phase_at_offset(scenario.modifiers.phases, (scenario.as_of - day).days)


def _phase_at_offset(phases: list[Phase], offset: int) -> Phase | None:
    found = None
    for phase in phases:
        if phase.starts_days_ago >= offset:
            found = phase
    return found


@dataclass(frozen=True)
class _Rates:
    """The phase multipliers of one day, flattened for the inner loop."""

    churn: float
    net_growth: float | None
    acquisition: float
    cac: float
    ticket_volume: float
    ticket_mix: tuple[float, ...]
    first_response: float
    csat_shift: float
    reason_weights: tuple[float, ...]
    failed_payments: float
    skips: float
    visitors: float
    deliverability: float | None

    @classmethod
    def of(cls, phase: Phase | None) -> _Rates:
        p = phase or Phase(starts_days_ago=0)
        return cls(
            churn=p.churn,
            net_growth=p.net_growth,
            acquisition=1.0 if p.acquisition is None else p.acquisition,
            cac=p.cac,
            ticket_volume=p.ticket_volume,
            ticket_mix=tuple(p.ticket_mix.get(c, 1.0) for c in _CATEGORIES),
            first_response=p.first_response,
            csat_shift=p.csat_shift,
            reason_weights=tuple(CANCEL_REASON_WEIGHTS[r] * p.cancel_reasons.get(r, 1.0) for r in _REASONS),
            failed_payments=p.failed_payments,
            skips=p.skips,
            visitors=p.visitors,
            deliverability=p.email_deliverability,
        )


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


@lru_cache(maxsize=32)
def _name_pool(seed: int) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """First names, last names and e-mail domains drawn from Faker seeded with ``seed``."""
    from faker import Faker  # imported lazily: Faker's import is the slowest part of a small world

    fake = Faker("en_US")
    fake.seed_instance(seed)
    firsts = tuple(fake.first_name() for _ in range(300))
    lasts = tuple(fake.last_name() for _ in range(300))
    domains = tuple(dict.fromkeys(fake.free_email_domain() for _ in range(40)))
    return firsts, lasts, domains


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower()) or "x"


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
    return _Simulation(spec).run()


class _Simulation:
    """State of one generation run. Subscribers are indices into parallel lists."""

    def __init__(self, spec: WorldSpec) -> None:
        if spec.history_days < 1:
            raise InvalidArgumentError(f"history_days must be at least 1, got {spec.history_days}")
        if spec.horizon_days < 0:
            raise InvalidArgumentError(f"horizon_days must be 0 or more, got {spec.horizon_days}")
        if spec.subscribers is not None and spec.subscribers < 1:
            raise InvalidArgumentError(f"subscribers must be at least 1, got {spec.subscribers}")
        self.spec = spec
        self.persona = persona = spec.persona
        self.scenario = spec.scenario
        effects = context_effects(spec.context)
        self.stage, self.stress = effects.stage, effects.stress

        self.as_of = spec.scenario.as_of
        self.start = self.as_of - dt.timedelta(days=spec.history_days - 1)
        self.horizon = self.as_of + dt.timedelta(days=spec.horizon_days)
        self.start_ord = self.start.toordinal()
        self.as_of_ord = self.as_of.toordinal()
        self.n_days = spec.history_days + spec.horizon_days
        self.dates = [self.start + dt.timedelta(days=t) for t in range(self.n_days)]
        self.horizon_end = dt.datetime.combine(self.horizon + dt.timedelta(days=1), dt.time())

        phases = spec.scenario.modifiers.phases
        by_phase: dict[int | None, _Rates] = {}

        def rates_at(offset: int) -> _Rates:
            phase = _phase_at_offset(phases, offset)
            key = None if phase is None else phases.index(phase)
            if key not in by_phase:
                by_phase[key] = _Rates.of(phase)
            return by_phase[key]

        self._rates_at = rates_at
        self.rates = [rates_at(self.as_of_ord - (self.start_ord + t)) for t in range(self.n_days)]

        self.base_hazard = persona.monthly_churn * self.stage.churn_multiplier / 30.0
        self.daily_growth = self.stage.monthly_growth / 30.0
        self.ticket_rate = persona.tickets_per_100_subscribers / 100.0 / 30.0

        seed = spec.seed
        self._rng = {
            name: random.Random(f"cjsim/{seed}/{name}")
            for name in ("population", "churn", "arrivals", "orders", "tickets", "signals", "jitter", "marketing")
        }
        firsts, lasts, domains = _name_pool(seed)
        self._firsts = firsts
        self._lasts = lasts
        self._first_slugs = tuple(_slug(x) for x in firsts)
        self._last_slugs = tuple(_slug(x) for x in lasts)
        self._domains = domains

        self._plans = persona.plans
        self._plan_cum = list(accumulate(p.weight for p in persona.plans))
        self._plan_shares = [p.weight / self._plan_cum[-1] for p in persona.plans]
        self._plan_acc = [self._rng["arrivals"].random() for _ in persona.plans]
        self._countries = list(persona.countries)
        self._country_cum = list(accumulate(persona.countries.values()))
        self._seg_cum = list(accumulate(s.weight for s in SEGMENTS))
        self._weight_max = BASELINE.weight_cap

        # Subscriber state (parallel lists, index = subscriber number - 1).
        self.cust_id: list[str] = []
        self.plan_name: list[str] = []
        self.price: list[int] = []
        self.started: list[int] = []
        self.prop: list[float] = []
        self.cancelled: list[bool] = []
        self.last_fail: list[int] = []
        self.last_neg: list[int] = []
        self.last_neg_cat: list[int] = []
        self.drift_until: list[int] = []
        self.sub_rows: list[dict[str, Any]] = []
        self.active: list[int] = []
        self.pos: list[int] = []
        self.schedule: list[list[int]] = [[] for _ in range(self.n_days)]
        self.followups: list[list[int]] = [[] for _ in range(self.n_days)]

        self.customers: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.tickets: list[dict[str, Any]] = []
        self.marketing: list[dict[str, Any]] = []
        self.signals: list[tuple[int, str, str, float]] = []
        self._date_cache: dict[int, dt.date] = {}
        self._reason_acc = [self._rng["churn"].random() for _ in _REASONS]

    # ------------------------------------------------------------------ helpers

    def _date(self, ordinal: int) -> dt.date:
        t = ordinal - self.start_ord
        if 0 <= t < self.n_days:
            return self.dates[t]
        d = self._date_cache.get(ordinal)
        if d is None:
            d = self._date_cache[ordinal] = dt.date.fromordinal(ordinal)
        return d

    def _signal(self, ordinal: int, i: int, kind: SignalType, rng: random.Random) -> None:
        lo, hi = SIGNAL_STRENGTHS[kind]
        self.signals.append((ordinal, self.cust_id[i], kind.value, round(lo + (hi - lo) * rng.random(), 3)))

    def _jitter(self) -> float:
        j = BASELINE.count_jitter
        return 1.0 + j * (2.0 * self._rng["jitter"].random() - 1.0)

    def _weight(self, i: int, ordinal: int) -> float:
        w = self.prop[i]
        if ordinal - self.last_fail[i] <= _RECENT_DAYS:
            w *= BASELINE.recent_failure_boost
        if ordinal - self.last_neg[i] <= _RECENT_DAYS:
            w *= BASELINE.recent_complaint_boost
        if ordinal < self.drift_until[i]:
            w *= BASELINE.drift_boost
        return min(w, BASELINE.weight_cap)

    def _pick(self, rng: random.Random, ordinal: int, weighted: bool) -> int:
        """A random active subscriber; propensity-weighted by rejection sampling if ``weighted``."""
        act = self.active
        n = len(act)
        wmax = self._weight_max
        while True:
            i = act[int(rng.random() * n)]
            if not weighted or rng.random() * wmax < self._weight(i, ordinal):
                return i

    def _draw_profile(self, rng: random.Random, seg_weights: list[float] | None = None) -> tuple[int, float]:
        cum = self._seg_cum if seg_weights is None else list(accumulate(seg_weights))
        k = bisect_right(cum, rng.random() * cum[-1])
        k = min(k, len(SEGMENTS) - 1)
        jitter = min(1.5, max(0.6, math.exp(0.25 * rng.gauss(0.0, 1.0))))
        return k, SEGMENTS[k].propensity * jitter

    def _next_plan(self) -> int:
        """Plan of the next new subscriber: a smooth weighted round robin over plan weights."""
        acc = self._plan_acc
        best = 0
        for k, share in enumerate(self._plan_shares):
            acc[k] += share
            if acc[k] > acc[best]:
                best = k
        acc[best] -= 1.0
        return best

    def _add_subscriber(self, rng: random.Random, started: int, seg: int, prop: float, plan_index: int = -1) -> int:
        i = len(self.cust_id)
        num = i + 1
        cid = f"C{num:06d}"
        if plan_index < 0:
            plan_index = min(bisect_right(self._plan_cum, rng.random() * self._plan_cum[-1]), len(self._plans) - 1)
        plan = self._plans[plan_index]
        country = self._countries[
            min(bisect_right(self._country_cum, rng.random() * self._country_cum[-1]), len(self._countries) - 1)
        ]
        f = int(rng.random() * len(self._firsts))
        la = int(rng.random() * len(self._lasts))
        domain = self._domains[int(rng.random() * len(self._domains))]
        day = self._date(started)
        self.customers.append(
            {
                "customer_id": cid,
                "merchant_id": self.persona.id,
                "name": f"{self._firsts[f]} {self._lasts[la]}",
                "email": f"{self._first_slugs[f]}.{self._last_slugs[la]}{num}@{domain}",
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
        self.sub_rows.append(row)
        self.cust_id.append(cid)
        self.plan_name.append(plan.name)
        self.price.append(plan.monthly_price_cents)
        self.started.append(started)
        self.prop.append(prop)
        self.cancelled.append(False)
        self.last_fail.append(-(10**9))
        self.last_neg.append(-(10**9))
        self.last_neg_cat.append(-1)
        self.drift_until.append(0)
        self.pos.append(-1)
        return i

    def _activate(self, i: int) -> None:
        self.pos[i] = len(self.active)
        self.active.append(i)

    def _deactivate(self, i: int) -> None:
        act = self.active
        p = self.pos[i]
        last = act.pop()
        if last != i:
            act[p] = last
            self.pos[last] = p
        self.pos[i] = -1

    # ------------------------------------------------------------------ orders

    def _bill(self, i: int, ordinal: int, rates: _Rates, first: bool) -> None:
        """One billing cycle of subscriber ``i``: a paid/failed/refunded order or a skip."""
        rng = self._rng["orders"]
        prop = self.prop[i]
        skip = BASELINE.skip_rate * (0.5 + 0.5 * prop) * rates.skips
        if ordinal < self.drift_until[i]:
            skip *= BASELINE.drift_skip_boost
        if not first and rng.random() < skip:
            self._signal(ordinal, i, SignalType.skipped_box, rng)
            return
        price = self.price[i]
        amount = price
        if not first and rng.random() < BASELINE.failed_payment_rate * rates.failed_payments * (0.7 + 0.3 * prop):
            status = "failed"
            self.last_fail[i] = ordinal
            self._signal(ordinal, i, SignalType.failed_payment, rng)
        else:
            status = "refunded" if rng.random() < BASELINE.refund_rate else "paid"
            if rng.random() < BASELINE.addon_rate:
                amount += int(price * (0.2, 0.3, 0.5)[int(rng.random() * 3)])
        self.orders.append(
            {
                "order_id": f"O{len(self.orders) + 1:07d}",
                "customer_id": self.cust_id[i],
                "subscription_id": self.sub_rows[i]["subscription_id"],
                "ordered_on": self._date(ordinal),
                "amount_cents": amount,
                "status": status,
            }
        )

    # ------------------------------------------------------------------ initial population

    def _initial_population(self) -> None:
        rng = self._rng["population"]
        baseline = self.spec.subscribers or self.persona.baseline_subscribers
        n0 = max(1, round(baseline / (1.0 + self.daily_growth) ** self.spec.history_days))
        h, g = self.base_hazard, self.daily_growth
        # Stationary segment mix among survivors: arrival weight x mean lifetime.
        mean_prop = 1.0
        for _ in range(20):
            mix = [s.weight / max(_MIN_TENURE_RATE, h * s.propensity / mean_prop + g) for s in SEGMENTS]
            total = sum(mix)
            mean_prop = sum(m * s.propensity for m, s in zip(mix, SEGMENTS)) / total
        age_at_start = max(_CYCLE_DAYS, self.stage.age_days - self.spec.history_days + 1)
        drafts = []
        for _ in range(n0):
            seg, prop = self._draw_profile(rng, mix)
            lam = max(_MIN_TENURE_RATE, h * prop / mean_prop + g)
            span = age_at_start - 1
            u = rng.random()
            tenure = 1 + int(-math.log(1.0 - u * (1.0 - math.exp(-lam * span))) / lam)
            drafts.append((self.start_ord - min(tenure, age_at_start), seg, prop))
        drafts.sort(key=lambda d: d[0])
        buckets: dict[int, list[int]] = {}
        for started, seg, prop in drafts:
            i = self._add_subscriber(rng, started, seg, prop)
            self._activate(i)
            buckets.setdefault(started, []).append(i)
        if not drafts:
            return
        # Order history before start, day by day so order ids are chronological.
        for ordinal in range(drafts[0][0], self.start_ord):
            due = buckets.pop(ordinal, None)
            if not due:
                continue
            rates = self._rates_at(self.as_of_ord - ordinal)
            for i in due:
                self._bill(i, ordinal, rates, first=ordinal == self.started[i])
                nxt = ordinal + _CYCLE_DAYS
                if nxt < self.start_ord:
                    buckets.setdefault(nxt, []).append(i)
                elif nxt - self.start_ord < self.n_days:
                    self.schedule[nxt - self.start_ord].append(i)

    # ------------------------------------------------------------------ daily steps

    def _cancel(self, i: int, ordinal: int, rates: _Rates) -> None:
        rng = self._rng["churn"]
        reason = self._personal_reason(i, ordinal, rng)
        if reason is None:
            reason = self._quota_reason(rates)
        row = self.sub_rows[i]
        row["cancelled_on"] = self._date(ordinal)
        row["cancel_reason"] = reason.value
        self.cancelled[i] = True
        self._deactivate(i)
        srng = self._rng["signals"]
        if self.drift_until[i] <= ordinal and srng.random() < BASELINE.pre_churn_signal:
            day = ordinal - 6 - int(srng.random() * 30)
            if day >= self.started[i]:
                self._signal(day, i, SignalType.engagement_drop, srng)

    def _start_drift(self, i: int, t: int, rng: random.Random) -> None:
        """Subscriber ``i`` starts drifting away: signals now and over the next weeks."""
        ordinal = self.start_ord + t
        lo, hi = BASELINE.drift_days
        self.drift_until[i] = ordinal + rng.randint(lo, hi)
        self._signal(ordinal, i, SignalType.engagement_drop, rng)
        for lo, hi in BASELINE.drift_followups:
            due = t + rng.randint(lo, hi)
            if due < self.n_days:
                self.followups[due].append(i)

    def _personal_reason(self, i: int, ordinal: int, rng: random.Random) -> CancelReason | None:
        """The subscriber's own story, if it decides the reason: a failed payment or a complaint."""
        if ordinal - self.last_fail[i] <= _REASON_MEMORY_DAYS and rng.random() < 0.6:
            return CancelReason.payment_failed
        if ordinal - self.last_neg[i] <= _REASON_MEMORY_DAYS:
            cat = self.last_neg_cat[i]
            if cat in _SHIPPING_CATS and rng.random() < 0.35:
                return CancelReason.shipping_issues
            if cat == _QUALITY_CAT and rng.random() < 0.35:
                return CancelReason.product_quality
        return None

    def _quota_reason(self, rates: _Rates) -> CancelReason:
        """Next reason of a smooth weighted round robin over the phase's reason weights.

        Each reason accrues its weight share per cancellation and the one furthest ahead is
        taken, so reason counts over any window track the weights within about one.
        """
        acc = self._reason_acc
        weights = rates.reason_weights
        total = sum(weights)
        best = 0
        for k, w in enumerate(weights):
            acc[k] += w / total
            if acc[k] > acc[best]:
                best = k
        acc[best] -= 1.0
        return _REASONS[best]

    def _ticket(self, i: int, t: int, cat: int, rates: _Rates, rng: random.Random) -> dict[str, Any]:
        category = _CATEGORIES[cat]
        prof = CATEGORY_PROFILES[category]
        persona = self.persona
        strain = self.stress.support_strain
        ordinal = self.start_ord + t
        day = self.dates[t]
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
        first_response: dt.datetime | None = created + dt.timedelta(seconds=int(hours * 3600) + 60)
        resolved: dt.datetime | None = None
        if rng.random() >= min(0.2, BASELINE.unresolved_share * rates.first_response):
            res_hours = (
                BASELINE.resolution_hours
                * math.sqrt(rates.first_response)
                * strain
                * math.exp(sigma * rng.gauss(0.0, 1.0))
            )
            resolved = first_response + dt.timedelta(seconds=int(res_hours * 3600) + 60)
        rating = None
        if first_response >= self.horizon_end:
            first_response = resolved = None
        elif resolved is not None and resolved >= self.horizon_end:
            resolved = None
        if resolved is not None and rng.random() < BASELINE.rated_share:
            slow = max(0.0, math.log2(hours / persona.first_response_hours)) if hours > 0 else 0.0
            mean = (
                persona.csat
                + rates.csat_shift
                + self.stress.csat_shift
                + _SENTIMENT_CSAT[sentiment]
                - 0.2 * slow
            )
            p = (min(5.0, max(1.0, mean)) - 1.0) / 4.0
            rating = 1 + sum(rng.random() < p for _ in range(4))
        status = "resolved" if resolved is not None else "pending" if first_response is not None else "open"

        if sentiment == "negative":
            self.last_neg[i] = ordinal
            self.last_neg_cat[i] = cat
            self._signal(ordinal, i, SignalType.negative_ticket, rng)
        product = persona.products[int(rng.random() * len(persona.products))]
        subject = subject_for(category, int(rng.random() * 64), product, self.plan_name[i], 2 + int(rng.random() * 6))
        return {
            "ticket_id": "",
            "customer_id": self.cust_id[i],
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

    def _simulate(self) -> None:
        persona = self.persona
        r_churn, r_arr, r_tix, r_sig, r_mkt = (
            self._rng[k] for k in ("churn", "arrivals", "tickets", "signals", "marketing")
        )
        d_cancel = _Diffuser(r_churn)
        d_arrive = _Diffuser(r_arr)
        d_cats = [_Diffuser(r_tix) for _ in _CATEGORIES]
        d_engage = _Diffuser(r_sig)
        d_drift = _Diffuser(r_sig)
        shares = [CATEGORY_PROFILES[c].share for c in _CATEGORIES]
        risky = [CATEGORY_PROFILES[c].targets_risky for c in _CATEGORIES]
        baseline_arrival_rate = max(0.0, self.base_hazard + self.daily_growth)

        for t in range(self.n_days):
            ordinal = self.start_ord + t
            rates = self.rates[t]
            n_active = len(self.active)
            hazard = self.base_hazard * rates.churn

            # 1. cancellations (before arrivals: nobody cancels on their first day)
            n_cancel = min(n_active, d_cancel.emit(hazard * n_active * self._jitter()))
            for _ in range(n_cancel):
                self._cancel(self._pick(r_churn, ordinal, weighted=True), ordinal, rates)

            # 2. arrivals
            if rates.net_growth is not None:
                expected_arrivals = n_active * max(0.0, hazard + rates.net_growth / 30.0)
            else:
                expected_arrivals = n_active * baseline_arrival_rate * rates.acquisition
            expected_arrivals *= self._jitter()
            for _ in range(d_arrive.emit(expected_arrivals)):
                seg, prop = self._draw_profile(r_arr)
                i = self._add_subscriber(r_arr, ordinal, seg, prop, self._next_plan())
                self._activate(i)
                self._bill(i, ordinal, rates, first=True)
                if t + _CYCLE_DAYS < self.n_days:
                    self.schedule[t + _CYCLE_DAYS].append(i)

            # 3. renewals
            for i in self.schedule[t]:
                if self.cancelled[i]:
                    continue
                self._bill(i, ordinal, rates, first=False)
                if t + _CYCLE_DAYS < self.n_days:
                    self.schedule[t + _CYCLE_DAYS].append(i)
            self.schedule[t] = []

            # 4. tickets
            n_active = len(self.active)
            day_tickets = []
            if n_active:
                base = n_active * self.ticket_rate * rates.ticket_volume
                for c in range(len(_CATEGORIES)):
                    n = d_cats[c].emit(base * shares[c] * rates.ticket_mix[c] * self._jitter())
                    for _ in range(n):
                        i = self._pick(r_tix, ordinal, weighted=risky[c])
                        day_tickets.append(self._ticket(i, t, c, rates, r_tix))
            day_tickets.sort(key=lambda r: r["created_at"])
            for row in day_tickets:
                row["ticket_id"] = f"T{len(self.tickets) + 1:06d}"
                self.tickets.append(row)

            # 5. drifting subscribers, background engagement drops, marketing
            for i in self.followups[t]:
                if not self.cancelled[i] and ordinal < self.drift_until[i]:
                    self._signal(ordinal, i, SignalType.engagement_drop, r_sig)
            self.followups[t] = []
            if n_active:
                for _ in range(d_drift.emit(n_active * BASELINE.drift_rate / 30.0 * rates.churn * self._jitter())):
                    i = self._pick(r_sig, ordinal, weighted=True)
                    if ordinal >= self.drift_until[i]:
                        self._start_drift(i, t, r_sig)
                for _ in range(d_engage.emit(n_active * BASELINE.engagement_drop_rate / 30.0)):
                    self._signal(ordinal, self._pick(r_sig, ordinal, weighted=True), SignalType.engagement_drop, r_sig)
            spend = expected_arrivals * persona.cac_cents * rates.cac * (0.97 + 0.06 * r_mkt.random())
            visitors = expected_arrivals / BASELINE.conversion_rate * rates.visitors * (0.95 + 0.1 * r_mkt.random())
            deliverability = rates.deliverability
            if deliverability is None:
                deliverability = BASELINE.email_deliverability + 0.012 * (r_mkt.random() - 0.5)
            self.marketing.append(
                {
                    "day": self.dates[t],
                    "spend_cents": int(round(spend)),
                    "visitors": int(round(visitors)),
                    "email_deliverability": round(min(1.0, deliverability), 4),
                }
            )

    # ------------------------------------------------------------------ assembly

    def run(self) -> World:
        self._initial_population()
        self._simulate()
        self.signals.sort(key=lambda s: s[0])
        signals = [
            {
                "signal_id": f"SG{k:06d}",
                "customer_id": cid,
                "signal_type": kind,
                "strength": strength,
                "detected_on": self._date(ordinal),
            }
            for k, (ordinal, cid, kind, strength) in enumerate(self.signals, start=1)
        ]
        events = sorted(self.scenario.timeline, key=lambda e: e.day)
        timeline = [
            {
                "event_id": f"E{k:04d}",
                "day": self.as_of + dt.timedelta(days=e.day),
                "kind": e.kind,
                "title": e.title,
                "impact": e.impact,
            }
            for k, e in enumerate(events, start=1)
        ]
        persona = self.persona
        tables: dict[str, list[dict[str, Any]]] = {
            "merchants": [
                {
                    "merchant_id": persona.id,
                    "name": persona.display_name,
                    "business_name": persona.business_name,
                    "business_type": persona.business_type,
                }
            ],
            "customers": self.customers,
            "subscriptions": self.sub_rows,
            "orders": self.orders,
            "support_tickets": self.tickets,
            "marketing_daily": self.marketing,
            "customer_signals": signals,
            "timeline_events": timeline,
        }
        return World(spec=self.spec, start=self.start, as_of=self.as_of, horizon=self.horizon, tables=tables)
