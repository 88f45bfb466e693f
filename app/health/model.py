"""The health model: five components in [0, 1] from a customer's inputs, the overall score, the risk
factors and opportunities with their evidence (docs/health.md gives every formula).

Each component is a pure function of :class:`~app.health.inputs.HealthInputs` and the settings, and
returns ``None`` when the data it needs does not exist (never 0): a customer of a shop without
tickets has no support component. Components are rounded to 4 decimals before they are combined, so
a score recomputed from stored components is the same number.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from app.health.inputs import HealthInputs, SourceCoverage
from app.health.settings import COMPONENTS, HealthSettings

__all__ = ["Factor", "CustomerHealth", "score_customer", "combine", "usage", "engagement", "support",
           "financial", "relationship", "Scorer"]  # fmt: skip


@dataclass(frozen=True)
class Factor:
    """A named risk factor or opportunity, the component it belongs to and its evidence."""

    name: str
    component: str
    evidence: str
    count: int = 1


@dataclass
class CustomerHealth:
    """One customer's health at ``day``."""

    customer_id: str
    day: dt.date
    components: dict[str, float | None]
    overall: float
    confidence: float
    risk: float
    tenure_days: int | None
    risk_factors: list[Factor] = field(default_factory=list)
    opportunities: list[Factor] = field(default_factory=list)

    def available(self) -> dict[str, float]:
        return {k: v for k, v in self.components.items() if v is not None}


def _r4(x: float) -> float:
    return round(max(0.0, min(1.0, x)), 4)


def usage(inp: HealthInputs, s: HealthSettings, cov: SourceCoverage) -> tuple[float | None, list[Factor]]:
    """Recency of the last charged order blended with the delivered share of billing cycles.

    ``recency`` is 1 up to ``active_days``, 0 from ``lapsed_days``, linear between; the delivered share
    is ``delivered / (delivered + skipped)`` over the window (only where skips are recorded, i.e. the
    source has signals). Unavailable without any order and any skip.
    """
    u = s.usage
    if inp.last_order_on is None and inp.skipped == 0:
        return None, []
    factors: list[Factor] = []
    if inp.last_order_on is None:
        recency = 0.0
    else:
        age = (inp.day - inp.last_order_on).days
        recency = 1.0 if age <= u.active_days else max(0.0, 1.0 - (age - u.active_days) / (u.lapsed_days - u.active_days))
        if recency < 1.0:
            factors.append(Factor("lapsed_orders", "usage", f"last order {age} days ago ({inp.last_order_on})"))
    cycles = inp.delivered + inp.skipped
    if not cov.signals or cycles == 0:
        return _r4(recency), factors
    share = inp.delivered / cycles
    if inp.skipped:
        factors.append(Factor("skipped_box", "usage", f"{inp.skipped} of {cycles} boxes skipped in the last "
                              f"{u.window_days} days", inp.skipped))  # fmt: skip
    return _r4(u.recency_share * recency + (1 - u.recency_share) * share), factors


def engagement(inp: HealthInputs, s: HealthSettings, cov: SourceCoverage) -> tuple[float | None, list[Factor]]:
    """How fresh a drift away is: the window's first engagement drop (the onset) multiplies 1 by
    ``1 - onset_weight x fade x intensity`` and every later drop by ``1 - later_weight x fade x
    intensity``, where ``fade = 0.5^(age / half_life_days)`` and ``intensity = 1 - strength_share +
    strength_share x strength``; 1 without drops. Unavailable when the source records no signals.

    Why the onset weighs most: measured against the worlds' futures, a drift that began days ago
    predicts a cancellation far better than one the customer has lived with for weeks without
    leaving (docs/health.md, "Accuracy")."""
    if not cov.signals:
        return None, []
    e = s.engagement
    value = 1.0
    for i, (when, strength) in enumerate(inp.drops):
        fade = 0.5 ** ((inp.day - when).days / e.half_life_days)
        weight = e.onset_weight if i == 0 else e.later_weight
        value *= 1.0 - weight * fade * (1.0 - e.strength_share + e.strength_share * max(0.0, min(1.0, strength)))
    factors = []
    if inp.drops:
        onset, latest = inp.drops[0][0], inp.drops[-1][0]
        strongest = max(st for _, st in inp.drops)
        factors.append(Factor("engagement_drop", "engagement", f"{len(inp.drops)} engagement drop(s) in the last "
                              f"{e.window_days} days (first {onset}, latest {latest}, strongest {strongest:.2f})",
                              len(inp.drops)))  # fmt: skip
    return _r4(value), factors


