"""A generated world that responds to interventions, next to the world without them.

:func:`respond` applies retention actions to named subscribers from a day on and returns the
treated world together with every treated subscriber's true outcome against the untreated world
(the counterfactual: the same seed, the same rows).

How an action changes a subscriber's future (effect models: :mod:`app.world.effects`):

* **Cancellation, by thinning.** The subscriber's untreated cancellation on day ``c`` is an event
  of their individual hazard (:mod:`app.world.fates`). Treated, it still happens with probability
  ``m(c) = prod(1 - effect_k x fade_k(c - day_k))`` over the actions landed by ``c``; otherwise the
  subscriber is *saved* and lives on with their own daily hazard (the generator's weight rule, their
  incidents so far), each later event again kept with probability ``m(d)``, until one is kept or
  the horizon ends. Stronger effects keep at least the same subscribers at least as long.
* **Orders.** A box the subscriber would have skipped from the first action on is ordered instead
  with probability ``1 - prod(1 - order_effect_k x fade_k)``; a saved subscriber's extra billing
  cycles are drawn by the generator's own cycle rule (:func:`~app.world.orders.draw_cycle`):
  skips, failed payments, refunds and add-ons.

Every draw comes from random streams of the subscriber's own (seed, customer id, day), never from
the world's shared streams, and nothing else in the world reacts to a treated subscriber. So an
untreated subscriber's rows are identical in both worlds, and each treated subscriber's effect
(:class:`CustomerOutcome`) is exactly the difference between the two. What a saved subscriber does
not produce in the extra time: support tickets and engagement signals (the world's ticket and
drift streams never see them).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from app.errors import InvalidArgumentError
from app.models import SignalType
from app.world.effects import EffectModel, InterventionEffects, load_intervention_effects
from app.world.fates import Fates, SubscriberFate
from app.world.orders import CYCLE_DAYS, draw_cycle
from app.world.refunds import order_refund
from app.world.state import signal_strength
from app.world.world import Rows, World

__all__ = ["Intervention", "CustomerOutcome", "Response", "respond", "TreatedCustomer", "treat_customer", "skipped_boxes",
           "added_revenue"]


@dataclass(frozen=True)
class Intervention:
    """``action`` (a name in the effect models) lands on ``customer_id`` at the start of ``day``."""

    customer_id: str
    action: str
    day: dt.date


@dataclass(frozen=True)
class CustomerOutcome:
    """One treated subscriber, with and without the actions, over ``[first_day, horizon]``.

    Revenue is charged order amounts net of refunds in that window, in minor units.
    """

    customer_id: str
    first_day: dt.date
    actions: tuple[str, ...]
    cost_cents: int
    cancelled_without: dt.date | None
    cancelled_with: dt.date | None
    revenue_without_cents: int
    revenue_with_cents: int

    @property
    def kept(self) -> bool:
        """Would have cancelled by the horizon, and did not."""
        return self.cancelled_without is not None and self.cancelled_with is None

    @property
    def revenue_saved_cents(self) -> int:
        return self.revenue_with_cents - self.revenue_without_cents


@dataclass(frozen=True)
class Response:
    """The treated world and the true outcome of every treated subscriber."""

    world: World
    outcomes: dict[str, CustomerOutcome] = field(default_factory=dict)

    @property
    def revenue_saved_cents(self) -> int:
        return sum(o.revenue_saved_cents for o in self.outcomes.values())

    @property
    def customers_kept(self) -> int:
        return sum(o.kept for o in self.outcomes.values())

    @property
    def cost_cents(self) -> int:
        return sum(o.cost_cents for o in self.outcomes.values())


@dataclass(frozen=True)
class _Dose:
    day: int
    model: EffectModel
    churn: float
    order: float


def _multiplier(doses: list[_Dose], ordinal: int) -> float:
    """The chance an untreated cancellation event on ``ordinal`` still happens."""
    m = 1.0
    for d in doses:
        if d.day <= ordinal:
            m *= 1.0 - d.churn * d.model.fade(ordinal - d.day)
    return m


def _conversion(doses: list[_Dose], ordinal: int) -> float:
    """The chance a box skipped on ``ordinal`` is ordered instead."""
    keep = 1.0
    for d in doses:
        if d.day <= ordinal:
            keep *= 1.0 - d.order * d.model.fade(ordinal - d.day)
    return 1.0 - keep


@dataclass
class _Changes:
    """Rows the treated world adds or drops (ids are numbered when the tables are assembled)."""

    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    dropped_signals: set[str] = field(default_factory=set)


def respond(world: World, interventions: list[Intervention], effects: InterventionEffects | None = None) -> Response:
    """The world with ``interventions`` applied, and each treated subscriber's true outcome.

    Raises:
        InvalidArgumentError: the world keeps no fates (not generated) or is itself a treated world,
            an unknown customer or action, or a day outside the simulated days.
    """
    fates = world.fates
    if fates is None:
        raise InvalidArgumentError("only a generated world responds to interventions; this one has no fates")
    if world.interventions:  # its fates describe the untreated world: a second pass would apply twice
        raise InvalidArgumentError(
            "this world already has interventions applied; apply them all at once to the untreated world: "
            "respond(untreated, earlier + new)"
        )
    effects = effects or load_intervention_effects()
    by_customer: dict[str, list[Intervention]] = defaultdict(list)
    for iv in interventions:
        _check(fates, effects, iv)
        by_customer[iv.customer_id].append(iv)
    if not by_customer:
        return Response(world=world)
    index = skipped_boxes(world, set(by_customer))
    changes = _Changes()
    outcomes = {}
    for cid in sorted(by_customer):
        outcomes[cid] = _treat(fates, fates.subscriber(cid), _in_order(by_customer[cid]), effects, index[cid], changes)
    treated = replace(world, tables=_assemble(world.tables, changes), interventions=tuple(interventions))
    return Response(world=treated, outcomes=_with_revenue(outcomes, treated.tables, world.tables, world.horizon))


@dataclass(frozen=True)
class TreatedCustomer:
    """One subscriber under a plan of actions: the outcome (revenue not yet counted) and the rows the
    plan adds to or drops from the untreated world (the untreated rows themselves never change)."""

    outcome: CustomerOutcome
    orders: tuple[dict[str, Any], ...]
    """Added orders, without ids."""
    refunds: tuple[dict[str, Any], ...]
    """Added refunds, without ids; each names its added order under ``order``."""
    signals: tuple[dict[str, Any], ...]
    """Added signals, without ids."""
    dropped_signals: frozenset[str]
    """Ids of untreated skipped-box signals whose box was ordered instead."""
    subscription: dict[str, Any] | None
    """The change to the subscription row (a new or no cancellation), if any."""


def treat_customer(world: World, plan: list[Intervention], effects: InterventionEffects | None = None,
                   skips: list[dict[str, Any]] | None = None) -> TreatedCustomer:  # fmt: skip
    """One subscriber's rows under ``plan`` (actions for one customer), drawn exactly as
    :func:`respond` draws them, without assembling a world: the piece to use when customers are
    treated one at a time. ``skips``: their skipped-box signals (:func:`skipped_boxes`), if known.

    Raises:
        InvalidArgumentError: as :func:`respond`, or a plan that is empty or names two customers.
    """
    fates = world.fates
    if fates is None or world.interventions:
        raise InvalidArgumentError("treat_customer needs an untreated generated world (one with fates)")
    effects = effects or load_intervention_effects()
    if not plan or len({iv.customer_id for iv in plan}) != 1:
        raise InvalidArgumentError("a plan holds the actions of exactly one customer")
    for iv in plan:
        _check(fates, effects, iv)
    cid = plan[0].customer_id
    if skips is None:
        skips = skipped_boxes(world, {cid})[cid]
    changes = _Changes()
    outcome = _treat(fates, fates.subscriber(cid), _in_order(plan), effects, skips, changes)
    return TreatedCustomer(outcome, tuple(changes.orders), tuple(changes.refunds), tuple(changes.signals),
                           frozenset(changes.dropped_signals), changes.subscriptions.get(cid))  # fmt: skip


def added_revenue(t: TreatedCustomer, since: dt.date, until: dt.date) -> int:
    """What the added rows change in the customer's charged orders net of refunds in ``[since, until]``
    (the treated minus the untreated revenue: untreated rows are never removed)."""
    total = sum(o["amount_cents"] for o in t.orders
                if o["status"] in ("paid", "refunded") and since <= o["ordered_on"] <= until)  # fmt: skip
    return total - sum(r["amount_cents"] for r in t.refunds if since <= r["refunded_on"] <= until)


def _check(fates: Fates, effects: InterventionEffects, iv: Intervention) -> None:
    fates.subscriber(iv.customer_id)
    effects.get(iv.action)
    fates.day_index(iv.day.toordinal())


def _in_order(plan: list[Intervention]) -> list[Intervention]:
    return sorted(plan, key=lambda iv: (iv.day, iv.action))


def skipped_boxes(world: World, customers: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The customers' skipped-box signals in the untreated world, in date order."""
    tables = world.tables
    skips: dict[str, list[dict[str, Any]]] = {c: [] for c in customers}
    for s in tables["customer_signals"]:
        if s["customer_id"] in customers and s["signal_type"] == SignalType.skipped_box.value:
            skips[s["customer_id"]].append(s)
    return skips


