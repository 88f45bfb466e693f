"""The orchestrator: the world it observes, the gate, the learning loop, recommend-only on a database."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from app.errors import InvalidArgumentError
from app.health.inputs import subscription_facts
from app.health.settings import load_health_settings
from app.health.store import health_at
from app.journeys.observe import TreatedWorldDatabase
from app.journeys.records import read_interventions, read_outcomes, read_snapshots, retired_playbooks
from app.journeys.stages import FirstDays, first_days, journey_positions, load_journey_settings
from app.models import MerchantContext
from app.orchestration import orchestrate_database, orchestrate_world
from app.scenarios import get_persona, get_scenario
from app.storage.loader import create_schema, insert_rows, memory_engine
from app.storage.ops import OpsStore
from app.storage.ops_loop import journey_state_log
from app.storage.schema import customer_order_days, customer_signals, orders, refunds, subscriptions
from app.world.generator import generate_world
from app.world.response import Intervention, respond
from app.world.world import World, WorldSpec


def _world(seed: int = 1) -> World:
    return generate_world(WorldSpec(get_scenario("churn_spike"), get_persona("sarah_chen"), MerchantContext(),
                                    seed=seed))  # fmt: skip


def _rows(conn: sa.Connection, table: sa.Table, columns: list[str]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r) for r in conn.execute(sa.select(*[table.c[c] for c in columns])))


def test_the_observed_database_equals_a_fresh_load_of_the_treated_world() -> None:
    world = _world()
    d1, d2 = world.as_of - dt.timedelta(days=40), world.as_of - dt.timedelta(days=15)
    subs = sorted(s["customer_id"] for s in world.tables["subscriptions"]
                  if s["started_on"] < d1 and (s["cancelled_on"] is None or s["cancelled_on"] > d2))  # fmt: skip
    first = [Intervention(c, "personal_checkin", d1) for c in subs[:60]]
    second = [Intervention(c, "loyalty_discount", d2) for c in subs[30:90]]
    db = TreatedWorldDatabase(world)
    db.apply(first)
    db.apply(second)
    fresh = memory_engine()
    create_schema(fresh)
    insert_rows(fresh, respond(world, first + second).world.tables)
    checks = [
        (orders, ["customer_id", "subscription_id", "ordered_on", "amount_cents", "status"]),
        (refunds, ["customer_id", "refunded_on", "amount_cents", "reason"]),
        (customer_signals, ["customer_id", "signal_type", "strength", "detected_on"]),
        (subscriptions, [c.name for c in subscriptions.columns]),
        (customer_order_days, [c.name for c in customer_order_days.columns]),
    ]
    s = load_health_settings()
    with db.engine.connect() as a, fresh.connect() as b:
        for table, columns in checks:
            assert _rows(a, table, columns) == _rows(b, table, columns), table.name
        assert _rows(a, orders, ["customer_id"]) != Counter()  # the check compared something
        for day in (d2, world.as_of, world.horizon):
            ha, hb = health_at(a, day, s), health_at(b, day, s)
            assert [(r.customer_id, r.risk) for r in ha.worst(ha.size())] == \
                [(r.customer_id, r.risk) for r in hb.worst(hb.size())]  # fmt: skip
            assert journey_positions(a, day) == journey_positions(b, day)
        # the subscriptions it keeps for the health inputs are those a fresh read gives
        assert db.subscriptions == subscription_facts(b)
    untreated = memory_engine()
    create_schema(untreated)
    insert_rows(untreated, world.tables)
    with untreated.connect() as c:
        assert subscription_facts(c) != db.subscriptions  # the treatments moved cancellations: they were followed


def _settings(**loop: Any) -> Any:
    base = load_journey_settings()
    return base.model_copy(update={"orchestrator": base.orchestrator.model_copy(update=loop)})


def _stable(store: OpsStore, run_id: int) -> list[tuple[Any, ...]]:
    ivs = store.read(lambda c: read_interventions(c, run_id))
    outs = store.read(lambda c: read_outcomes(c, run_id))
    return [(r.intervention_id, r.status, r.executed_action, r.expected_value_cents) for r in ivs] + \
        [(o.intervention_id, o.outcome, o.revenue_saved_cents, o.kept) for o in outs]  # fmt: skip


def test_a_run_is_deterministic_and_leaves_its_rows() -> None:
    runs = []
    for _ in range(2):
        store = OpsStore.in_memory()
        result = orchestrate_world("churn_spike", "sarah_chen", days=12, seed=2, store=store)
        runs.append(_stable(store, result.run_id))
    assert runs[0] == runs[1]
    assert result.interventions and result.measured == sum(result.interventions.values())
    assert result.measured == sum(1 for r in runs[0] if r[1] in ("kept", "lost", "revenue_gained", "no_change",
                                                                 "not_run"))  # fmt: skip
    snaps = store.read(lambda c: read_snapshots(c, result.run_id))
    assert [s.generated_at for s in snaps] == [result.first_day + dt.timedelta(days=k) for k in range(12)]
    with store.engine.connect() as conn:
        log = conn.execute(sa.select(journey_state_log)).mappings().all()
    assert log and all(r["days_in_state"] >= 0 for r in log)
    # every customer has exactly one open entry at the end; a closed one ends where the next begins
    open_rows = Counter(r["customer_id"] for r in log if r["state_exited_at"] is None)
    assert set(open_rows.values()) == {1}


def test_the_gate_records_a_humans_approvals_and_overrides() -> None:
    asked: list[dict[str, Any]] = []

    def decide(pause: dict[str, Any]) -> dict[str, Any]:
        asked.append(pause)
        ids = [p["intervention_id"] for p in pause["pending"]]
        out: dict[str, Any] = {ids[0]: "approve"}
        if len(ids) > 1:
            out[ids[1]] = {"decision": "override", "action": "personal_checkin", "note": "try a call first"}
        return out  # the rest unanswered: overridden, nothing runs

    store = OpsStore.in_memory()
    # only the playbook that needs approval (PB_RET_001) may run
    settings = _settings(max_launches_per_day=3)
    result = orchestrate_world("churn_spike", "sarah_chen", days=6, seed=0, policy="human", decide=decide,
                               store=store, settings=settings)  # fmt: skip
    assert asked and all(p["type"] == "approval" and p["pending"] for p in asked)
    ivs = {r.intervention_id: r for r in store.read(lambda c: read_interventions(c, result.run_id))}
    first_day = [p["intervention_id"] for p in asked[0]["pending"]]
    approved = ivs[first_day[0]]
    assert (approved.status, approved.decided_by, approved.executed_action) == (
        "launched", "human", approved.recommended_action)
    if len(first_day) > 1:
        changed = ivs[first_day[1]]
        assert (changed.status, changed.executed_action, changed.decision_note) == (
            "overridden", ("personal_checkin",), "try a call first")
    for iv_id in first_day[2:]:
        assert (ivs[iv_id].status, ivs[iv_id].executed_action) == ("overridden", ())
    outcomes = {o.intervention_id: o for o in store.read(lambda c: read_outcomes(c, result.run_id))}
    assert not outcomes[first_day[0]].human_override
    for iv_id in first_day[1:]:
        assert outcomes[iv_id].human_override
    for iv_id in first_day[2:]:
        assert (outcomes[iv_id].outcome, outcomes[iv_id].cost_cents) == ("not_run", 0)


def test_the_learning_loop_retires_the_useless_playbook() -> None:
    store = OpsStore.in_memory()
    result = orchestrate_world("churn_spike", "sarah_chen", days=90, seed=0, store=store)
    retired = store.read(lambda c: retired_playbooks(c, result.run_id))
    assert "PB_NEWS_001" in retired and retired["PB_NEWS_001"] <= result.last_day
    news = [o for o in store.read(lambda c: read_outcomes(c, result.run_id)) if o.playbook_id == "PB_NEWS_001"]
    assert news and all(o.revenue_saved_cents == 0 and not o.kept for o in news)  # it truly does nothing
    assert result.revenue_saved_cents > 0


def test_on_a_database_it_only_recommends(tmp_path: Any) -> None:
    world = _world()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    create_schema(engine)
    insert_rows(engine, world.tables)
    store = OpsStore.in_memory()
    result = orchestrate_database(engine, world.as_of, "shop.db", days=3, store=store)
    assert result.mode == "recommend" and set(result.interventions) == {"recommended"}
    assert result.measured == 0 and result.snapshot is not None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"days": 0}, "days must be between 1 and"),
    ({"days": 5, "policy": "human"}, "needs a decide callback"),
])  # fmt: skip
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        orchestrate_world("churn_spike", "sarah_chen", **kwargs)


def test_an_unproven_playbook_runs_as_a_trial() -> None:
    # no window ends within 10 days: every playbook is on trial throughout, so at most 3 of each run
    store = OpsStore.in_memory()
    result = orchestrate_world("churn_spike", "sarah_chen", days=10, seed=0, store=store,
                               settings=_settings(trial_runs=3))  # fmt: skip
    ivs = store.read(lambda c: read_interventions(c, result.run_id))
    per_playbook = Counter(r.playbook_id for r in ivs if r.executed_action)
    assert per_playbook and max(per_playbook.values()) <= 3
    assert len(per_playbook) >= 3  # several playbooks got their trial


def test_first_days_kept_day_by_day_equal_a_full_read() -> None:
    world = _world()
    db = TreatedWorldDatabase(world)
    kept = FirstDays()
    with db.engine.connect() as conn:
        for k in range(45, -1, -3):
            day = world.as_of - dt.timedelta(days=k)
            order, start = first_days(conn, day)
            assert kept.at(conn, day) == {**order, **start}
