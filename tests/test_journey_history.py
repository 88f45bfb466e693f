"""What the fits read of past dates: the orchestrator's kept history equals computing it from the source."""

from __future__ import annotations

import datetime as dt

from app.agents.data_agent import DataAgent
from app.health.settings import load_health_settings
from app.health.store import health_at
from app.journeys.forecast import ANCHORS, fit_forecast_model
from app.journeys.history import RunHistory, SourceHistory, anchors, risks_at
from app.journeys.signals import fit_signal_model
from app.journeys.stages import journey_positions, load_journey_settings

S = load_health_settings()
H = S.monitoring.horizon_days


def test_risks_of_many_dates_equal_each_dates_health() -> None:
    agent = DataAgent.create("churn_spike", "sarah_chen")
    days = [agent.world.as_of - dt.timedelta(days=d) for d in (3, 40, 75, 140)]
    with agent.engine.connect() as conn:
        got = risks_at(conn, days, S)
        for day in days:
            health = health_at(conn, day, S)
            assert got[day] == {r.customer_id: r.risk for r in health.worst(health.size())}
    assert all(got.values())


def test_the_run_history_reads_what_the_source_history_computes() -> None:
    # a run of 20 days refitting weekly: its refits read dates before the run (scored at setup) and
    # none observed yet; each fit equals the one computed from the source
    agent = DataAgent.create("growth_stall", "marcus_thompson")
    last = agent.world.as_of
    first = last - dt.timedelta(days=19)
    past = RunHistory(S, load_journey_settings(), first, last, refit_every=7, anchor_count=ANCHORS)
    assert past.before == sorted(a for r in (first, first + dt.timedelta(7), first + dt.timedelta(14))
                                 for a in anchors(r, H, ANCHORS))  # fmt: skip
    with agent.engine.connect() as conn:
        past.prepare(conn)
        # leavers of the dates whose horizon ends by the first day are final at setup
        assert set(past._left) == {a for a in past.before if a + dt.timedelta(days=H) <= first} != set()
        day = first
        while day <= last:
            health = health_at(conn, day, S)
            risks = {r.customer_id: r.risk for r in health.worst(health.size())}
            past.observed(day, risks, journey_positions(conn, day, health=health, health_settings=S))
            if (day - first).days % 7 == 0:
                run, source = past.reader(conn, day), SourceHistory(conn, S)
                for a in anchors(day, H, ANCHORS):
                    assert run.risks(a) == source.risks(a) and set(run.leavers(a)) == set(source.leavers(a)), a
                assert run.stages(day - dt.timedelta(days=H)) == source.stages(day - dt.timedelta(days=H))
                assert fit_forecast_model(conn, day, S, history=run) == fit_forecast_model(conn, day, S)
                assert fit_signal_model(conn, day, S, history=run) == fit_signal_model(conn, day, S)
            past.forget(day)
            day += dt.timedelta(days=1)
    assert not past._risks and not past._stages and not past._left  # nothing kept after the last refit
