"""The world generator: determinism, row-level sanity, scenario signatures and context effects.

Scenario signatures are checked through :mod:`tests.oracle`, an independent plain-Python version
of the metric contract, for every persona and seeds 0-3; ``CJSIM_SIGNATURE_SEEDS=A-B`` checks seeds A
to B instead (CI adds seeds 4-9 in a step of its own, after the suite).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from dataclasses import replace
from functools import cache

import pytest

from app.errors import InvalidArgumentError
from app.models import (
    BusinessStage,
    CancelReason,
    Expectation,
    MerchantContext,
    SignalType,
    StressLevel,
    TicketCategory,
    TicketPriority,
)
from app.scenarios import get_persona, get_scenario, personas, scenarios
from app.storage.schema import TABLE_NAMES, TABLES
from app.world.generator import generate_world, phase_in_force
from app.world.world import Rows, World, WorldSpec, end_of_day
from tests import oracle

PERSONAS = personas().names()
SCENARIOS = scenarios().names()


def _seeds(spec: str) -> range:
    """The seeds of ``CJSIM_SIGNATURE_SEEDS``: ``A-B`` (A to B) or ``A`` (one seed)."""
    first, dash, last = spec.partition("-")
    last = last if dash else first
    if not (first.isdigit() and last.isdigit()) or int(last) < int(first):
        raise ValueError(f"CJSIM_SIGNATURE_SEEDS={spec!r}: give a seed range as A-B with A <= B (e.g. 4-9), or one seed")
    return range(int(first), int(last) + 1)


SEEDS = _seeds(os.environ.get("CJSIM_SIGNATURE_SEEDS", "0-3"))


def _spec(
    scenario_id: str,
    persona_id: str,
    seed: int = 0,
    stage: BusinessStage | None = None,
    stress: StressLevel | None = None,
    subscribers: int | None = None,
) -> WorldSpec:
    scenario = get_scenario(scenario_id)
    persona = get_persona(persona_id)
    context = MerchantContext(
        business_stage=stage or persona.default_business_stage,
        stress_level=stress or scenario.stress_level,
    )
    return WorldSpec(scenario, persona, context, seed=seed, subscribers=subscribers)


def world(
    scenario_id: str,
    persona_id: str,
    seed: int = 0,
    stage: BusinessStage | None = None,
    stress: StressLevel | None = None,
    subscribers: int | None = None,
) -> World:
    """The world of a spec, generated once per test process (defaults resolved before caching)."""
    stage = stage or get_persona(persona_id).default_business_stage
    stress = stress or get_scenario(scenario_id).stress_level
    return _world(scenario_id, persona_id, seed, stage, stress, subscribers)


@cache
def _world(
    scenario_id: str, persona_id: str, seed: int, stage: BusinessStage, stress: StressLevel, subscribers: int | None
) -> World:
    return generate_world(_spec(scenario_id, persona_id, seed, stage, stress, subscribers))


def snapshot(scenario_id: str, persona_id: str, seed: int = 0, stress: StressLevel | None = None) -> Rows:
    return _snapshot(scenario_id, persona_id, seed, stress or get_scenario(scenario_id).stress_level)


@cache
def _snapshot(scenario_id: str, persona_id: str, seed: int, stress: StressLevel) -> Rows:
    return world(scenario_id, persona_id, seed, stress=stress).snapshot()


@cache
def _view(scenario_id: str, persona_id: str, seed: int, stress: StressLevel, name: str, args: tuple) -> dict:
    rows = snapshot(scenario_id, persona_id, seed, stress)
    return oracle.view(rows, get_scenario(scenario_id).as_of, name, dict(args))


def steady_value(scenario_id: str, persona_id: str, seed: int, expectation: Expectation) -> object:
    """An expectation's value in steady_operations with the same persona, seed and merchant context."""
    name = expectation.metric.split(".")[0]
    stress = get_scenario(scenario_id).stress_level
    view = _view("steady_operations", persona_id, seed, stress, name, tuple(sorted(expectation.args.items())))
    return oracle.bounded_value(view, expectation)


