"""Views: determinism, cross-view identities, JSON shape and the simulation clock."""

from __future__ import annotations

import datetime as dt

import pytest

from app.agents.data_agent import DataAgent
from app.data_views import VIEWS, DataProvider
from app.errors import DataUnavailableError, InvalidArgumentError, UnknownNameError
from tests.conftest import cached_agent

SAMPLE_ARGS: dict[str, list[dict]] = {name: list(spec.examples) for name, spec in VIEWS.items()}


def all_views(provider: DataProvider, as_of: dt.date | None = None) -> dict[str, list[dict]]:
    return {
        name: [provider.get_view(name, as_of, **args).to_json() for args in arg_sets]
        for name, arg_sets in SAMPLE_ARGS.items()
    }


def test_every_view_has_valid_examples() -> None:
    for spec in VIEWS.values():
        assert spec.examples
        for example in spec.examples:
            spec.parse_args(example)


def test_same_spec_gives_identical_views() -> None:
    a = DataAgent.create("churn_spike", "sarah_chen", seed=4)
    b = DataAgent.create("churn_spike", "sarah_chen", seed=4)
    assert all_views(a) == all_views(b)


def test_other_seed_gives_other_numbers() -> None:
    a = cached_agent("growth_stall", "marcus_thompson", 0).financial_metrics("30d")
    b = cached_agent("growth_stall", "marcus_thompson", 1).financial_metrics("30d")
    assert (a.mrr.current, a.new_subscribers.current, a.cancellations.current) != (
        b.mrr.current,
        b.new_subscribers.current,
        b.cancellations.current,
    )


def test_briefing_json_shape(growth_stall_agent: DataAgent) -> None:
    data = growth_stall_agent.daily_briefing().to_json()
    for key in ("mrr", "active_subscribers", "churn_rate", "new_subscribers", "csat"):
        assert set(data[key]) >= {"current", "previous", "change_pct", "direction"}
        assert data[key]["direction"] in {"up", "down", "flat"}
    assert set(data["tickets"]) >= {"created_24h", "open", "urgent", "avg_first_response_hours"}
    assert all(set(c) >= {"category", "count"} for c in data["top_ticket_categories"])
    assert "alerts" in data and data["as_of"] == str(growth_stall_agent.scenario.as_of)
    fin = growth_stall_agent.financial_metrics().to_json()
    for key in ("mrr", "active_subscribers", "churn_rate", "new_subscribers", "cancellations", "cac", "arpu"):
        assert set(fin[key]) >= {"current", "previous", "change_pct", "direction"}
    seg = growth_stall_agent.customer_segment("at_risk").to_json()
    assert set(seg) >= {"segment", "size", "avg_ltv", "churn_risk", "customers", "recommended_actions"}
    assert all({"customer_id", "name"} <= set(c) for c in seg["customers"])


@pytest.mark.parametrize("name", list(VIEWS))
def test_every_view_renders_text(growth_stall_agent: DataAgent, name: str) -> None:
    for args in SAMPLE_ARGS[name]:
        text = growth_stall_agent.get_view(name, **args).to_text()
        assert text.strip() and "None" not in text


IDENTITY_WORLDS = [
    ("steady_operations", "marcus_thompson", 0),
    ("churn_spike", "sarah_chen", 1),
    ("scaling_chaos", "zoe_martinez", 2),
    ("shipping_crisis", "marcus_thompson", 3),
    ("competitor_threat", "zoe_martinez", 0),
]


@pytest.fixture(params=IDENTITY_WORLDS, ids=lambda w: f"{w[0]}-{w[1]}-{w[2]}")
def world_agent(request) -> DataAgent:
    return cached_agent(*request.param)


