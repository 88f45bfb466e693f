"""The journey views and the intervention actions: every figure against the module that defines it
(stages, forecasts, matching, learning, records), and one clear message for each bad input."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import insert

from app.agents.data_agent import DataAgent
from app.errors import ActionDeclinedError, ActionFailedError, DataUnavailableError, InvalidArgumentError
from app.journeys import records
from app.journeys.forecast import forecast
from app.journeys.learning import Outcome, PortfolioSnapshot, performance, portfolio_snapshot
from app.journeys.matching import candidates, segments_of
from app.journeys.playbooks import load_playbooks
from app.journeys.stages import journey_positions
from app.storage.ops_loop import orchestrator_runs
from app.tools import call_tool
from app.views import interventions
from app.views.journey_data import stage_moves

SCENARIO, MERCHANT = "churn_spike", "sarah_chen"


@pytest.fixture(scope="module")
def reader() -> DataAgent:
    """A world only read from (no action writes to its store)."""
    return DataAgent.create(SCENARIO, MERCHANT, seed=0)


@pytest.fixture
def agent() -> DataAgent:
    return DataAgent.create(SCENARIO, MERCHANT, seed=0)  # its own: actions write to its store


def _candidates(agent: DataAgent):
    day = agent.clock
    return agent.read_source(lambda c: candidates(journey_positions(c, day), forecast(c, day),
                                                  segments_of(c), load_playbooks()))  # fmt: skip


def _pick(agent: DataAgent, approval: bool) -> tuple[str, str]:
    """A customer and the playbook matching gives them, needing approval or not."""
    c = next(c for c in _candidates(agent) if c.playbook.approval_required is approval)
    return c.customer_id, c.playbook.playbook_id


def _new_run(agent: DataAgent) -> int:
    with agent.ops.transaction() as conn:
        conn.execute(insert(orchestrator_runs).values(
            source="test", mode="apply", policy="policy", first_day=agent.clock, last_day=agent.clock,
            status="finished", started_at=dt.datetime(2025, 1, 1)))  # fmt: skip
        run = records.latest_run(conn)
    assert run is not None
    return run


def test_overview_counts_every_stage_and_the_leak_follows_the_snapshot_rule(reader: DataAgent) -> None:
    day = reader.clock
    view = reader.get_view("journey_overview")
    now = reader.read_source(lambda c: journey_positions(c, day))
    before = reader.read_source(lambda c: journey_positions(c, day - dt.timedelta(days=30)))
    assert view.customers == len(now) == sum(s.customers for s in view.stages)
    assert {s.stage: s.customers for s in view.stages if s.customers} == dict(Counter(p.stage for p in now.values()))
    moves = stage_moves(before, now)
    assert {(f.from_stage, f.to_stage): f.customers for f in view.flows} == {
        (a, b): n for a, nxt in moves.items() for b, n in nxt.items() if a != b}
    assert [f.customers for f in view.flows] == sorted((f.customers for f in view.flows), reverse=True)
    leak = portfolio_snapshot(day, {}, {}, {}, moves, [], load_playbooks()).top_leaking_stage
    assert view.top_leaking_stage == leak is not None and view.leaked_customers == moves[leak]["churned"]
    assert view.window_start == day - dt.timedelta(days=30)


def test_overview_near_the_first_day_has_no_flows(reader: DataAgent) -> None:
    first, _ = reader.data_range()
    view = reader.get_view("journey_overview", date=first + dt.timedelta(days=10))
    assert view.flows == [] and view.window_start is None and "flows" in view.unavailable
    assert "Flows: not available: the data starts on" in view.to_text()


def test_churn_forecast_lists_the_most_revenue_at_risk_with_the_matched_playbook(reader: DataAgent) -> None:
    day = reader.clock
    f = reader.read_source(lambda c: forecast(c, day))
    view = reader.get_view("churn_forecast", limit=8)
    assert (view.model_type, view.base_rate, view.horizon_days, view.calibration_days) == ("empirical-1", f.base_rate, 30, 90)
    assert view.customers == len(f.forecasts)
    assert view.revenue_at_risk == round(sum(x.revenue_at_risk_cents for x in f.forecasts.values()) / 100, 2)
    want = sorted(f.forecasts.values(), key=lambda x: (-x.revenue_at_risk_cents, -x.churn_probability, x.customer_id))[:8]
    assert [r.customer_id for r in view.top] == [x.customer_id for x in want]
    best = {c.customer_id: c.playbook.playbook_id for c in _candidates(reader)}
    assert [r.playbook_id for r in view.top] == [best.get(r.customer_id) for r in view.top]
    assert "probabilities calibrated on the past 90 days" in view.to_text()
    only = reader.get_view("churn_forecast", journey_stage="support", limit=200)
    assert only.customers == sum(x.current_stage == "support" for x in f.forecasts.values()) == len(only.top)
    assert {r.stage for r in only.top} <= {"support"}


def test_customer_journey_states_position_forecast_and_matching_playbooks(reader: DataAgent) -> None:
    day = reader.clock
    top = reader.get_view("churn_forecast", journey_stage="churn_risk", limit=1).top[0]
    view = reader.get_view("customer_journey", customer_id=top.customer_id)
    pos = reader.read_source(lambda c: journey_positions(c, day))[top.customer_id]
    assert (view.stage, view.risk, view.risk_bucket, view.tenure_days, view.reason) == (
        pos.stage, pos.risk, pos.risk_bucket, pos.tenure_days, pos.reason)
    assert view.forecast is not None and view.forecast.churn_probability == top.churn_probability
    applies = [p.playbook_id for p in load_playbooks().playbooks if p.applies_to(pos.stage, view.segment or "", pos.risk or 0)]
    assert [p.playbook_id for p in view.playbooks] == applies
    assert [p.playbook_id for p in view.playbooks if p.best] == [top.playbook_id]
    assert view.interventions == [] and "Interventions: none on record" in view.to_text()
    with pytest.raises(DataUnavailableError, match="no customer 'C999999'"):
        reader.get_view("customer_journey", customer_id="C999999")


def test_playbooks_count_the_customers_matching_gives_each(reader: DataAgent) -> None:
    view = reader.get_view("playbooks")
    found = _candidates(reader)
    assert [p.playbook_id for p in view.playbooks] == [p.playbook_id for p in load_playbooks().playbooks]
    taken = Counter(c.playbook.playbook_id for c in found)
    assert {p.playbook_id: p.eligible_customers for p in view.playbooks} == {
        p.playbook_id: taken.get(p.playbook_id, 0) for p in load_playbooks().playbooks}
    for p in view.playbooks:
        assert sum(s.customers for s in p.by_segment) == p.eligible_customers
        assert p.expected_cost == round(sum(c.expected_cost_cents for c in found if c.playbook.playbook_id == p.playbook_id) / 100, 2)
    assert view.run_id is None and all(p.status == "active" and p.retired_on is None for p in view.playbooks)
    pairs = Counter((c.playbook.playbook_id, c.segment) for c in found)
    assert {(r.playbook_id, r.segment): r.customers for r in view.recommended} == dict(pairs)
    net = [r.expected_value - r.expected_cost for r in view.recommended]
    assert net == sorted(net, reverse=True)


def test_a_retirement_by_the_latest_run_shows_and_stops_launches(agent: DataAgent) -> None:
    customer, playbook = _pick(agent, approval=False)
    run = _new_run(agent)
    with agent.ops.transaction() as conn:
        records.retire_playbooks(conn, run, [playbook], agent.clock - dt.timedelta(days=3), "ROI below the floor")
    view = agent.get_view("playbooks")
    retired = next(p for p in view.playbooks if p.playbook_id == playbook)
    assert (view.run_id, retired.status, retired.retired_on, retired.eligible_customers) == (
        run, "retired", agent.clock - dt.timedelta(days=3), 0)
    assert f"retired on {retired.retired_on}" in view.to_text()
    perf = agent.get_view("playbook_performance")
    assert perf.source == "run" and perf.run_id == run and perf.retired == {playbook: retired.retired_on}
    with pytest.raises(ActionFailedError, match=f"playbook {playbook} was retired by orchestrator run #{run}"):
        call_tool(agent, "launch_intervention", {"customer_id": customer, "playbook_id": playbook}, actor="test")


def _outcome(iv: str, customer: str, playbook: str, segment: str, saved: int, cost: int, kept: bool) -> Outcome:
    return Outcome(intervention_id=iv, customer_id=customer, playbook_id=playbook, segment=segment,
                   outcome="kept" if kept else "no_change", resolution_time_days=None, churn_risk_delta=None,
                   revenue_saved_cents=saved, cost_cents=cost, kept=kept, human_override=False,
                   measured_at=dt.date(2025, 5, 1))  # fmt: skip


def test_performance_outside_runs_then_of_a_run(agent: DataAgent) -> None:
    empty = agent.get_view("playbook_performance")
    assert (empty.source, empty.measured_runs, empty.rows, empty.roi_ratio) == ("outside_runs", 0, [], None)
    outside = [_outcome("IV-cj-1", "C1", "PB_ENG_001", "loyal", 5000, 500, True),
               _outcome("IV-cj-2", "C2", "PB_ENG_001", "loyal", 0, 500, False),
               _outcome("IV-cj-3", "C3", "PB_NEWS_001", "casual", 0, 50, False)]
    with agent.ops.transaction() as conn:
        records.insert_outcomes(conn, None, outside)
    view = agent.get_view("playbook_performance")
    rows = performance(outside, agent.clock)
    assert [(r.playbook_id, r.segment, r.runs, r.roi_ratio) for r in view.rows] == [
        (r.playbook_id, r.segment, r.runs, r.roi_ratio) for r in rows]
    assert (view.measured_runs, view.total_value, view.total_cost, view.roi_ratio) == (3, 50.0, 10.5, round(5000 / 1050, 4))
    run = _new_run(agent)
    with agent.ops.transaction() as conn:
        records.append_performance(conn, run, rows[:1])
    of_run = agent.get_view("playbook_performance")
    assert (of_run.source, of_run.run_id, of_run.measured_runs) == ("run", run, 2)
    assert agent.get_view("playbook_performance", run_id=run) == of_run
    with pytest.raises(DataUnavailableError, match=f"no orchestrator run #{run + 1}; runs in the store: #{run}"):
        agent.get_view("playbook_performance", run_id=run + 1)


def test_portfolio_snapshot_stored_or_computed(agent: DataAgent) -> None:
    day = agent.clock
    live = agent.get_view("portfolio_snapshot")
    f = agent.read_source(lambda c: forecast(c, day))
    now = agent.read_source(lambda c: journey_positions(c, day))
    assert live.source == "computed" and live.run_id is None
    assert live.total_customers == sum(p.stage != "churned" for p in now.values())
    assert live.revenue_at_risk == round(sum(x.revenue_at_risk_cents for x in f.forecasts.values()) / 100, 2)
    assert live.top_leaking_stage == agent.get_view("journey_overview").top_leaking_stage
    assert "computed from today's positions" in live.to_text()
    run = _new_run(agent)
    stored = PortfolioSnapshot("PS_2025_04_20", 700, 70, 1_234_500, "retention", ("PB_ENG_001",), day - dt.timedelta(days=2))
    later = PortfolioSnapshot("PS_2025_04_23", 1, 1, 1, None, (), day + dt.timedelta(days=1))
    with agent.ops.transaction() as conn:
        records.write_snapshot(conn, run, stored)
        records.write_snapshot(conn, run, later)
    view = agent.get_view("portfolio_snapshot")
    assert (view.source, view.run_id, view.snapshot_id, view.revenue_at_risk, view.top_playbooks) == (
        "stored", run, "PS_2025_04_20", 12345.0, ["PB_ENG_001"])
    earlier = agent.get_view("portfolio_snapshot", date=day - dt.timedelta(days=5))
    assert earlier.source == "computed"  # the run's snapshots are all after that date


def test_launch_writes_a_row_that_lands_tomorrow(agent: DataAgent) -> None:
    customer, playbook = _pick(agent, approval=False)
    _, out = call_tool(agent, "launch_intervention", {"customer_id": customer, "playbook_id": playbook}, actor="cj")
    res = out["result"]
    iv = f"IV-cj-{agent.clock:%Y%m%d}-{customer}-{playbook}"
    assert (res["intervention_id"], res["status"], res["awaiting_approval"]) == (iv, "launched", None)
    assert res["lands_on"] == (agent.clock + dt.timedelta(days=1)).isoformat()
    (row,) = agent.ops.read(lambda c: records.read_interventions(c, launched_by_cj=True))
    assert (row.run_id, row.status, row.executed_action, row.decided_by) == (
        None, "launched", row.recommended_action, "cj")
    assert row.recommended_action == tuple(load_playbooks().get(playbook).default_actions)
    _, again = call_tool(agent, "launch_intervention", {"customer_id": customer, "playbook_id": playbook}, actor="cj")
    assert again["status"] == "duplicate" and len(agent.ops.read(lambda c: records.read_interventions(c))) == 1
    _, noop = call_tool(agent, "approve_intervention", {"intervention_id": iv}, approval="approved", actor="merchant")
    assert (noop["result"]["changed"], noop["result"]["status"], noop["result"]["decided_by"]) == (False, "launched", "cj")
    journey = agent.get_view("customer_journey", customer_id=customer)
    assert [(i.intervention_id, i.status, i.outcome) for i in journey.interventions] == [(iv, "launched", None)]
    with agent.ops.transaction() as conn:
        records.insert_outcomes(conn, None, [_outcome(iv, customer, playbook, row.segment, 4200, 300, True)])
    measured = agent.get_view("customer_journey", customer_id=customer).interventions[0].outcome
    assert measured is not None and (measured.outcome, measured.revenue_saved, measured.cost) == ("kept", 42.0, 3.0)
    assert "kept, saved $42.00 for $3.00" in agent.get_view("customer_journey", customer_id=customer).to_text()


def test_a_gated_playbook_waits_for_the_merchants_approval(agent: DataAgent) -> None:
    customer, playbook = _pick(agent, approval=True)
    _, out = call_tool(agent, "launch_intervention", {"customer_id": customer, "playbook_id": playbook}, actor="cj")
    iv = out["result"]["awaiting_approval"]
    assert out["result"]["status"] == "pending_approval" and iv == out["result"]["intervention_id"]
    with pytest.raises(ActionDeclinedError, match="needs approval and none was given"):
        call_tool(agent, "approve_intervention", {"intervention_id": iv}, actor="cj")
    assert agent.ops.read(lambda c: records.get_intervention(c, iv)).status == "pending_approval"
    _, done = call_tool(agent, "approve_intervention", {"intervention_id": iv}, approval="approved", actor="cj")
    assert (done["result"]["status"], done["result"]["executed_action"]) == (
        "launched", list(load_playbooks().get(playbook).default_actions))
    with pytest.raises(ActionFailedError, match=f"intervention {iv} is launched, not pending approval"):
        call_tool(agent, "override_intervention", {"intervention_id": iv, "reason": "too late"}, actor="cj")


def test_an_override_runs_another_action_or_nothing(agent: DataAgent) -> None:
    gated = [c for c in _candidates(agent) if c.playbook.approval_required][:2]
    ids = []
    for c in gated:
        _, out = call_tool(agent, "launch_intervention", {"customer_id": c.customer_id,
                                                          "playbook_id": c.playbook.playbook_id}, actor="cj")  # fmt: skip
        ids.append(out["result"]["intervention_id"])
    _, a = call_tool(agent, "override_intervention", {"intervention_id": ids[0], "action": "personal_checkin",
                                                      "reason": "A note suits them better"}, actor="merchant")  # fmt: skip
    _, b = call_tool(agent, "override_intervention", {"intervention_id": ids[1], "reason": "Leave them be"}, actor="merchant")
    assert (a["result"]["status"], a["result"]["executed_action"], a["result"]["note"]) == (
        "overridden", ["personal_checkin"], "A note suits them better")
    assert (b["result"]["status"], b["result"]["executed_action"]) == ("overridden", [])
    assert agent.ops.read(lambda c: records.get_intervention(c, ids[1])).human_override


@pytest.mark.parametrize(("tool", "args", "error", "message"), [
    ("launch_intervention", {"customer_id": "C000390", "playbook_id": "PB_NOPE"}, ActionFailedError,
     "unknown playbook 'PB_NOPE'; choose one of PB_ONB_001"),
    ("launch_intervention", {"customer_id": "NOPE", "playbook_id": "PB_ENG_001"}, ActionFailedError,
     "no customer 'NOPE' on 2025-04-22; find ids with get_churn_forecast"),
    ("launch_intervention", {"customer_id": "C000042", "playbook_id": "PB_ENG_001"}, ActionFailedError,
     "playbook PB_ENG_001 does not apply to C000042 on 2025-04-22: it is for the churn_risk stage and the customer "
     "is in retention; get_customer_journey lists the playbooks that do"),
    ("launch_intervention", {"customer_id": "C000390", "playbook_id": "PB_RET_001"}, ActionFailedError,
     "it is for deal_seeker, casual customers and the customer is engaged"),
    ("launch_intervention", {"customer_id": "C000390"}, InvalidArgumentError, "playbook_id: Field required"),
    ("approve_intervention", {"intervention_id": "X-1"}, InvalidArgumentError,
     "'X-1' is not an intervention id; ids look like IV-cj-20250422-C000123-PB_ENG_001"),
    ("approve_intervention", {"intervention_id": "IV-cj-20250422-C000999-PB_ENG_001"}, ActionFailedError,
     "no intervention IV-cj-20250422-C000999-PB_ENG_001"),
    ("override_intervention", {"intervention_id": "IV-cj-20250422-C000390-PB_ENG_001", "action": "teleport",
                               "reason": "x"}, InvalidArgumentError, "unknown action 'teleport'; choose one of generic_newsletter"),
    ("override_intervention", {"intervention_id": "IV-cj-20250422-C000390-PB_ENG_001"}, InvalidArgumentError,
     "reason: Field required"),
])  # fmt: skip
def test_every_bad_input_gets_one_clear_message(agent: DataAgent, tool: str, args: dict, error: type, message: str) -> None:
    assert agent.clock == dt.date(2025, 4, 22)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_tool(agent, tool, args, approval="approved", actor="cj")


def test_a_playbook_that_is_not_active_is_refused(agent: DataAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    customer, playbook = _pick(agent, approval=False)
    book = load_playbooks()
    draft = book.model_copy(update={"playbooks": [p.model_copy(update={"status": "draft"}) if p.playbook_id == playbook
                                                  else p for p in book.playbooks]})  # fmt: skip
    monkeypatch.setattr(interventions, "load_playbooks", lambda: draft)
    with pytest.raises(ActionFailedError, match=f"playbook {playbook} is draft, not active; launch an active one: PB_"):
        call_tool(agent, "launch_intervention", {"customer_id": customer, "playbook_id": playbook}, actor="cj")
