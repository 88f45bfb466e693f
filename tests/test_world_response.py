"""The responsive world: individual hazards, interventions and the exact counterfactual."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from app.errors import DataFileError, InvalidArgumentError
from app.models import MerchantContext
from app.scenarios import get_persona, get_scenario
from app.world.effects import EffectModel, InterventionEffects, load_intervention_effects
from app.world.generator import generate_world
from app.world.response import Intervention, respond
from app.world.state import WorldState
from app.world.world import World, WorldSpec

SEGMENTS = ("loyal", "engaged", "casual", "deal_seeker")


def _spec(scenario: str = "churn_spike", seed: int = 0) -> WorldSpec:
    return WorldSpec(get_scenario(scenario), get_persona("sarah_chen"), MerchantContext(), seed=seed, horizon_days=60)


@lru_cache(maxsize=4)
def _world(scenario: str = "churn_spike", seed: int = 0) -> World:
    return generate_world(_spec(scenario, seed))


def _active(world: World, day: dt.date) -> list[str]:
    """Subscribers active when the day's cancellations are drawn (before its arrivals)."""
    return [
        s["customer_id"]
        for s in world.tables["subscriptions"]
        if s["started_on"] < day and (s["cancelled_on"] is None or s["cancelled_on"] >= day)
    ]


def _effects(churn: float, order: float = 0.0, half_life: float = 30.0, heterogeneity: float = 0.5) -> InterventionEffects:
    model = EffectModel(description="test action", cost=3.0, churn_effect=dict.fromkeys(SEGMENTS, churn),
                        order_effect=order, half_life_days=half_life, heterogeneity=heterogeneity)  # fmt: skip
    return InterventionEffects(version=1, actions={"act": model})


def _riskiest(world: World, day: dt.date, n: int) -> list[str]:
    fates = world.fates
    assert fates is not None
    return sorted(_active(world, day), key=lambda c: (-fates.hazard(c, day), c))[:n]


def _net_revenue(world: World, since: dt.date) -> Counter[str]:
    """Charged amounts net of refunds per customer from ``since`` to the horizon, from raw rows."""
    out: Counter[str] = Counter()
    for o in world.tables["orders"]:
        if o["status"] != "failed" and since <= o["ordered_on"] <= world.horizon:
            out[o["customer_id"]] += o["amount_cents"]
    for r in world.tables["refunds"]:
        if since <= r["refunded_on"] <= world.horizon:
            out[r["customer_id"]] -= r["amount_cents"]
    return out


@pytest.mark.parametrize("scenario", ["churn_spike", "steady_operations"])
def test_individual_hazards_sum_to_the_days_expected_cancellations(scenario: str) -> None:
    world = _world(scenario)
    fates = world.fates
    assert fates is not None
    state = WorldState(world.spec)  # the same frame and rates as the run
    for t in (0, 1, 63, 140, 171):
        day = world.start + dt.timedelta(days=t)
        active = _active(world, day)
        expected = state.base_hazard * state.rates[t].churn * len(active)
        assert sum(fates.hazard(c, day) for c in active) == pytest.approx(expected, rel=1e-9)


def test_the_one_sweep_scales_equal_the_mean_weight_of_each_day() -> None:
    fates = _world().fates
    assert fates is not None
    for ordinal in range(fates.start.toordinal(), fates.horizon.toordinal() + 1):
        weights = [f.weight(ordinal) for f in fates.subscribers.values()
                   if f.started < ordinal and (f.cancelled is None or f.cancelled >= ordinal)]  # fmt: skip
        hazard = fates.base_hazard * fates.rates[fates.day_index(ordinal)].churn
        assert fates.hazard_scale(ordinal) == pytest.approx(hazard * len(weights) / sum(weights), rel=1e-12)
    with pytest.raises(InvalidArgumentError, match="outside the simulated days"):
        fates.hazard_scale(fates.horizon.toordinal() + 1)


def test_no_intervention_leaves_the_world_as_generated() -> None:
    world = _world()
    assert respond(world, []).world.tables is world.tables
    day = world.as_of - dt.timedelta(days=20)
    nothing = respond(world, [Intervention(c, "act", day) for c in _riskiest(world, day, 80)], _effects(0.0))
    assert nothing.world.tables == generate_world(_spec()).tables
    assert nothing.revenue_saved_cents == 0 and nothing.customers_kept == 0
    assert nothing.cost_cents == 80 * 300


def test_stronger_effects_keep_no_fewer_subscribers_for_no_less_time() -> None:
    world = _world()
    day = world.as_of - dt.timedelta(days=20)
    treated = _riskiest(world, day, 150)
    horizon = world.horizon + dt.timedelta(days=1)
    previous = None
    for size in (0.1, 0.4, 0.7, 1.0):
        r = respond(world, [Intervention(c, "act", day) for c in treated], _effects(size, order=size / 2))
        ends = {c: o.cancelled_with or horizon for c, o in r.outcomes.items()}
        if previous is not None:
            assert all(ends[c] >= previous[c] for c in treated)
        previous = ends
    assert r.customers_kept > 0