# ---------------------------------------------------------------- determinism


def test_same_spec_gives_identical_rows() -> None:
    spec = _spec("churn_spike", "zoe_martinez", seed=7)
    a, b = generate_world(spec), generate_world(spec)
    assert repr(a.tables) == repr(b.tables)
    assert (a.start, a.as_of, a.horizon) == (b.start, b.as_of, b.horizon)


def test_other_seed_gives_other_numbers() -> None:
    a = world("steady_operations", "marcus_thompson", seed=0)
    b = world("steady_operations", "marcus_thompson", seed=1)
    assert [c["name"] for c in a.tables["customers"][:50]] != [c["name"] for c in b.tables["customers"][:50]]
    assert oracle.revenue_cents(a.tables, a.as_of, 30) != oracle.revenue_cents(b.tables, b.as_of, 30)
    assert len(a.tables["support_tickets"]) != len(b.tables["support_tickets"]) or [
        t["created_at"] for t in a.tables["support_tickets"]
    ] != [t["created_at"] for t in b.tables["support_tickets"]]


def test_invalid_spec_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="history_days"):
        generate_world(replace(_spec("steady_operations", "sarah_chen"), history_days=0))
    with pytest.raises(InvalidArgumentError, match="subscribers"):
        generate_world(_spec("steady_operations", "sarah_chen", subscribers=0))


# ---------------------------------------------------------------- row sanity

SANITY_CASES = [
    ("steady_operations", "marcus_thompson"),
    ("churn_spike", "sarah_chen"),
    ("scaling_chaos", "zoe_martinez"),
    ("shipping_crisis", "marcus_thompson"),
]


def _unique(rows: list[dict], key: str) -> set:
    values = [r[key] for r in rows]
    assert len(values) == len(set(values)), f"duplicate {key}"
    return set(values)


@pytest.mark.parametrize(("scenario_id", "persona_id"), SANITY_CASES)
def test_rows_match_the_schema(scenario_id: str, persona_id: str) -> None:
    w = world(scenario_id, persona_id)
    assert tuple(w.tables) == TABLE_NAMES
    for table in TABLES:
        columns = {c.name for c in table.columns}
        rows = w.tables[table.name]
        assert rows, f"{table.name} is empty"
        for row in rows:
            assert set(row) == columns, table.name
            for col in table.columns:
                value = row[col.name]
                if value is None:
                    assert col.nullable, f"{table.name}.{col.name} is None"
                    continue
                py = col.type.python_type
                if py is dt.date:
                    assert type(value) is dt.date, f"{table.name}.{col.name}: {value!r}"
                elif py is float:
                    assert isinstance(value, float)
                else:
                    assert isinstance(value, py) and not isinstance(value, bool), f"{table.name}.{col.name}"


@pytest.mark.parametrize(("scenario_id", "persona_id"), SANITY_CASES)
def test_keys_and_references(scenario_id: str, persona_id: str) -> None:
    t = world(scenario_id, persona_id).tables
    merchants = _unique(t["merchants"], "merchant_id")
    assert merchants == {persona_id}
    customers = _unique(t["customers"], "customer_id")
    subs = {s["subscription_id"]: s for s in t["subscriptions"]}
    assert len(subs) == len(t["subscriptions"])
    _unique(t["orders"], "order_id")
    _unique(t["support_tickets"], "ticket_id")
    _unique(t["customer_signals"], "signal_id")
    _unique(t["timeline_events"], "event_id")
    _unique(t["marketing_daily"], "day")
    assert all(c["merchant_id"] in merchants for c in t["customers"])
    assert all(s["customer_id"] in customers for s in subs.values())
    for o in t["orders"]:
        assert subs[o["subscription_id"]]["customer_id"] == o["customer_id"]
    assert all(x["customer_id"] in customers for x in t["support_tickets"] + t["customer_signals"])
    assert t["customers"][0]["customer_id"] == "C000001"
    assert t["orders"][0]["order_id"] == "O0000001"
    assert t["support_tickets"][0]["ticket_id"] == "T000001"
    assert t["customer_signals"][0]["signal_id"] == "SG000001"
    assert t["timeline_events"][0]["event_id"] == "E0001"