def _treat(fates: Fates, fate: SubscriberFate, plan: list[Intervention], effects: InterventionEffects,
           skips: list[dict[str, Any]], changes: _Changes) -> CustomerOutcome:  # fmt: skip
    cid = fate.customer_id
    rng = random.Random(f"cjsim/{fates.seed}/response/{cid}")
    doses = []
    for iv in plan:
        model = effects.get(iv.action)
        # one draw per action from a stream of its own, whatever its size: stronger effects stay
        # coupled, and adding an action leaves every other draw (and a zero effect, everything) alone
        u = random.Random(f"cjsim/{fates.seed}/response/{cid}/dose/{iv.day.toordinal()}/{iv.action}").random()
        doses.append(_Dose(iv.day.toordinal(), model, model.personal(model.churn_effect[fate.segment], u),
                           model.personal(model.order_effect, u)))  # fmt: skip
    first = doses[0].day
    cancelled = fate.cancelled
    for s in skips:
        ordinal = s["detected_on"].toordinal()
        if ordinal >= first:
            draw = _cycle_rng(fates, cid, ordinal)
            if draw.random() < _conversion(doses, ordinal):
                changes.dropped_signals.add(s["signal_id"])
                _order(fates, fate, ordinal, draw, changes, first_cycle=True)
    horizon = fates.horizon.toordinal()
    new_cancel = cancelled
    if cancelled is not None and first <= cancelled <= horizon and rng.random() >= _multiplier(doses, cancelled):
        new_cancel = _saved_life(fates, fate, doses, rng, changes)
        # a later cancellation keeps the subscriber's own reason; none within the horizon clears it
        changes.subscriptions[cid] = (
            {"cancelled_on": None, "cancel_reason": None} if new_cancel is None
            else {"cancelled_on": dt.date.fromordinal(new_cancel)}
        )  # fmt: skip
    return CustomerOutcome(
        customer_id=cid,
        first_day=dt.date.fromordinal(first),
        actions=tuple(iv.action for iv in plan),
        cost_cents=round(sum(d.model.cost for d in doses) * 100),
        cancelled_without=_date(cancelled, horizon),
        cancelled_with=_date(new_cancel, horizon),
        revenue_without_cents=0,
        revenue_with_cents=0,
    )


