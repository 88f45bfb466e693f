"""A target population's potential outcomes in one generated world.

For every subscriber the intervention targets, both outcomes over the window are computed exactly:
*untreated* from the generated world itself and *treated* from
:func:`~app.world.response.treat_customer` (the customer's own random streams; nobody else moves).
Only the target population is re-simulated, once per world, and of it only the customers the action
can change within the window (a cancellation or a skipped box in it); each randomisation of an
experiment then just picks which of the two outcomes it observes, and the true effect is their
difference.

Outcomes per customer over ``[start, end]`` (the window, ``horizon_days`` long from the start day):

* ``retained``: still subscribed at the end of the window (1) or cancelled in it (0);
* ``converted``: at least one charged order in the window;
* ``revenue_cents``: charged orders net of refunds in the window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

from app.datafiles import data_dir, load_model_once
from app.errors import InvalidArgumentError, UnknownNameError
from app.experiments.spec import InterventionSpec
from app.models import MerchantContext, Persona, Scenario, SignalType
from app.world.effects import InterventionEffects
from app.world.generator import generate_world
from app.world.response import Intervention, added_revenue, skipped_boxes, treat_customer
from app.world.world import World, WorldSpec

__all__ = ["METRICS", "FEATURES", "WorldKey", "PotentialOutcomes", "world_for", "world_horizon_days", "potential_outcomes"]

METRICS = ("retained", "converted", "revenue_cents")
"""The outcomes measured per customer."""

FEATURES = ("tenure_days", "price_cents", "orders_90d", "days_since_order", "failed_payments_90d",
            "skipped_boxes_90d", "tickets_90d", "negative_tickets_90d", "engagement_drops_30d")  # fmt: skip
"""Numeric features known at the start day (segments are added one-hot by the uplift learners)."""

_CHARGED = ("paid", "refunded")
_T = TypeVar("_T", Scenario, Persona)


@dataclass(frozen=True, order=True)
class WorldKey:
    """One generated world of an experiment: scenario, persona (merchant) and seed."""

    scenario: str
    persona: str
    seed: int

    def label(self) -> str:
        """``scenario/persona/seed``."""
        return f"{self.scenario}/{self.persona}/{self.seed}"


@dataclass(frozen=True)
class PotentialOutcomes:
    """Both outcomes of every target customer of one world (parallel tuples, customer id order)."""

    world: WorldKey
    start: dt.date
    end: dt.date
    customer_ids: tuple[str, ...]
    segments: tuple[str, ...]
    untreated: dict[str, tuple[int, ...]]
    """Metric -> each customer's outcome without the action."""
    treated: dict[str, tuple[int, ...]]
    """Metric -> each customer's outcome with the action (landed on ``start``)."""
    features: tuple[tuple[float, ...], ...] = field(default=())
    """Per customer, :data:`FEATURES` at the start day (empty unless asked for)."""

    @property
    def size(self) -> int:
        """How many customers the target holds."""
        return len(self.customer_ids)

    def effects(self, metric: str) -> list[int]:
        """Each customer's true individual effect on ``metric`` (treated minus untreated)."""
        return [a - b for a, b in zip(self.treated[metric], self.untreated[metric], strict=True)]


def _named(kind: str, folder: str, name: str, model: type[_T]) -> _T:
    # Read from the data folder directly, not through the catalog: the catalog checks the registry,
    # whose simulate_intervention action imports this package.
    path = data_dir() / folder / f"{name}.yaml"
    if not path.is_file():
        raise UnknownNameError(kind, name, sorted(p.stem for p in (data_dir() / folder).glob("*.yaml")))
    return load_model_once(path, model)


@lru_cache(maxsize=8)
def world_for(key: WorldKey, horizon_days: int = 30) -> World:
    """The generated world of ``key`` (the last few remembered), simulated ``horizon_days`` past its today."""
    scenario = _named("scenario", "scenarios", key.scenario, Scenario)
    persona = _named("persona", "merchants", key.persona, Persona)
    spec = WorldSpec(scenario, persona, MerchantContext(), seed=key.seed, horizon_days=horizon_days)
    return generate_world(spec)


def world_horizon_days(spec: InterventionSpec) -> int:
    """How far past its today a world must run for the spec's window (at least the default 30)."""
    return max(30, spec.start_offset_days + spec.horizon_days - 1)