@pytest.mark.parametrize(("scenario_id", "persona_id"), SANITY_CASES)
def test_rows_are_consistent_and_inside_the_frame(scenario_id: str, persona_id: str) -> None:
    w = world(scenario_id, persona_id)
    t = w.tables
    persona = get_persona(persona_id)
    prices = {p.id: p.monthly_price_cents for p in persona.plans}
    horizon_end = end_of_day(w.horizon)
    assert w.start == w.as_of - dt.timedelta(days=w.spec.history_days - 1)
    assert w.horizon == w.as_of + dt.timedelta(days=w.spec.horizon_days)

    signup = {c["customer_id"]: c["created_on"] for c in t["customers"]}
    subs = {s["subscription_id"]: s for s in t["subscriptions"]}
    reasons = {r.value for r in CancelReason}
    for s in subs.values():
        assert prices[s["plan"]] == s["monthly_price_cents"] > 0
        assert s["started_on"] <= w.horizon and signup[s["customer_id"]] == s["started_on"]
        if s["cancelled_on"] is None:
            assert s["cancel_reason"] is None
        else:
            assert s["started_on"] < s["cancelled_on"] <= w.horizon
            assert s["cancel_reason"] in reasons

    for o in t["orders"]:
        s = subs[o["subscription_id"]]
        assert o["amount_cents"] >= s["monthly_price_cents"]
        assert o["status"] in {"paid", "failed", "refunded"}
        assert s["started_on"] <= o["ordered_on"] <= w.horizon
        assert (o["ordered_on"] - s["started_on"]).days % 30 == 0
        assert s["cancelled_on"] is None or o["ordered_on"] < s["cancelled_on"]
    statuses = Counter(o["status"] for o in t["orders"])
    assert statuses["paid"] > 0.85 * len(t["orders"]) and statuses["failed"] > 0

    by_customer = {s["customer_id"]: s for s in subs.values()}
    categories = {c.value for c in TicketCategory}
    priorities = {p.value for p in TicketPriority}
    for k in t["support_tickets"]:
        assert end_of_day(w.start - dt.timedelta(days=1)) <= k["created_at"] < horizon_end
        assert oracle.is_active(by_customer[k["customer_id"]], k["created_at"].date())
        assert k["category"] in categories and k["priority"] in priorities
        assert k["sentiment"] in {"positive", "neutral", "negative"}
        assert k["subject"]
        if k["first_response_at"] is not None:
            assert k["created_at"] < k["first_response_at"] < horizon_end
        if k["resolved_at"] is not None:
            assert k["first_response_at"] is not None and k["first_response_at"] < k["resolved_at"] < horizon_end
            assert k["status"] == "resolved"
        else:
            assert k["csat_rating"] is None
            assert k["status"] == ("pending" if k["first_response_at"] else "open")
        assert k["csat_rating"] is None or 1 <= k["csat_rating"] <= 5

    signal_types = {s.value for s in SignalType}
    for g in t["customer_signals"]:
        assert g["signal_type"] in signal_types and 0.0 <= g["strength"] <= 1.0
        assert signup[g["customer_id"]] <= g["detected_on"] <= w.horizon

    days = [m["day"] for m in t["marketing_daily"]]
    assert days[0] == w.start and days[-1] == w.horizon and len(days) == (w.horizon - w.start).days + 1
    assert all(m["spend_cents"] >= 0 and m["visitors"] >= 0 for m in t["marketing_daily"])
    assert all(0.0 < m["email_deliverability"] <= 1.0 for m in t["marketing_daily"])

    scenario = get_scenario(scenario_id)
    assert sorted(e["day"] for e in t["timeline_events"]) == sorted(
        scenario.as_of + dt.timedelta(days=e.day) for e in scenario.timeline
    )


