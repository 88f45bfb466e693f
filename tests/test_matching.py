"""Playbook matching: eligibility and the expected value, declared until measured."""

from __future__ import annotations

import datetime as dt

from app.journeys.forecast import Forecasts, JourneyForecast
from app.journeys.learning import PerformanceRow
from app.journeys.matching import candidates
from app.journeys.playbooks import load_playbooks
from app.journeys.stages import JourneyPosition

D = dt.date(2025, 3, 1)


def _forecasts(probabilities: dict[str, float]) -> Forecasts:
    fs = {c: JourneyForecast(f"JF-{c}", c, "churn_risk", ("churn_risk", "churned"), 0.5, p, 0.2, 10_000, D)
          for c, p in probabilities.items()}  # fmt: skip
    return Forecasts(D, 30, 0.1, (0.1,) * 10, {}, fs)


def _row(pid: str, seg: str, runs: int, value: float) -> PerformanceRow:
    return PerformanceRow(pid, seg, runs, 0.5, 300.0, value, value / 300, 0.0, D)


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
    # 10 measured runs in the segment: their mean value is the expectation (here 2.00 < PB_PAY_001's 16.25)
    seg = candidates(POSITIONS, f, SEGMENTS, load_playbooks(), performance=[_row("PB_ENG_001", "loyal", 10, 200)])
    assert (seg[0].playbook.playbook_id, seg[0].expected_value_cents) == ("PB_PAY_001", 1625)
    # fewer than 10 in the segment but 10 over all: the pooled mean, (4 x 100 + 6 x 9100) / 10 = 5500
    pooled = candidates(POSITIONS, f, SEGMENTS, load_playbooks(),
                        performance=[_row("PB_ENG_001", "loyal", 4, 100), _row("PB_ENG_001", "casual", 6, 9100)])
    assert (pooled[0].playbook.playbook_id, pooled[0].expected_value_cents) == ("PB_ENG_001", 5500)
    # a retired playbook is never matched; a running customer is skipped
    left = candidates(POSITIONS, f, SEGMENTS, load_playbooks(), retired={"PB_ENG_001"})
    assert left[0].playbook.playbook_id == "PB_PAY_001"
    assert candidates(POSITIONS, f, SEGMENTS, load_playbooks(), exclude={"A"}) == []