def support(inp: HealthInputs, s: HealthSettings, cov: SourceCoverage) -> tuple[float | None, list[Factor]]:
    """Each ticket of the window multiplies 1 by ``(1 - penalty)`` per trouble it shows: negative
    sentiment, unresolved at the date, a low CSAT rating, a slow (or still missing) first response.
    A negative ticket older than ``recent_days`` counts ``stale_share`` of its penalty. 1 without
    tickets; unavailable when the source has no tickets at all.

    Why recency: a complaint raises the chance of leaving for about a month (in the generated
    worlds, x1.8 for 30 days); an older one says less (docs/health.md, "Accuracy")."""
    if not cov.tickets:
        return None, []
    r = s.support
    counts = {"negative_ticket": 0, "unresolved_ticket": 0, "low_csat": 0, "slow_response": 0}
    value = 1.0
    for t in inp.tickets:
        recent = (inp.day - t.created_at.date()).days < r.recent_days
        hits = {
            "negative_ticket": (t.sentiment == "negative", r.negative * (1.0 if recent else r.stale_share)),
            "unresolved_ticket": (not t.resolved, r.unresolved),
            "low_csat": (t.csat is not None and t.csat <= r.low_csat_rating, r.low_csat),
            "slow_response": (t.response_hours is not None and t.response_hours > r.slow_response_hours, r.slow_response),
        }
        for name, (hit, penalty) in hits.items():
            if hit:
                counts[name] += 1
                value *= 1.0 - penalty
    n = len(inp.tickets)
    what = {
        "negative_ticket": "negative",
        "unresolved_ticket": "unresolved",
        "low_csat": f"rated {r.low_csat_rating} or lower",
        "slow_response": f"waited over {r.slow_response_hours:g} h for a first response",
    }
    factors = [Factor(name, "support", f"{k} of {n} ticket(s) in the last {r.window_days} days {what[name]}", k)
               for name, k in counts.items() if k]  # fmt: skip
    return _r4(value), factors


def financial(inp: HealthInputs, s: HealthSettings, cov: SourceCoverage) -> tuple[float | None, list[Factor]]:
    """``(1 - failed_payment)^recent x (1 - stale_share x failed_payment)^older x (1 - refund)^refunds``
    over the window, where ``recent`` counts the failed payments younger than ``recent_days`` and
    ``older`` the rest; unavailable for a customer without any charged order or failed payment.

    Why recency: a failed payment raises the chance of leaving for about a month (in the generated
    worlds, x2.5 for 30 days)."""
    if inp.last_order_on is None and inp.failed_payments == 0:
        return None, []
    f = s.financial
    recent = min(inp.recent_failed_payments, inp.failed_payments)
    value = ((1.0 - f.failed_payment) ** recent * (1.0 - f.stale_share * f.failed_payment) ** (inp.failed_payments - recent)
             * (1.0 - f.refund) ** inp.refunds)  # fmt: skip
    factors = []
    if inp.failed_payments:
        factors.append(Factor("failed_payment", "financial", f"{inp.failed_payments} failed payment(s) in the last "
                              f"{f.window_days} days", inp.failed_payments))  # fmt: skip
    if inp.refunds:
        factors.append(Factor("refund", "financial", f"{inp.refunds} refund(s) in the last {f.window_days} days",
                              inp.refunds))  # fmt: skip
    return _r4(value), factors


def tenure(inp: HealthInputs) -> int | None:
    """Days since the first subscription started (None without subscriptions)."""
    return (inp.day - inp.subscriptions[0].started_on).days if inp.subscriptions else None


def relationship(inp: HealthInputs, s: HealthSettings, cov: SourceCoverage) -> tuple[float | None, list[Factor]]:
    """Tenure credit ``floor + (1 - floor) x min(1, tenure / full_tenure_days)``, times
    ``(1 - downgrade)`` when the current plan is cheaper than an earlier one and
    ``(1 - earlier_cancellation)`` when an earlier subscription was cancelled. Unavailable without
    subscriptions (every customer of an orders-only shop)."""
    days = tenure(inp)
    if days is None:
        return None, []
    r = s.relationship
    value = r.floor + (1.0 - r.floor) * min(1.0, days / r.full_tenure_days)
    factors = []
    active = inp.active_subscriptions()
    current = active[-1] if active else inp.subscriptions[-1]
    earlier = [x for x in inp.subscriptions if x.started_on < current.started_on]
    if earlier and current.price_cents < max(x.price_cents for x in earlier):
        value *= 1.0 - r.downgrade
        top = max(earlier, key=lambda x: x.price_cents)
        factors.append(Factor("downgrade", "relationship", f"moved from {top.plan} to the cheaper {current.plan} "
                              f"on {current.started_on}"))  # fmt: skip
    cancelled = [x for x in inp.subscriptions if x.cancelled_on is not None and x.cancelled_on <= inp.day]
    if cancelled:
        value *= 1.0 - r.earlier_cancellation
        factors.append(Factor("earlier_cancellation", "relationship", f"cancelled before on {cancelled[-1].cancelled_on}"
                              f" and came back", len(cancelled)))  # fmt: skip
    if days < 30:
        factors.append(Factor("new_customer", "relationship", f"subscribed {days} days ago"))
    return _r4(value), factors