def test_snapshot_hides_the_future() -> None:
    w = world("churn_spike", "marcus_thompson")
    full, snap = w.tables, w.snapshot()
    cutoff = end_of_day(w.as_of)
    assert all(s["started_on"] <= w.as_of for s in snap["subscriptions"])
    assert all(s["cancelled_on"] is None or s["cancelled_on"] <= w.as_of for s in snap["subscriptions"])
    assert all(o["ordered_on"] <= w.as_of for o in snap["orders"])
    assert all(k["created_at"] < cutoff for k in snap["support_tickets"])
    assert all(k["resolved_at"] is None or k["resolved_at"] < cutoff for k in snap["support_tickets"])
    assert all(g["detected_on"] <= w.as_of for g in snap["customer_signals"])
    # The world does hold a future: later signups, cancellations and resolutions exist.
    assert any(s["started_on"] > w.as_of for s in full["subscriptions"])
    assert any(s["cancelled_on"] and s["cancelled_on"] > w.as_of for s in full["subscriptions"])
    assert any(k["resolved_at"] and k["resolved_at"] >= cutoff > k["created_at"] for k in full["support_tickets"])
    # Every window metric agrees between full tables and the snapshot.
    assert oracle.financial_metrics(full, w.as_of) == oracle.financial_metrics(snap, w.as_of)
    assert oracle.ticket_metrics(full, w.as_of, "7d") == oracle.ticket_metrics(snap, w.as_of, "7d")


@pytest.mark.parametrize("persona_id", PERSONAS)
def test_steady_operations_ends_near_the_persona_baseline(persona_id: str) -> None:
    w = world("steady_operations", persona_id)
    baseline = get_persona(persona_id).baseline_subscribers
    assert abs(oracle.active_count(w.tables, w.as_of) / baseline - 1) < 0.05


def test_subscribers_override_scales_the_world() -> None:
    w = world("steady_operations", "sarah_chen", subscribers=5000)
    assert abs(oracle.active_count(w.tables, w.as_of) / 5000 - 1) < 0.05


def test_initial_subscribers_have_order_history() -> None:
    w = world("steady_operations", "sarah_chen")
    first = w.tables["subscriptions"][0]
    assert first["started_on"] < w.start - dt.timedelta(days=365)
    orders = [o for o in w.tables["orders"] if o["subscription_id"] == first["subscription_id"]]
    assert orders[0]["ordered_on"] == first["started_on"]


# ---------------------------------------------------------------- phases and timeline


def test_phase_in_force_follows_the_documented_rule() -> None:
    s = get_scenario("churn_spike")
    first, *_, old, new = s.modifiers.phases  # the first and the two latest phases
    day = s.as_of
    assert phase_in_force(s, day) is new
    assert phase_in_force(s, day - dt.timedelta(days=new.starts_days_ago)) is new
    assert phase_in_force(s, day - dt.timedelta(days=new.starts_days_ago + 1)) is old
    assert phase_in_force(s, day - dt.timedelta(days=first.starts_days_ago + 1)) is None
    assert phase_in_force(s, day + dt.timedelta(days=20)) is new
    assert phase_in_force(get_scenario("steady_operations"), day) is None


def test_shipping_crisis_has_a_carrier_outage_event() -> None:
    w = world("shipping_crisis", "marcus_thompson")
    outages = [e for e in w.snapshot()["timeline_events"] if "carrier outage" in e["title"].lower()]
    assert outages and all(e["day"] <= w.as_of and e["impact"] == "negative" for e in outages)