def test_revenue_saved_is_exact_against_a_direct_counterfactual_run() -> None:
    world = _world()
    day = world.as_of - dt.timedelta(days=25)
    treated = _riskiest(world, day, 120)
    full = _effects(1.0, order=0.0, half_life=1e9, heterogeneity=0.0)  # a cancellation never happens
    r = respond(world, [Intervention(c, "act", day) for c in treated], full)
    untreated = generate_world(_spec())  # the counterfactual, generated again from the spec
    cancels = {s["customer_id"]: s["cancelled_on"] for s in untreated.tables["subscriptions"]}
    would_leave = {c for c in treated if cancels[c] is not None and cancels[c] >= day}
    assert would_leave and {c for c, o in r.outcomes.items() if o.kept} == would_leave
    after, before = _net_revenue(r.world, day), _net_revenue(untreated, day)
    for c in treated:
        assert r.outcomes[c].revenue_saved_cents == after[c] - before[c]
    assert r.revenue_saved_cents == sum(after[c] - before[c] for c in treated) > 0
    # nobody else's rows moved: no spillover
    others = set(cancels) - set(treated)
    for table in ("orders", "refunds", "customer_signals", "subscriptions"):
        def mine(w: World, table: str = table) -> list:
            return sorted((tuple(sorted(x.items())) for x in w.tables[table] if x["customer_id"] in others), key=repr)
        assert mine(r.world) == mine(untreated)
    # a saved subscriber is billed on their own cycle days from the prevented cancellation on
    c = min(would_leave)
    started = next(s["started_on"] for s in untreated.tables["subscriptions"] if s["customer_id"] == c)
    extra = [o for o in r.world.tables["orders"] if o["customer_id"] == c and o["ordered_on"] >= cancels[c]]
    assert extra and all((o["ordered_on"] - started).days % 30 == 0 for o in extra)


def test_order_effect_turns_skipped_boxes_into_orders() -> None:
    world = _world("steady_operations")
    day = world.as_of - dt.timedelta(days=100)
    treated = _active(world, day)[:400]
    r = respond(world, [Intervention(c, "act", day) for c in treated], _effects(0.0, order=1.0, half_life=1e9, heterogeneity=0.0))
    skips = [s for s in world.tables["customer_signals"]
             if s["customer_id"] in set(treated) and s["signal_type"] == "skipped_box" and s["detected_on"] >= day]  # fmt: skip
    assert skips
    left = [s for s in r.world.tables["customer_signals"] if s["signal_id"] in {k["signal_id"] for k in skips}]
    assert left == []
    assert len(r.world.tables["orders"]) == len(world.tables["orders"]) + len(skips)
    assert r.revenue_saved_cents > 0 and r.customers_kept == 0


def test_the_shipped_effect_models_load_and_the_useless_one_does_nothing() -> None:
    effects = load_intervention_effects()
    assert {"personal_checkin", "loyalty_discount", "generic_newsletter"} <= set(effects.actions)
    world = _world()
    day = world.as_of - dt.timedelta(days=20)
    treated = _riskiest(world, day, 100)
    useless = respond(world, [Intervention(c, "generic_newsletter", day) for c in treated])
    useful = respond(world, [Intervention(c, "loyalty_discount", day) for c in treated])
    assert useless.customers_kept == 0 and useless.revenue_saved_cents == 0
    assert useful.customers_kept > 0 and useful.revenue_saved_cents > 0


def test_bad_interventions_are_refused_with_the_fix() -> None:
    world = _world()
    day = world.as_of
    with pytest.raises(InvalidArgumentError, match="not a subscriber of this world"):
        respond(world, [Intervention("C999999", "personal_checkin", day)])
    with pytest.raises(InvalidArgumentError, match="unknown action 'hug'; choose one of"):
        respond(world, [Intervention("C000001", "hug", day)])
    with pytest.raises(InvalidArgumentError, match="outside the simulated days"):
        respond(world, [Intervention("C000001", "personal_checkin", world.horizon + dt.timedelta(days=1))])
    treated = respond(world, [Intervention("C000001", "personal_checkin", day)]).world
    assert treated.interventions == (Intervention("C000001", "personal_checkin", day),)
    with pytest.raises(InvalidArgumentError, match="already has interventions applied; apply them all at once"):
        respond(treated, [Intervention("C000002", "personal_checkin", day)])
    bare = World(spec=world.spec, start=world.start, as_of=world.as_of, horizon=world.horizon, tables=world.tables)
    with pytest.raises(InvalidArgumentError, match="only a generated world"):
        respond(bare, [Intervention("C000001", "personal_checkin", day)])


def test_an_effect_model_must_name_every_segment(tmp_path: Path) -> None:
    path = tmp_path / "effects.yaml"
    path.write_text(
        "version: 1\nactions:\n  a:\n    description: x\n    cost: 1\n    churn_effect: {loyal: 0.2}\n"
        "    order_effect: 0\n    half_life_days: 5\n    heterogeneity: 0\n"
    )
    with pytest.raises(DataFileError, match="churn_effect needs exactly the segments"):
        load_intervention_effects(path)


def test_a_treated_world_loads_and_its_views_show_the_customers_kept() -> None:
    from app.agents.data_agent import DataAgent

    world = _world()
    day = world.as_of - dt.timedelta(days=20)
    r = respond(world, [Intervention(c, "loyalty_discount", day) for c in _riskiest(world, day, 150)])
    assert r.customers_kept > 0
    before, after = DataAgent(world), DataAgent(r.world)
    for agent in (before, after):
        agent.advance((world.horizon - world.as_of).days)
    fin = [agent.get_view("financial_metrics", time_range="30d") for agent in (before, after)]
    assert fin[1].active_subscribers.current == fin[0].active_subscribers.current + r.customers_kept
    assert fin[1].mrr.current > fin[0].mrr.current