def _saved_life(fates: Fates, fate: SubscriberFate, doses: list[_Dose], rng: random.Random,
                changes: _Changes) -> int | None:  # fmt: skip
    """Days after a prevented cancellation: billing cycles, and the next kept cancellation event."""
    failures: tuple[int, ...] = ()
    start = fate.cancelled
    assert start is not None
    for ordinal in range(start, fates.horizon.toordinal() + 1):
        if ordinal > start:  # cancellations come first in a day, as in the generator
            u, v = rng.random(), rng.random()  # always both: the stream stays aligned across effect sizes
            hazard = fates.hazard_scale(ordinal) * fate.weight(ordinal, failures)
            if u < hazard and v < _multiplier(doses, ordinal):
                return ordinal
        if ordinal > fate.started and (ordinal - fate.started) % CYCLE_DAYS == 0:
            if _order(fates, fate, ordinal, _cycle_rng(fates, fate.customer_id, ordinal), changes,
                      first_cycle=False, conversion=_conversion(doses, ordinal)) == "failed":  # fmt: skip
                failures += (ordinal,)
    return None


def _cycle_rng(fates: Fates, cid: str, ordinal: int) -> random.Random:
    return random.Random(f"cjsim/{fates.seed}/response/{cid}/{ordinal}")


def _order(fates: Fates, fate: SubscriberFate, ordinal: int, rng: random.Random, changes: _Changes,
           first_cycle: bool, conversion: float = 0.0) -> str | None:  # fmt: skip
    """One billing cycle of a treated subscriber (``first_cycle``: the box is ordered for sure)."""
    rates = fates.rates[fates.day_index(ordinal)]
    drifting = ordinal < fate.drift_until(ordinal)
    status, amount = draw_cycle(rng, fate.propensity, drifting, rates, fate.price_cents, first_cycle)
    if status is None and rng.random() < conversion:
        status, amount = draw_cycle(rng, fate.propensity, drifting, rates, fate.price_cents, True)
    day = dt.date.fromordinal(ordinal)
    if status is None or status == "failed":
        kind = SignalType.skipped_box if status is None else SignalType.failed_payment
        changes.signals.append({"customer_id": fate.customer_id, "signal_type": kind.value,
                                "strength": signal_strength(kind, rng), "detected_on": day})  # fmt: skip
        if status is None:
            return None
    order = {"customer_id": fate.customer_id, "subscription_id": fate.subscription_id, "ordered_on": day,
             "amount_cents": amount, "status": status}  # fmt: skip
    changes.orders.append(order)
    if status == "refunded":
        refunded_on, reason = order_refund(rng, day)
        changes.refunds.append({"order": order, "customer_id": fate.customer_id, "refunded_on": refunded_on,
                                "amount_cents": amount, "reason": reason})  # fmt: skip
    return status


