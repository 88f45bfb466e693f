"""The state of one world-generation run, and the primitives every simulation step shares.

:class:`WorldState` is built from a :class:`~app.world.world.WorldSpec`: the simulated frame
(``start..horizon`` around ``as_of``), the phase rates of every day, the named ``random.Random``
streams derived from the seed, the Faker name pool of the seed, the persona's plan, country and
segment tables, the subscribers (parallel lists indexed by subscriber number - 1) and the rows
emitted so far. Its methods are the primitives the steps of :mod:`app.world.daily` share: dates
of ordinals, signals, the active set and the propensity-weighted pick of an active subscriber.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from functools import lru_cache
from itertools import accumulate
from typing import Any

from app.errors import InvalidArgumentError
from app.models import SignalType
from app.world.behaviour import BASELINE, SEGMENTS, SIGNAL_STRENGTHS
from app.world.context import context_effects
from app.world.phases import REASONS, Rates, phase_at_offset
from app.world.world import WorldSpec

__all__ = ["WorldState", "RECENT_DAYS", "pick_weight", "signal_strength"]

RECENT_DAYS = 30


def signal_strength(kind: SignalType, rng: random.Random) -> float:
    """A signal's recorded strength: uniform in the kind's range, 3 decimals."""
    lo, hi = SIGNAL_STRENGTHS[kind]
    return round(lo + (hi - lo) * rng.random(), 3)


def pick_weight(prop: float, last_fail: int, last_neg: int, drift_until: int, ordinal: int) -> float:
    """A subscriber's cancellation weight on ``ordinal``: propensity x recent incidents x drift.

    Relative to the active population's mean weight it is the subscriber's share of the day's
    expected cancellations (generator step 1), i.e. their individual daily hazard.
    """
    w = prop
    if ordinal - last_fail <= RECENT_DAYS:
        w *= BASELINE.recent_failure_boost
    if ordinal - last_neg <= RECENT_DAYS:
        w *= BASELINE.recent_complaint_boost
    if ordinal < drift_until:
        w *= BASELINE.drift_boost
    return min(w, BASELINE.weight_cap)


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


class WorldState:
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
        by_phase: dict[int | None, Rates] = {}

        def rates_at(offset: int) -> Rates:
            phase = phase_at_offset(phases, offset)
            key = None if phase is None else phases.index(phase)
            if key not in by_phase:
                by_phase[key] = Rates.of(phase)
            return by_phase[key]

        self.rates_at = rates_at
        self.rates = [rates_at(self.as_of_ord - (self.start_ord + t)) for t in range(self.n_days)]

        self.base_hazard = persona.monthly_churn * self.stage.churn_multiplier / 30.0
        self.daily_growth = self.stage.monthly_growth / 30.0
        self.ticket_rate = persona.tickets_per_100_subscribers / 100.0 / 30.0

        seed = spec.seed
        self.rng = {
            name: random.Random(f"cjsim/{seed}/{name}")
            for name in ("population", "churn", "arrivals", "orders", "tickets", "signals", "jitter", "marketing")
        }
        firsts, lasts, domains = _name_pool(seed)
        self.firsts = firsts
        self.lasts = lasts
        self.first_slugs = tuple(_slug(x) for x in firsts)
        self.last_slugs = tuple(_slug(x) for x in lasts)
        self.domains = domains

        self.plans = persona.plans
        self.plan_cum = list(accumulate(p.weight for p in persona.plans))
        self.plan_shares = [p.weight / self.plan_cum[-1] for p in persona.plans]
        self.plan_acc = [self.rng["arrivals"].random() for _ in persona.plans]
        self.countries = list(persona.countries)
        self.country_cum = list(accumulate(persona.countries.values()))
        self.seg_cum = list(accumulate(s.weight for s in SEGMENTS))
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
        self.drift_log: list[tuple[int, int, int]] = []  # (subscriber, start, until) of every drift
        self._date_cache: dict[int, dt.date] = {}
        self.reason_acc = [self.rng["churn"].random() for _ in REASONS]

    def date(self, ordinal: int) -> dt.date:
        t = ordinal - self.start_ord
        if 0 <= t < self.n_days:
            return self.dates[t]
        d = self._date_cache.get(ordinal)
        if d is None:
            d = self._date_cache[ordinal] = dt.date.fromordinal(ordinal)
        return d

    def signal(self, ordinal: int, i: int, kind: SignalType, rng: random.Random) -> None:
        self.signals.append((ordinal, self.cust_id[i], kind.value, signal_strength(kind, rng)))

    def _weight(self, i: int, ordinal: int) -> float:
        return pick_weight(self.prop[i], self.last_fail[i], self.last_neg[i], self.drift_until[i], ordinal)

    def pick(self, rng: random.Random, ordinal: int, weighted: bool) -> int:
        """A random active subscriber; propensity-weighted by rejection sampling if ``weighted``."""
        act = self.active
        n = len(act)
        wmax = self._weight_max
        while True:
            i = act[int(rng.random() * n)]
            if not weighted or rng.random() * wmax < self._weight(i, ordinal):
                return i

    def activate(self, i: int) -> None:
        self.pos[i] = len(self.active)
        self.active.append(i)

    def deactivate(self, i: int) -> None:
        act = self.active
        p = self.pos[i]
        last = act.pop()
        if last != i:
            act[p] = last
            self.pos[last] = p
        self.pos[i] = -1
