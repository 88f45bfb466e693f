"""Health model 3: complaints and failed payments weigh fully while recent, the component floor of the
geometric and harmonic means, and the generator's true pick weights the ceiling is measured with.

Every expected number is worked out by hand in the comments from docs/health.md and the fixed
settings ``S`` of tests/test_health.py (negative 0.35, failed_payment 0.4, refund 0.15, recent_days
30, stale_share 0.5, component_floor 0.05; weights usage 0.15, engagement 0.5, support 0.15,
financial 0.1, relationship 0.1).
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from app.errors import InvalidArgumentError
from app.health.inputs import HealthInputs, SourceCoverage, TicketFact, gather_inputs
from app.health.model import combine, financial, support
from app.storage.loader import create_schema, insert_rows, memory_engine
from tests.test_health import D, S, world

COV = SourceCoverage(signals=True, tickets=True, subscriptions=True)
NAMES = ("usage", "engagement", "support", "financial", "relationship")


def _ticket(tid: str, days_ago: int, sentiment: str = "negative") -> TicketFact:
    # answered in 1 hour, resolved, unrated: only the sentiment can count
    created = dt.datetime.combine(D - dt.timedelta(days=days_ago), dt.time(9))
    return TicketFact(tid, created, sentiment, resolved=True, csat=None, response_hours=1.0, answered=True)


def test_a_recent_complaint_weighs_fully_an_older_one_half() -> None:
    inp = HealthInputs("X", D, tickets=[_ticket("T1", 40), _ticket("T2", 29), _ticket("T3", 5, "positive")])
    value, factors = support(inp, S, COV)
    # T2 (29 days < 30): 1 - 0.35 = 0.65; T1 (40 days): 1 - 0.5 x 0.35 = 0.825; T3 positive: 1
    # 0.65 x 0.825 = 0.53625 -> 0.5363 at 4 decimals
    assert value == round(0.65 * 0.825, 4) == 0.5363
    assert [(f.name, f.count) for f in factors] == [("negative_ticket", 2)]


def test_a_complaint_exactly_recent_days_old_is_stale() -> None:
    value, _ = support(HealthInputs("X", D, tickets=[_ticket("T1", 30)]), S, COV)
    assert value == round(1 - 0.5 * 0.35, 4) == 0.825


def test_stale_share_one_is_the_previous_model() -> None:
    s = S.model_copy(update={"support": S.support.model_copy(update={"stale_share": 1.0})})
    value, _ = support(HealthInputs("X", D, tickets=[_ticket("T1", 40), _ticket("T2", 29)]), s, COV)
    assert value == round(0.65 * 0.65, 4) == 0.4225


def test_recent_failed_payments_weigh_fully_older_ones_half() -> None:
    inp = HealthInputs("X", D, last_order_on=D, failed_payments=3, recent_failed_payments=1, refunds=1)
    value, factors = financial(inp, S, COV)
    # 1 recent: 0.6; 2 older: (1 - 0.5 x 0.4)^2 = 0.8^2 = 0.64; 1 refund: 0.85 -> 0.6 x 0.64 x 0.85 = 0.3264
    assert value == round(0.6 * 0.64 * 0.85, 4) == 0.3264
    assert [f.name for f in factors] == ["failed_payment", "refund"]


def test_inputs_count_recent_failed_payments() -> None:
    rows = world()
    rows["orders"].append({"order_id": "OA5", "customer_id": "A", "subscription_id": None,
                           "ordered_on": D - dt.timedelta(days=50), "amount_cents": 3000, "status": "failed"})  # fmt: skip
    engine = memory_engine()
    create_schema(engine)
    insert_rows(engine, rows)
    with engine.connect() as conn:
        a = gather_inputs(conn, D, S)["A"]
    # OA3 failed 20 days ago (recent), OA5 50 days ago (in the 90-day window, not recent)
    assert (a.failed_payments, a.recent_failed_payments) == (2, 1)
    # financial: 0.6 (recent) x 0.8 (older) x 0.85 (the refund of OA2) = 0.408
    assert financial(a, S, COV)[0] == round(0.6 * 0.8 * 0.85, 4) == 0.408


def test_the_floor_keeps_the_harmonic_mean_informative() -> None:
    zero = dict.fromkeys(NAMES, 1.0) | {"engagement": 0.0}
    # engagement counts as the floor 0.05: 1 / (0.5 / 0.05 + 0.15 + 0.15 + 0.1 + 0.1) = 1 / 10.5 = 0.095238
    assert combine(zero, S) == (round(1 / 10.5, 4), 1.0) == (0.0952, 1.0)
    worse = zero | {"support": 0.5}
    # support 0.5 adds 0.15 / 0.5 - 0.15 = 0.15: 1 / 10.65 = 0.093897 -> lower overall, higher risk
    assert combine(worse, S)[0] == round(1 / 10.65, 4) == 0.0939 < combine(zero, S)[0]
    # 0.02 lies below the floor too: the same overall as 0
    assert combine(zero | {"engagement": 0.02}, S)[0] == combine(zero, S)[0]


def test_the_floor_in_the_geometric_mean_and_not_in_the_arithmetic() -> None:
    comps = {"usage": 0.0, "engagement": 1.0, "support": None, "financial": None, "relationship": None}
    geo = S.model_copy(update={"mean": "geometric"})
    # exp((0.15 ln 0.05 + 0.5 ln 1) / 0.65) = 0.05^(0.15 / 0.65) = 0.05^0.230769 = 0.50091
    assert combine(comps, geo)[0] == round(math.exp(0.15 * math.log(0.05) / 0.65), 4) == 0.5009
    arith = S.model_copy(update={"mean": "arithmetic"})
    assert combine(comps, arith)[0] == round(0.5 / 0.65, 4) == 0.7692  # (0.15 x 0 + 0.5 x 1) / 0.65


@pytest.fixture(scope="module")
def generated():
    from app.agents.data_agent import DataAgent
    from app.world.propensity import pick_weights

    agent = DataAgent.create("shipping_crisis", "sarah_chen", seed=0)
    return agent, pick_weights(agent.world, agent.world.as_of)


def test_pick_weights_follow_the_rows_as_the_generator_describes(generated) -> None:
    from app.world.behaviour import BASELINE, SEGMENTS

    agent, weights = generated
    w, day = agent.world, agent.world.as_of
    t = w.tables
    active = {s["customer_id"] for s in t["subscriptions"]
              if s["started_on"] <= day and (s["cancelled_on"] is None or s["cancelled_on"] > day)}  # fmt: skip
    assert set(weights) == active
    segment = {c["customer_id"]: c["segment_hint"] for c in t["customers"]}
    base = {s.hint: s.propensity for s in SEGMENTS}
    failed = {o["customer_id"]: o["ordered_on"] for o in sorted(t["orders"], key=lambda o: o["ordered_on"])
              if o["status"] == "failed" and o["ordered_on"] <= day}  # fmt: skip
    complaint = {x["customer_id"]: x["created_at"].date() for x in sorted(t["support_tickets"], key=lambda x: x["created_at"])
                 if x["sentiment"] == "negative" and x["created_at"].date() <= day}  # fmt: skip
    boosted = 0
    for cid, pw in weights.items():
        # the propensity is the segment's times a jitter kept within [0.6, 1.5] (population.draw_profile)
        assert 0.6 * base[segment[cid]] - 1e-9 <= pw.segment_propensity <= 1.5 * base[segment[cid]] + 1e-9
        expected = pw.segment_propensity
        # the next day's pick: a failure or complaint at most 30 days before it boosts
        if cid in failed and (day - failed[cid]).days + 1 <= 30:
            expected *= BASELINE.recent_failure_boost
        if cid in complaint and (day - complaint[cid]).days + 1 <= 30:
            expected *= BASELINE.recent_complaint_boost
        if pw.drifting:
            expected *= BASELINE.drift_boost
        assert pw.weight == pytest.approx(min(expected, BASELINE.weight_cap))
        assert 0 < pw.ahead <= BASELINE.weight_cap
        boosted += pw.weight > pw.segment_propensity
    assert boosted > 0 and any(pw.drifting for pw in weights.values())


def test_pick_weights_refuse_dates_outside_the_world(generated) -> None:
    from app.world.propensity import pick_weights

    agent, _ = generated
    with pytest.raises(InvalidArgumentError, match="outside the simulated frame"):
        pick_weights(agent.world, agent.world.horizon + dt.timedelta(days=1))
    with pytest.raises(InvalidArgumentError, match="ahead_days"):
        pick_weights(agent.world, agent.world.as_of, ahead_days=0)


def _ceiling_bench():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_health_ceiling.py"
    spec = importlib.util.spec_from_file_location("bench_health_ceiling", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclass looks its module up there
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name], path


def test_ceiling_ranking_breaks_ties_at_the_cut_evenly() -> None:
    bench, _ = _ceiling_bench()
    score = {"a": 12.0, "b": 6.0, "c": 6.0, "d": 6.0, "e": 1.0}
    # k = 2: "a" (left) above the cut, then 1 of the 3 tied at 6.0, of whom "b" and "c" left: 1 + 1 x 2/3
    assert bench.top_k_right(score, {"a", "b", "c"}, 2) == pytest.approx(1 + 2 / 3)
    assert bench.top_k_right(score, {"e"}, 5) == 1.0 and bench.top_k_right(score, {"a"}, 0) == 0.0


def test_ceiling_bench_refuses_an_unknown_scenario_in_one_line() -> None:
    import subprocess
    import sys

    _, path = _ceiling_bench()
    out = subprocess.run([sys.executable, str(path), "--scenarios", "nope"], capture_output=True, text=True, check=False)
    assert out.returncode == 2 and "unknown scenario(s) nope; known:" in out.stderr and "Traceback" not in out.stderr