# ---------------------------------------------------------------- scenario signatures


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("persona_id", PERSONAS)
@pytest.mark.parametrize("scenario_id", SCENARIOS)
def test_scenario_signature(scenario_id: str, persona_id: str, seed: int) -> None:
    scenario = get_scenario(scenario_id)
    assert scenario.expected, f"{scenario_id} has no expected ranges"
    # Each scenario world is used once here: generate it uncached to keep memory flat.
    rows = generate_world(_spec(scenario_id, persona_id, seed)).snapshot()
    views: dict = {}
    failures = []
    for e in scenario.expected:
        name = e.metric.split(".")[0]
        key = (name, tuple(sorted(e.args.items())))
        if key not in views:
            views[key] = oracle.view(rows, scenario.as_of, name, e.args)
        value = oracle.bounded_value(views[key], e)
        steady = None
        if e.min_ratio_to_steady is not None or e.max_ratio_to_steady is not None:
            steady = steady_value(scenario_id, persona_id, seed, e)
        ok, why = oracle.check(e, value, steady)
        if not ok:
            failures.append(f"{e.metric} {e.args}: {why}")
    assert not failures, failures


def test_every_scenario_checks_at_least_two_ranges() -> None:
    for scenario in scenarios().all():
        assert len(scenario.expected) >= 2, scenario.id


@pytest.mark.parametrize("persona_id", PERSONAS)
def test_risk_scores_anticipate_churn(persona_id: str) -> None:
    w = world("steady_operations", persona_id)
    snap = w.snapshot()
    at_risk = oracle.at_risk_customers(snap, w.as_of)
    active = {s["customer_id"] for s in snap["subscriptions"] if oracle.is_active(s, w.as_of)}
    assert 0.03 <= len(at_risk) / len(active) <= 0.15
    churned_later = {s["customer_id"] for s in w.tables["subscriptions"] if s["cancelled_on"] and s["cancelled_on"] > w.as_of}
    rate_at_risk = len(at_risk & churned_later) / len(at_risk)
    rate_rest = len((active - at_risk) & churned_later) / len(active - at_risk)
    assert rate_at_risk > 3 * rate_rest
    spike = world("churn_spike", persona_id)
    spike_snap = spike.snapshot()
    spike_share = len(oracle.at_risk_customers(spike_snap, spike.as_of)) / oracle.active_count(spike_snap, spike.as_of)
    assert spike_share > 1.3 * len(at_risk) / len(active)


# ---------------------------------------------------------------- merchant context


@pytest.mark.parametrize("seed", range(3))
def test_startup_grows_faster_than_declining(seed: int) -> None:
    grow = {}
    for stage in (BusinessStage.startup, BusinessStage.mature, BusinessStage.declining):
        w = world("steady_operations", "marcus_thompson", seed, stage=stage)
        grow[stage] = oracle.active_count(w.tables, w.as_of) / oracle.active_count(
            w.tables, w.as_of - dt.timedelta(days=60)
        )
    assert grow[BusinessStage.startup] > grow[BusinessStage.mature] > grow[BusinessStage.declining]
    assert grow[BusinessStage.declining] < 1.0 < grow[BusinessStage.startup]


def test_business_age_caps_tenure() -> None:
    young = world("steady_operations", "zoe_martinez", stage=BusinessStage.startup)
    old = world("steady_operations", "zoe_martinez", stage=BusinessStage.mature)
    first_young = min(s["started_on"] for s in young.tables["subscriptions"])
    first_old = min(s["started_on"] for s in old.tables["subscriptions"])
    assert young.as_of - first_young <= dt.timedelta(days=300)
    assert first_old < first_young


@pytest.mark.parametrize("persona_id", PERSONAS)
def test_critical_stress_responds_slower_than_low(persona_id: str) -> None:
    hours = {}
    for stress in (StressLevel.low, StressLevel.critical):
        w = world("steady_operations", persona_id, 0, stress=stress)
        hours[stress] = oracle.avg_first_response_hours(w.tables, w.as_of, 90)
    assert hours[StressLevel.critical] > 1.3 * hours[StressLevel.low]
