"""Measured intervention outcomes equal a direct run of the world with and without them."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from app.journeys.measure import measure
from app.journeys.records import InterventionRecord
from app.models import MerchantContext
from app.scenarios import get_persona, get_scenario
from app.world.effects import EffectModel, InterventionEffects
from app.world.generator import generate_world
from app.world.response import Intervention, respond
from app.world.world import World, WorldSpec

SEGMENTS = ("loyal", "engaged", "casual", "deal_seeker")


def _world() -> World:
    spec = WorldSpec(get_scenario("churn_spike"), get_persona("sarah_chen"), MerchantContext(), seed=3, horizon_days=60)
    return generate_world(spec)


def _effects() -> InterventionEffects:
    model = EffectModel(description="test action", cost=3.0, churn_effect=dict.fromkeys(SEGMENTS, 0.6),
                        order_effect=0.5, half_life_days=40.0, heterogeneity=0.3)  # fmt: skip
    return InterventionEffects(version=1, actions={"act": model})


def _record(cid: str, day: dt.date, status: str = "launched", action: tuple[str, ...] = ("act",)) -> InterventionRecord:
    return InterventionRecord(
        intervention_id=f"IV-t-{day:%Y%m%d}-{cid}", run_id=None, customer_id=cid, segment="casual",
        journey_stage="churn_risk", playbook_id="PB_T", recommended_action=("act",), confidence=0.5,
        expected_cost_cents=300, expected_value_cents=1000, requires_human_approval=False, triggered_by_signals=(),
        evaluation_latency_ms=0, generated_at=day - dt.timedelta(days=1), lands_on=day, status=status,  # type: ignore[arg-type]
        executed_action=action,
    )  # fmt: skip


def _net(world: World, cid: str, since: dt.date, until: dt.date) -> int:
    """Charged amounts net of refunds of one customer in [since, until], from the raw rows."""
    total: Counter[str] = Counter()
    for o in world.tables["orders"]:
        if o["customer_id"] == cid and o["status"] in ("paid", "refunded") and since <= o["ordered_on"] <= until:
            total[cid] += o["amount_cents"]
    for r in world.tables["refunds"]:
        if r["customer_id"] == cid and since <= r["refunded_on"] <= until:
            total[cid] -= r["amount_cents"]
    return total[cid]


def _leavers(world: World, day: dt.date, n: int) -> list[str]:
    """Subscribers active on ``day`` who cancel within 40 days in the untreated world."""
    out = [s["customer_id"] for s in world.tables["subscriptions"]
           if s["started_on"] < day and s["cancelled_on"] is not None
           and day <= s["cancelled_on"] <= day + dt.timedelta(days=40)]  # fmt: skip
    return sorted(out)[:n]


def test_measured_revenue_saved_is_the_difference_of_direct_runs() -> None:
    world, effects = _world(), _effects()
    day = world.as_of - dt.timedelta(days=30)
    ids = _leavers(world, day, 40)
    assert len(ids) >= 20
    horizon = (world.horizon - day).days + 1
    records = [_record(c, day) for c in ids]
    outcomes = {o.customer_id: o for o in measure(world, records, horizon, effects=effects)}
    treated = respond(world, [Intervention(c, "act", day) for c in ids], effects).world
    for c in ids:
        o = outcomes[c]
        direct = _net(treated, c, day, world.horizon) - _net(world, c, day, world.horizon)
        assert o.revenue_saved_cents == direct
        cancelled = {s["customer_id"]: s["cancelled_on"] for s in treated.tables["subscriptions"]}[c]
        assert o.kept == (cancelled is None or cancelled > world.horizon)
        assert o.cost_cents == 300
    assert sum(o.kept for o in outcomes.values()) > 0  # the action does something at this size


def test_a_second_intervention_is_measured_against_the_first_alone() -> None:
    world, effects = _world(), _effects()
    first = world.as_of - dt.timedelta(days=40)
    second = first + dt.timedelta(days=20)
    ids = _leavers(world, first, 30)
    records = [_record(c, d) for c in ids for d in (first, second)]
    out = measure(world, records, 20, effects=effects)
    assert len(out) == len(records)
    only_first = respond(world, [Intervention(c, "act", first) for c in ids], effects).world
    both = respond(world, [Intervention(c, "act", d) for c in ids for d in (first, second)], effects).world
    end = second + dt.timedelta(days=19)
    for o in out:
        if o.intervention_id.startswith(f"IV-t-{second:%Y%m%d}"):
            assert o.revenue_saved_cents == _net(both, o.customer_id, second, end) - _net(only_first, o.customer_id,
                                                                                          second, end)  # fmt: skip


def test_an_override_that_runs_nothing_is_measured_as_not_run() -> None:
    world = _world()
    day = world.as_of - dt.timedelta(days=30)
    cid = _leavers(world, day, 1)[0]
    [o] = measure(world, [_record(cid, day, status="overridden", action=())], 30, effects=_effects())
    assert (o.outcome, o.revenue_saved_cents, o.cost_cents, o.kept, o.human_override) == ("not_run", 0, 0, False, True)