def check_identities(p: DataProvider, as_of: dt.date | None = None) -> None:
    """Identities that must hold between views at any date."""
    brief = p.daily_briefing(as_of=as_of)
    fin30 = p.financial_metrics("30d", as_of=as_of)
    fin90 = p.financial_metrics("90d", as_of=as_of)
    t30 = p.ticket_metrics("30d", as_of=as_of)
    # the same metric for the same window has the same value everywhere
    for key in ("mrr", "active_subscribers", "churn_rate", "new_subscribers"):
        assert getattr(brief, key) == getattr(fin30, key), key
    assert brief.csat == t30.csat
    assert brief.tickets.created_24h == p.ticket_metrics("24h", as_of=as_of).created.current
    assert (brief.tickets.open, brief.tickets.urgent) == (t30.open, t30.urgent)
    assert brief.mrr.current == fin90.mrr.current
    # subscriber flow: the change in actives is new minus cancelled
    for fin in (fin30, fin90):
        assert fin.active_subscribers.current - fin.active_subscribers.previous == fin.net_growth.current
        assert fin.net_growth.current == fin.new_subscribers.current - fin.cancellations.current
        assert fin.arpu.current == round(fin.mrr.current / fin.active_subscribers.current, 2)
        assert sum(pl.active for pl in fin.plans) == fin.active_subscribers.current
        assert round(sum(pl.mrr for pl in fin.plans), 2) == fin.mrr.current
    # ticket counts agree between views
    t7 = p.ticket_metrics("7d", as_of=as_of)
    assert sum(c.count for c in t7.by_category) == t7.created.current
    for c in t7.by_category:
        assert p.ticket_metrics("7d", c.category, as_of=as_of).created.current == c.count
    assert [(c.category, c.count) for c in brief.top_ticket_categories] == [
        (c.category, c.count) for c in t7.by_category[:3]
    ]
    # segments
    active = fin30.active_subscribers.current
    sizes = {}
    for seg in ("high_value", "at_risk", "new", "churned"):
        view = p.customer_segment(seg, as_of=as_of)
        sizes[seg] = view.size
        assert p.customer_list(seg, limit=1, as_of=as_of).total == view.size
        if seg != "churned":
            assert all(c.status == "active" for c in view.customers) or seg == "new"
            assert view.size <= active
    assert sizes["new"] == fin30.new_subscribers.current
    assert sizes["churned"] == fin90.cancellations.current
    assert p.customer_list("active", limit=1, as_of=as_of).total == active
    assert sizes["high_value"] == -(-active // 5)
    # customer_list agrees with customer_profile
    listed = p.customer_list("at_risk", limit=5, sort_by="risk", as_of=as_of).customers
    listed += p.customer_list("all", limit=5, sort_by="recent", as_of=as_of).customers
    for c in listed:
        prof = p.customer_profile(c.customer_id, as_of=as_of)
        assert (prof.name, prof.status, prof.lifetime_value, prof.risk_score) == (
            c.name,
            c.status,
            c.lifetime_value,
            c.risk_score,
        )
        assert prof.subscriptions[-1].plan == c.plan
        assert ("at_risk" in prof.segments) == (c.risk_score >= 0.6 and c.status == "active")
    # the timeline of the last week is the briefing's recent events
    assert p.business_timeline(6, as_of=as_of).events == brief.recent_events


def test_cross_view_identities(world_agent: DataAgent) -> None:
    check_identities(world_agent)


def test_crisis_indicator_matches_ticket_metrics(world_agent: DataAgent) -> None:
    crisis = world_agent.crisis_analysis("support")
    t3 = world_agent.ticket_metrics("3d")
    assert crisis.indicator.recent_per_day == round(t3.created.current / 3, 2)


def test_repeated_calls_hit_the_cache() -> None:
    agent = DataAgent.create("steady_operations", "marcus_thompson", seed=5)
    first = agent.ticket_metrics("7d")
    hits = agent.cache_hits
    assert agent.ticket_metrics("7d") is first
    assert agent.cache_hits == hits + 1


# --------------------------------------------------------------------------- clock


def test_clock_advance_appends_and_never_rewrites() -> None:
    agent = DataAgent.create("shipping_crisis", "marcus_thompson", seed=2)
    t0 = agent.clock
    before = all_views(agent)
    known_before = agent.world.snapshot(t0)
    agent.advance(days=3)
    t1 = agent.clock
    assert t1 == t0 + dt.timedelta(days=3)
    # history is never rewritten: every view at the old date is unchanged
    assert all_views(agent, as_of=t0) == before
    # new events arrive: tickets created after t0 are visible now
    new_tickets = agent.ticket_metrics("3d").created.current
    assert new_tickets > 0
    assert agent.daily_briefing().as_of == t1
    # rows known at t0 are still there with the same facts; only unknowns may be filled in
    known_after = agent.world.snapshot(t1)
    for table, rows in known_before.items():
        key = next(iter(rows[0])) if rows else None
        after = {r[key]: r for r in known_after[table]} if key else {}
        for row in rows:
            later = after[row[key]]
            for col, value in row.items():
                if value is not None and col != "status":
                    assert later[col] == value, (table, col)
    check_identities(agent)


def test_clock_advance_rate_follows_the_scenario() -> None:
    agent = DataAgent.create("steady_operations", "sarah_chen", seed=1)
    per_day_before = agent.ticket_metrics("30d").created.current / 30
    agent.advance(days=30)
    per_day_after = agent.ticket_metrics("30d").created.current / 30
    assert 0.5 * per_day_before <= per_day_after <= 2.0 * per_day_before


def test_clock_cannot_pass_the_horizon() -> None:
    agent = DataAgent.create("steady_operations", "marcus_thompson", seed=0)
    with pytest.raises(InvalidArgumentError, match="at most"):
        agent.advance(days=agent.world.spec.horizon_days + 1)
    with pytest.raises(InvalidArgumentError, match="at least 1"):
        agent.advance(days=0)


# --------------------------------------------------------------------------- bad input


def test_unknown_view_lists_views(growth_stall_agent: DataAgent) -> None:
    with pytest.raises(UnknownNameError, match="valid views: alerts, business_timeline, churn_forecast, crisis_analysis"):
        growth_stall_agent.get_view("daily_brief")


@pytest.mark.parametrize(
    ("view", "args", "expected"),
    [
        ("ticket_metrics", {"time_range": "2w"}, "time_range: Input should be '24h', '3d'"),
        ("customer_segment", {"segment": "vip"}, "segment: Input should be 'high_value', 'at_risk', 'new' or 'churned'"),
        ("customer_list", {"limit": 0}, "limit: Input should be greater than or equal to 1"),
        ("customer_list", {"limit": 1000}, "limit: Input should be less than or equal to 100"),
        ("ticket_metrics", {"color": "red"}, "color: unknown argument"),
        ("detect_anomalies", {"metrics": ["mood"]}, "metrics.0: Input should be"),
        ("business_timeline", {"days_before": -1}, "greater than or equal to 0"),
    ],
)
def test_bad_view_arguments(growth_stall_agent: DataAgent, view: str, args: dict, expected: str) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        growth_stall_agent.get_view(view, **args)
    assert expected in str(err.value)
    assert view in str(err.value)


def test_unknown_customer(growth_stall_agent: DataAgent) -> None:
    with pytest.raises(DataUnavailableError, match="use customer_list"):
        growth_stall_agent.customer_profile("C999999")


def test_unknown_scenario_and_merchant() -> None:
    with pytest.raises(UnknownNameError, match="valid scenarios: .*growth_stall"):
        DataAgent.create("growth_stal", "marcus_thompson")
    with pytest.raises(UnknownNameError, match="valid merchants: .*marcus_thompson"):
        DataAgent.create("growth_stall", "Marcus Thomson")


def test_merchant_by_display_name() -> None:
    agent = DataAgent.create("growth_stall", "Marcus Thompson", seed=0)
    assert agent.persona.id == "marcus_thompson"


@pytest.mark.parametrize(
    ("context", "expected"),
    [({"business_stage": "teenager"}, "business_stage"), ({"mood": "calm"}, "unknown merchant_context keys")],
)
def test_bad_merchant_context(context: dict, expected: str) -> None:
    with pytest.raises(InvalidArgumentError, match=expected):
        DataAgent.create("growth_stall", "marcus_thompson", merchant_context=context)


def test_bad_seed_and_size() -> None:
    with pytest.raises(InvalidArgumentError, match="seed"):
        DataAgent.create("growth_stall", "marcus_thompson", seed=-1)
    with pytest.raises(InvalidArgumentError, match="subscribers"):
        DataAgent.create("growth_stall", "marcus_thompson", subscribers=3)


@pytest.mark.parametrize(
    ("scenario", "expected_types"),
    [
        ("churn_spike", {"churn", "payment", "support"}),  # failed payments and tickets spike with churn
        ("shipping_crisis", {"shipping", "support"}),
        ("scaling_chaos", {"support", "shipping"}),
    ],
)
@pytest.mark.parametrize("merchant", ["marcus_thompson", "sarah_chen", "zoe_martinez"])
def test_crisis_scenarios_are_detected(scenario: str, expected_types: set[str], merchant: str) -> None:
    crisis = cached_agent(scenario, merchant, 0).crisis_analysis("auto")
    assert crisis.detected and crisis.crisis_type in expected_types, (crisis.crisis_type, crisis.indicator)
    assert crisis.started_on is not None and crisis.started_on <= crisis.as_of
    if scenario == "churn_spike":
        assert cached_agent(scenario, merchant, 0).crisis_analysis("churn").severity in ("high", "critical")


@pytest.mark.parametrize("merchant", ["marcus_thompson", "sarah_chen", "zoe_martinez"])
def test_steady_operations_has_no_crisis(merchant: str) -> None:
    crisis = cached_agent("steady_operations", merchant, 0).crisis_analysis("auto")
    assert not crisis.detected, crisis.indicator