def potential_outcomes(key: WorldKey, spec: InterventionSpec, effects: InterventionEffects, *,
                       with_features: bool = False, world: World | None = None) -> PotentialOutcomes:  # fmt: skip
    """Both outcomes of every customer ``spec`` targets in the world of ``key``.

    Raises:
        InvalidArgumentError: the start day falls outside the world's days, or nobody is targeted.
    """
    world = world or world_for(key, world_horizon_days(spec))
    fates = world.fates
    assert fates is not None  # a generated world keeps its fates
    start = world.as_of + dt.timedelta(days=spec.start_offset_days)
    end = start + dt.timedelta(days=spec.horizon_days - 1)
    if start <= world.start or end > world.horizon:
        raise InvalidArgumentError(f"the window {start}..{end} is outside the world's days {world.start}..{world.horizon}; "
                                   "change --start-offset or --horizon")  # fmt: skip
    s0, e0 = start.toordinal(), end.toordinal()
    wanted = set(spec.segments)
    target = sorted(
        (f for f in fates.subscribers.values()
         if (not wanted or f.segment in wanted) and f.started < s0 and (f.cancelled is None or f.cancelled >= s0)),
        key=lambda f: f.customer_id,
    )  # fmt: skip
    if not target:
        raise InvalidArgumentError(f"no active subscriber of {', '.join(spec.segments) or 'any segment'} at {start} "
                                   f"in {key.label()}; widen the target")  # fmt: skip
    ids = {f.customer_id for f in target}
    revenue, converted = _window_revenue(world, ids, start, end)
    skips = skipped_boxes(world, ids)
    untreated: dict[str, list[int]] = {m: [] for m in METRICS}
    treated: dict[str, list[int]] = {m: [] for m in METRICS}
    for f in target:
        cid = f.customer_id
        kept0 = f.cancelled is None or f.cancelled > e0
        untreated["retained"].append(int(kept0))
        untreated["converted"].append(int(cid in converted))
        untreated["revenue_cents"].append(revenue[cid])
        if kept0 and not any(start <= s["detected_on"] <= end for s in skips[cid]):
            # Untouched within the window, exactly: an action can only prevent a cancellation (this
            # one's is after the window) and turn a skipped box into an order on its day (none in the
            # window); a saved life's orders and a converted box's refund come later still.
            for m in METRICS:
                treated[m].append(untreated[m][-1])
            continue
        t = treat_customer(world, [Intervention(cid, spec.action, start)], effects, skips[cid])
        added = any(o["status"] in _CHARGED and start <= o["ordered_on"] <= end for o in t.orders)
        treated["retained"].append(int(t.outcome.cancelled_with is None or t.outcome.cancelled_with > end))
        treated["converted"].append(int(cid in converted or added))
        treated["revenue_cents"].append(revenue[cid] + added_revenue(t, start, end))
    features = _features(world, target, start) if with_features else ()
    return PotentialOutcomes(
        world=key, start=start, end=end, customer_ids=tuple(f.customer_id for f in target),
        segments=tuple(f.segment for f in target), untreated={m: tuple(v) for m, v in untreated.items()},
        treated={m: tuple(v) for m, v in treated.items()}, features=features,
    )  # fmt: skip


def _window_revenue(world: World, ids: set[str], start: dt.date, end: dt.date) -> tuple[dict[str, int], set[str]]:
    revenue = dict.fromkeys(ids, 0)
    converted = set()
    for o in world.tables["orders"]:
        c = o["customer_id"]
        if c in revenue and o["status"] in _CHARGED and start <= o["ordered_on"] <= end:
            revenue[c] += o["amount_cents"]
            converted.add(c)
    for r in world.tables["refunds"]:
        c = r["customer_id"]
        if c in revenue and start <= r["refunded_on"] <= end:
            revenue[c] -= r["amount_cents"]
    return revenue, converted


def _features(world: World, target: list, start: dt.date) -> tuple[tuple[float, ...], ...]:
    """:data:`FEATURES` of each target customer from the rows dated before ``start``."""
    ids = {f.customer_id for f in target}
    since90, since30 = start - dt.timedelta(days=90), start - dt.timedelta(days=30)
    counts: dict[str, dict[str, float]] = {c: dict.fromkeys(FEATURES, 0.0) for c in ids}
    last_order: dict[str, dt.date] = {}
    for o in world.tables["orders"]:
        c, day = o["customer_id"], o["ordered_on"]
        if c in counts and day < start and o["status"] in _CHARGED:
            last_order[c] = max(day, last_order.get(c, day))
            if day >= since90:
                counts[c]["orders_90d"] += 1
    per_signal = {SignalType.failed_payment.value: "failed_payments_90d", SignalType.skipped_box.value: "skipped_boxes_90d",
                  SignalType.negative_ticket.value: "negative_tickets_90d"}  # fmt: skip
    for s in world.tables["customer_signals"]:
        c, day, kind = s["customer_id"], s["detected_on"], s["signal_type"]
        if c not in counts or not since90 <= day < start:
            continue
        if kind in per_signal:
            counts[c][per_signal[kind]] += 1
        elif kind == SignalType.engagement_drop.value and day >= since30:
            counts[c]["engagement_drops_30d"] += 1
    for t in world.tables["support_tickets"]:
        c = t["customer_id"]
        if c in counts and since90 <= t["created_at"].date() < start:
            counts[c]["tickets_90d"] += 1
    rows = []
    for f in target:
        row = counts[f.customer_id]
        row["tenure_days"] = float(start.toordinal() - f.started)
        row["price_cents"] = float(f.price_cents)
        last = last_order.get(f.customer_id)
        row["days_since_order"] = float(min(365, (start - last).days)) if last else 365.0
        rows.append(tuple(row[k] for k in FEATURES))
    return tuple(rows)