Part = tuple[float | None, list[Factor]]
"""A component's value (None: unavailable) and the risk factors it found."""
ComponentFunction = Callable[[HealthInputs, HealthSettings, SourceCoverage], Part]

_COMPONENT_FUNCTIONS: dict[str, ComponentFunction] = {
    "usage": usage,
    "engagement": engagement,
    "support": support,
    "financial": financial,
    "relationship": relationship,
}


def _ticket_key(inp: HealthInputs, s: HealthSettings) -> tuple:
    """Per ticket, oldest first, what :func:`support` reads of it: its troubles and whether it is recent."""
    if not inp.tickets:
        return ()
    r, day = s.support, inp.day
    return tuple([(t.sentiment == "negative", t.resolved, t.csat is not None and t.csat <= r.low_csat_rating,
                   t.response_hours is not None and t.response_hours > r.slow_response_hours,
                   (day - t.created_at.date()).days < r.recent_days) for t in inp.tickets])  # fmt: skip


_COMPONENT_KEYS: dict[str, Callable[[HealthInputs, HealthSettings], Hashable]] = {
    "usage": lambda inp, s: (inp.day, inp.last_order_on, inp.delivered, inp.skipped),
    "engagement": lambda inp, s: (inp.day, tuple(inp.drops)),
    "support": _ticket_key,
    "financial": lambda inp, s: (inp.last_order_on is None, inp.failed_payments, inp.recent_failed_payments, inp.refunds),
    "relationship": lambda inp, s: (inp.day, tuple(inp.subscriptions)),
}
"""Everything each component function reads of the inputs (with the settings): customers with equal
keys get the same component and factors, so :class:`Scorer` computes them once. A key holds what
the function reads, not more - a ticket's troubles and recency rather than its rating, response
time and age - so customers whose inputs differ only where the function does not look share it."""


def combine(components: dict[str, float | None], s: HealthSettings) -> tuple[float, float]:
    """(overall, confidence) of rounded components: the settings' weighted mean of the available ones
    and their share of the total weight. Without any available component: (1.0, 0.0) - nothing says
    the customer is unhealthy, and the confidence says how little that means.

    In a geometric or harmonic mean a component below ``component_floor`` counts as the floor: one
    component at 0 would otherwise make the overall exactly 0 whatever the others say, tying every
    such customer at risk 1. With a floor of 0 a zero component still gives overall 0."""
    return _weighted([(s.weights.of(k), v) for k, v in components.items() if v is not None], s.weights.total, s)


def _weighted(avail: list[tuple[float, float]], total: float, s: HealthSettings) -> tuple[float, float]:
    """:func:`combine` of the available (weight, component) pairs, the weights summing to ``total`` over
    every component."""
    weight = sum(w for w, _ in avail)
    confidence = round(weight / total, 4)
    if not avail:
        return 1.0, confidence
    if s.mean == "arithmetic":
        overall = sum(w * v for w, v in avail) / weight
        return _r4(overall), confidence
    avail = [(w, max(v, s.component_floor)) for w, v in avail]
    if any(v <= 0 for _, v in avail):
        overall = 0.0  # a geometric or harmonic mean with a zero component (and no floor) is zero
    elif s.mean == "geometric":
        overall = math.exp(sum(w * math.log(v) for w, v in avail) / weight)
    else:
        overall = weight / sum(w / v for w, v in avail)
    return _r4(overall), confidence


def _opportunities(h: CustomerHealth, inp: HealthInputs, s: HealthSettings, entry_price: int | None) -> list[Factor]:
    out = []
    full = s.relationship.full_tenure_days
    if h.tenure_days is not None and h.tenure_days >= full and not h.risk_factors:
        out.append(Factor("loyal_subscriber", "relationship", f"subscribed {h.tenure_days} days with no risk factor"))
    if entry_price is None or h.overall < s.alerts.upsell.min_overall:
        return out
    active = inp.active_subscriptions()
    if active and active[-1].price_cents <= entry_price:
        out.append(Factor("on_entry_plan", "usage", f"healthy ({h.overall:.2f}) on the entry plan {active[-1].plan}"))
    return out


