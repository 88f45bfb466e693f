"""Journey signals: strengths rescaled per type, weights learned from the data's own past."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from app.agents.data_agent import DataAgent
from app.health.settings import load_health_settings
from app.health.store import health_at
from app.health.truth import leavers
from app.journeys.signals import _ratio, fit_signal_model, journey_signals, strongest
from app.world.world import World, snapshot


def test_ratio_shrinks_toward_one() -> None:
    # 3 of 10 left against a base of 0.1: (3 + 5 x 0.1) / (10 + 5) / 0.1 = 2.3333
    assert _ratio(3, 10, 0.1) == 2.3333
    assert _ratio(0, 0, 0.1) == 1.0  # no customers: no evidence either way
    assert _ratio(5, 5, 0.0) == 1.0


def test_signal_weights_use_nothing_after_their_date() -> None:
    agent = DataAgent.create("churn_spike", "sarah_chen", seed=1)
    w = agent.world
    day = w.as_of - dt.timedelta(days=20)
    past = DataAgent(World(spec=w.spec, start=w.start, as_of=day, horizon=day, tables=snapshot(w.tables, day)))
    with agent.engine.connect() as a, past.engine.connect() as b:
        assert fit_signal_model(a, day) == fit_signal_model(b, day)
        model = fit_signal_model(a, day)
        assert journey_signals(a, day, model) == journey_signals(b, day, model)


def test_weights_are_leave_rates_over_the_base_rate() -> None:
    agent = DataAgent.create("churn_spike", "sarah_chen", seed=0)
    day = agent.world.as_of
    s = load_health_settings()
    with agent.engine.connect() as conn:
        model = fit_signal_model(conn, day)
        # recount engagement drops by hand from the raw rows at both anchors
        n = left = 0
        with_drop = [0, 0]
        for k in (1, 2):
            anchor = day - dt.timedelta(days=30 * k)
            h = health_at(conn, anchor, s)
            ids = [r.customer_id for r in h.worst(h.size())]
            gone = leavers(conn, ids, anchor, s)
            dropped = {r["customer_id"] for r in agent.world.tables["customer_signals"]
                       if r["signal_type"] == "engagement_drop"
                       and anchor - dt.timedelta(days=30) < r["detected_on"] <= anchor}  # fmt: skip
            for c in ids:
                n += 1
                left += c in gone
                if c in dropped:
                    with_drop[0] += 1
                    with_drop[1] += c in gone
        base = left / n
        assert model.base_rate == round(base, 4)
        assert model.risk_weights["engagement_drop"] == _ratio(with_drop[1], with_drop[0], base)
        assert model.risk_weights["engagement_drop"] > 1  # a drop foretells leaving in this world
        signals = journey_signals(conn, day, model)
    by_type: dict[str, list[float]] = defaultdict(list)
    for found in signals.values():
        assert [x.weight for x in found] == sorted((x.weight for x in found), reverse=True)
        for x in found:
            by_type[x.signal_type].append(x.normalized_strength)
            assert day - dt.timedelta(days=30) < x.detected_at <= day
    assert all(0.0 <= v <= 1.0 for vs in by_type.values() for v in vs)
    some = next(iter(signals.values()))
    assert strongest(some, 2) == tuple(x.signal_id for x in some[:2])
