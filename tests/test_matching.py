"""Playbook matching: eligibility and the expected value, declared until measured."""

from __future__ import annotations

import datetime as dt

from app.journeys.forecast import Forecasts, JourneyForecast
from app.journeys.learning import Run, value_per_risk
from app.journeys.matching import _FEW, candidates, segments_of
from app.journeys.playbooks import load_playbooks
from app.journeys.stages import JourneyPosition
from tests.conftest import cached_agent

D = dt.date(2025, 3, 1)


def _forecasts(probabilities: dict[str, float]) -> Forecasts:
    fs = {c: JourneyForecast(f"JF-{c}", c, "churn_risk", ("churn_risk", "churned"), 0.5, p, 0.2, 10_000, D)
          for c, p in probabilities.items()}  # fmt: skip
    return Forecasts(D, 30, 0.1, (0.1,) * 10, {}, fs)


POSITIONS = {
    "A": JourneyPosition("A", "churn_risk", 0.7, "high", 100, "health risk 0.70 above 0.6"),
    "B": JourneyPosition("B", "churn_risk", 0.7, "high", 100, "health risk 0.70 above 0.6"),
    "C": JourneyPosition("C", "retention", 0.2, "low", 400, "customer for 400 days"),
}
SEGMENTS = {"A": "loyal", "B": "loyal", "C": "loyal"}


def test_declared_value_times_churn_probability_until_measured() -> None:
    found = {c.customer_id: c for c in candidates(POSITIONS, _forecasts({"A": 0.5, "B": 0.1, "C": 0.05}), SEGMENTS,
                                                  load_playbooks())}  # fmt: skip
    assert "C" not in found  # no playbook for retention at risk 0.2
    a = found["A"]
    # loyal in churn_risk at 0.7: PB_ENG_001 (value 40-250, cost 3) and PB_PAY_001 (5-60, cost 0.2) apply;
    # PB_ENG_001: 145 x 0.5 = 72.50 - 3.00 beats PB_PAY_001: 32.50 x 0.5 = 16.25 - 0.20
    assert (a.playbook.playbook_id, a.expected_value_cents, a.expected_cost_cents) == ("PB_ENG_001", 7250, 300)
    assert found["B"].expected_value_cents == 1450  # 145 x 0.1
    assert [c.customer_id for c in candidates(POSITIONS, _forecasts({"A": 0.5, "B": 0.1}), SEGMENTS,
                                              load_playbooks())] == ["A", "B"]  # most net value first


def test_measured_value_replaces_the_declared_one() -> None:
    f = _forecasts({"A": 0.5})
    # measured in the segment: 400 cents per unit of churn probability -> 400 x 0.5 = 200 < PB_PAY_001's 16.25
    seg = candidates(POSITIONS, f, SEGMENTS, load_playbooks(), learned={("PB_ENG_001", "loyal"): 400.0})
    assert (seg[0].playbook.playbook_id, seg[0].expected_value_cents) == ("PB_PAY_001", 1625)
    # nothing measured in the segment: the playbook's estimate over all segments
    pooled = candidates(POSITIONS, f, SEGMENTS, load_playbooks(), learned={("PB_ENG_001", ""): 11000.0,
                                                                          ("PB_ENG_001", "casual"): 1.0})
    assert (pooled[0].playbook.playbook_id, pooled[0].expected_value_cents) == ("PB_ENG_001", 5500)
    # a retired playbook is never matched; a running customer is skipped
    left = candidates(POSITIONS, f, SEGMENTS, load_playbooks(), retired={"PB_ENG_001"})
    assert left[0].playbook.playbook_id == "PB_PAY_001"
    assert candidates(POSITIONS, f, SEGMENTS, load_playbooks(), exclude={"A"}) == []


def test_value_per_risk_is_an_optimistic_mean_per_unit_of_churn_probability() -> None:
    runs = [Run("P", "loyal", 0.5, v) for v in (0, 0, 1000, 0)] + [Run("P", "casual", 0.25, 500)]
    est = value_per_risk(runs, learned_after=4)
    # loyal: 0, 0, 2000, 0 per unit (mean 500, sd 1000, se 500): 500 + 1.645 x 500 = 1322.5
    assert est[("P", "loyal")] == 1322.5
    # all segments: 0, 0, 2000, 0, 2000 (mean 800, sd 1095.45, se 489.90): 800 + 1.645 x 489.90 = 1605.88
    assert est[("P", "")] == 1605.88
    assert ("P", "casual") not in est  # one run: too few to replace the declared value
    assert value_per_risk(runs, learned_after=4, z=0)[("P", "loyal")] == 500.0


def test_segments_of_a_few_customers_or_many_are_those_of_everyone() -> None:
    agent = cached_agent("churn_spike", "sarah_chen")
    with agent.engine.connect() as conn:
        everyone = segments_of(conn)
        ids = sorted(everyone)
        assert len(ids) > _FEW and len(set(everyone.values())) > 1
        for wanted in (ids[:1], ids[:_FEW], ids[: _FEW + 1], [*ids[:3], "nobody"]):  # by key, then with everyone
            assert segments_of(conn, wanted) == {c: everyone[c] for c in wanted if c in everyone}