def score_customer(
    inp: HealthInputs, s: HealthSettings, cov: SourceCoverage, entry_price: int | None = None
) -> CustomerHealth:
    """The customer's components, overall score, confidence, risk, factors and opportunities.

    Args:
        entry_price: the cheapest plan price among the day's active subscriptions, when a pricier
            plan exists (the ``on_entry_plan`` opportunity); None otherwise.
    """
    return Scorer(s, cov, entry_price).score(inp)


class Scorer:
    """Scores the customers of one population (:func:`score_customer` for each), computing each
    component once per distinct input (``_COMPONENT_KEYS``) and each combination once per distinct
    set of components: most customers share their counts, dates and plans with many others.

    Example:
        >>> from app.health.settings import load_health_settings
        >>> inp = HealthInputs("c1", dt.date(2025, 6, 30), last_order_on=dt.date(2025, 6, 20), delivered=3)
        >>> h = Scorer(load_health_settings(), SourceCoverage(signals=True, tickets=True, subscriptions=True)).score(inp)
        >>> h.components["usage"], h.components["relationship"]
        (1.0, None)
    """

    def __init__(self, s: HealthSettings, cov: SourceCoverage, entry_price: int | None = None) -> None:
        self.s, self.cov, self.entry_price = s, cov, entry_price
        self._parts: list[tuple[str, Callable[[HealthInputs, HealthSettings], Hashable], ComponentFunction,
                                dict[Hashable, Part]]] = [
            (name, _COMPONENT_KEYS[name], _COMPONENT_FUNCTIONS[name], {}) for name in COMPONENTS
        ]
        self._key_of = tuple(key_of for _, key_of, _, _ in self._parts)
        self._weights = tuple(s.weights.of(c) for c in COMPONENTS)
        self._total = s.weights.total
        self._combined: dict[tuple[float | None, ...], tuple[float, float, float]] = {}  # overall, confidence, risk

    def key(self, inp: HealthInputs) -> tuple[Hashable, ...]:
        """Everything :meth:`score` reads of ``inp`` but the customer's id and the day: the key of each
        component (``_COMPONENT_KEYS``). Customers of one date with equal keys have the same health but
        for their ids, so a caller scoring many can score one customer per distinct key."""
        s = self.s
        return tuple([key_of(inp, s) for key_of in self._key_of])

    def risk(self, inp: HealthInputs, key: tuple[Hashable, ...] | None = None) -> float:
        """Only the risk :meth:`score` gives (no factors, opportunities or health object): what a
        caller reading nothing else of many customers needs."""
        s, cov = self.s, self.cov
        values = []
        for (_, _, compute, known), part_key in zip(self._parts, key or self.key(inp), strict=True):
            part = known.get(part_key)
            if part is None:
                part = known[part_key] = compute(inp, s, cov)
            values.append(part[0])
        return self._combine(tuple(values))[2]

    def _combine(self, values: tuple[float | None, ...]) -> tuple[float, float, float]:
        """(overall, confidence, risk) of the components in ``COMPONENTS`` order, once per distinct set."""
        combined = self._combined.get(values)
        if combined is None:
            avail = [(w, v) for w, v in zip(self._weights, values, strict=True) if v is not None]
            overall, confidence = _weighted(avail, self._total, self.s)
            combined = self._combined[values] = (overall, confidence, round(1.0 - overall, 4))
        return combined

    def score(self, inp: HealthInputs, key: tuple[Hashable, ...] | None = None) -> CustomerHealth:
        """One customer's health (see :func:`score_customer`); ``key``: its :meth:`key`, when known."""
        s, cov = self.s, self.cov
        components: dict[str, float | None] = {}
        factors: list[Factor] = []
        for (name, _, compute, known), part_key in zip(self._parts, key or self.key(inp), strict=True):
            part = known.get(part_key)
            if part is None:
                part = known[part_key] = compute(inp, s, cov)
            components[name] = part[0]
            if part[1]:
                factors += part[1]
        combined = self._combine(tuple(components.values()))
        if len(factors) > 1:
            weakest = {k: v for k, v in components.items() if v is not None}
            factors.sort(key=lambda f: (weakest.get(f.component, 1.0), COMPONENTS.index(f.component), f.name))
        # positional: (customer_id, day, components, overall, confidence, risk, tenure_days, risk_factors)
        h = CustomerHealth(inp.customer_id, inp.day, components, *combined, tenure(inp), factors)
        h.opportunities = _opportunities(h, inp, s, self.entry_price)
        return h
