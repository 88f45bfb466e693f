"""Journey forecasts: calibrated on the past only, monotone in risk, scored against the future."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pytest

from app.agents.data_agent import DataAgent
from app.journeys.forecast import _monotone, forecast, forecast_accuracy
from app.journeys.playbooks import JOURNEY_STAGES
from app.world.world import World, snapshot


@lru_cache(maxsize=4)
def _agent(scenario: str, persona: str, seed: int = 0) -> DataAgent:
    return DataAgent.create(scenario, persona, seed=seed)


def _day(agent: DataAgent) -> dt.date:
    return agent.world.horizon - dt.timedelta(days=30)  # the latest date with a whole horizon after it


def test_pool_adjacent_violators_known_answer() -> None:
    # 0.3 > 0.1 violates: pooled with weights 1 and 3 -> (0.3 + 0.3) / 4 = 0.15 for both
    assert _monotone([0.05, 0.3, 0.1, 0.4], [2, 1, 3, 1]) == pytest.approx([0.05, 0.15, 0.15, 0.4])
    assert _monotone([0.1, 0.2], [1, 1]) == [0.1, 0.2]


def test_forecasts_use_nothing_after_their_date() -> None:
    agent = _agent("churn_spike", "sarah_chen")
    day = _day(agent)
    w = agent.world
    past_only = DataAgent(World(spec=w.spec, start=w.start, as_of=day, horizon=day, tables=snapshot(w.tables, day)))
    with agent.engine.connect() as full, past_only.engine.connect() as cut:
        assert forecast(full, day) == forecast(cut, day)


def test_forecast_fields() -> None:
    agent = _agent("churn_spike", "sarah_chen")
    day = _day(agent)
    with agent.engine.connect() as conn:
        f = forecast(conn, day)
    assert f.forecasts and list(f.band_rates) == sorted(f.band_rates)
    for jf in f.forecasts.values():
        assert jf.current_stage != "churned" and set(jf.predicted_path) <= set(JOURNEY_STAGES)
        assert 0 <= jf.churn_probability <= 1 and 0 <= jf.recovery_probability <= 1
        assert jf.churn_probability in f.band_rates
    by_stage = {s: [jf.churn_probability for jf in f.forecasts.values() if jf.current_stage == s]
                for s in ("churn_risk", "retention")}  # fmt: skip
    assert sum(by_stage["churn_risk"]) / len(by_stage["churn_risk"]) > 5 * sum(by_stage["retention"]) / len(by_stage["retention"])
    # revenue at risk: a year of the customer's last 30 days of charged orders, times the probability
    cid, jf = next((c, j) for c, j in sorted(f.forecasts.items()) if j.revenue_at_risk_cents > 0)
    recent = sum(o["amount_cents"] for o in agent.world.tables["orders"]
                 if o["customer_id"] == cid and o["status"] in ("paid", "refunded")
                 and day - dt.timedelta(days=30) < o["ordered_on"] <= day)  # fmt: skip
    assert jf.revenue_at_risk_cents == round(jf.churn_probability * recent * 365 / 30)


@pytest.mark.parametrize(("scenario", "persona"), [("churn_spike", "zoe_martinez"), ("steady_operations", "sarah_chen")])
def test_forecasts_beat_the_base_rate_and_rank_the_leavers(scenario: str, persona: str) -> None:
    agent = _agent(scenario, persona)
    with agent.engine.connect() as conn:
        acc = forecast_accuracy(conn, _day(agent))
    assert acc.customers > 500 and acc.leavers > 20
    assert acc.skill is not None and acc.skill > 0  # a lower Brier score than everyone at the base rate
    filled = [b for b in acc.reliability if b.count >= 15]
    assert filled[-1].observed_rate > filled[0].observed_rate  # the riskiest forecasts leave most