def _date(ordinal: int | None, horizon: int) -> dt.date | None:
    return dt.date.fromordinal(ordinal) if ordinal is not None and ordinal <= horizon else None


def _assemble(base: Rows, changes: _Changes) -> Rows:
    """The treated tables: unchanged rows shared with ``base``, new rows numbered after its ids."""
    tables = dict(base)
    subs = []
    for r in base["subscriptions"]:
        change = changes.subscriptions.get(r["customer_id"])
        subs.append(r if change is None else {**r, **change})
    tables["subscriptions"] = subs
    orders = list(base["orders"])
    for k, o in enumerate(changes.orders, start=len(orders) + 1):
        o["order_id"] = f"O{k:07d}"
    orders.extend(changes.orders)
    tables["orders"] = sorted(orders, key=lambda o: o["ordered_on"])
    refunds = list(base["refunds"])
    for k, r in enumerate(changes.refunds, start=len(refunds) + 1):
        refunds.append({"refund_id": f"R{k:07d}", "order_id": r["order"]["order_id"], "customer_id": r["customer_id"],
                        "refunded_on": r["refunded_on"], "amount_cents": r["amount_cents"], "reason": r["reason"]})  # fmt: skip
    tables["refunds"] = sorted(refunds, key=lambda r: r["refunded_on"])
    signals = [s for s in base["customer_signals"] if s["signal_id"] not in changes.dropped_signals]
    for k, s in enumerate(changes.signals, start=len(base["customer_signals"]) + 1):
        signals.append({"signal_id": f"SG{k:06d}", **s})
    tables["customer_signals"] = sorted(signals, key=lambda s: s["detected_on"])
    return tables


def _revenue(tables: Rows, customers: set[str], since: dict[str, dt.date], until: dt.date) -> dict[str, int]:
    """Charged order amounts net of refunds per customer in ``[since[c], until]``."""
    total = dict.fromkeys(customers, 0)
    for o in tables["orders"]:
        c = o["customer_id"]
        if c in total and o["status"] in ("paid", "refunded") and since[c] <= o["ordered_on"] <= until:
            total[c] += o["amount_cents"]
    for r in tables["refunds"]:
        c = r["customer_id"]
        if c in total and since[c] <= r["refunded_on"] <= until:
            total[c] -= r["amount_cents"]
    return total


def _with_revenue(outcomes: dict[str, CustomerOutcome], treated: Rows, untreated: Rows,
                  horizon: dt.date) -> dict[str, CustomerOutcome]:  # fmt: skip
    since = {c: o.first_day for c, o in outcomes.items()}
    with_ = _revenue(treated, set(outcomes), since, horizon)
    without = _revenue(untreated, set(outcomes), since, horizon)
    return {c: replace(o, revenue_with_cents=with_[c], revenue_without_cents=without[c]) for c, o in outcomes.items()}
