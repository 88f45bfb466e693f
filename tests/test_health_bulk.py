"""Health materialised in bulk equals health scored customer by customer, on SQLite and PostgreSQL.

A load stores health at the data's latest day and a week before it: the inputs of both dates read
together (grouped windows, the order days in force), components computed once per distinct input,
rows written in bulk. These tests hold that path to the plain one on a generated world at both
dates: the inputs equal a recomputation from the source rows alone, and the stored rows, summary
and alert counts equal those of :func:`score_customer` run on each customer with nothing shared.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.health.alerts import classify, suggested_actions
from app.health.frame import HealthRow, MemoryHealth
from app.health.inputs import HealthInputs, gather_inputs, gather_inputs_at, source_coverage
from app.health.model import score_customer
from app.health.score import entry_price
from app.health.settings import HealthSettings, load_health_settings
from app.health.store import StoredHealth, health_at, health_dates
from app.providers.data_agent import DataAgent
from app.storage.admin import init_database, store_rows, writable_connection
from app.world.world import end_of_day
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

S = load_health_settings()
ROWS = DataAgent.create("churn_spike", "sarah_chen", seed=2).world.snapshot()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def url(request, tmp_path_factory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('bulk') / 'shop.db'}"
    else:
        url = request.getfixturevalue("pg_schemas").new("health_bulk")
    init_database(url)
    with writable_connection(url) as conn:
        store_rows(conn, ROWS, kind="load", source="test", url=url)
    return url


def _in(day: Any, lo: dt.date, hi: dt.date) -> bool:
    return lo < day <= hi


def expected_inputs(rows: dict[str, list[dict[str, Any]]], day: dt.date, s: HealthSettings) -> dict[str, tuple]:
    """customer -> (subscriptions, last order, delivered, skipped, drops, failed, recently failed, refunds,
    refunded, tickets) at ``day``, from the source rows alone (docs/health.md, "Inputs")."""
    def ago(n: int) -> dt.date:
        return day - dt.timedelta(days=n)

    subs: dict[str, list[dict]] = {}
    for r in sorted(rows["subscriptions"], key=lambda r: (r["started_on"], r["subscription_id"])):
        if r["started_on"] <= day:
            subs.setdefault(r["customer_id"], []).append(r)
    charged = [o for o in rows["orders"] if o["status"] in ("paid", "refunded") and o["ordered_on"] <= day]
    last: dict[str, dt.date] = {}
    for o in charged:
        last[o["customer_id"]] = max(last.get(o["customer_id"], o["ordered_on"]), o["ordered_on"])
    scored = {c for c, items in subs.items() if any(r["cancelled_on"] is None or r["cancelled_on"] > day for r in items)}
    scored |= {c for c, at in last.items() if c not in subs and at > ago(s.usage.lapsed_days)}
    out = {}
    for cid in scored:
        def count(items: list[dict], when: str, days: int, cid: str = cid, **match: Any) -> list[dict]:
            return [x for x in items if x["customer_id"] == cid and _in(x[when], ago(days), day)
                    and all(x[k] in v for k, v in match.items())]  # fmt: skip
        signals = rows["customer_signals"]
        refunds = count(rows["refunds"], "refunded_on", s.financial.window_days)
        tickets = [t["ticket_id"] for t in rows["support_tickets"] if t["customer_id"] == cid
                   and end_of_day(ago(s.support.window_days)) <= t["created_at"] < end_of_day(day)]  # fmt: skip
        out[cid] = (
            [(r["plan"], r["monthly_price_cents"], r["started_on"], r["cancelled_on"]) for r in subs.get(cid, [])],
            last.get(cid),
            len(count(charged, "ordered_on", s.usage.window_days)),
            len(count(signals, "detected_on", s.usage.window_days, signal_type={"skipped_box"})),
            sorted((x["detected_on"], x["strength"])
                   for x in count(signals, "detected_on", s.engagement.window_days, signal_type={"engagement_drop"})),
            len(count(rows["orders"], "ordered_on", s.financial.window_days, status={"failed"})),
            len(count(rows["orders"], "ordered_on", min(s.financial.recent_days, s.financial.window_days),
                      status={"failed"})),
            len(refunds),
            sum(r["amount_cents"] for r in refunds),
            sorted(tickets),
        )
    return out


def _facts(inp: HealthInputs) -> tuple:
    return (
        [(f.plan, f.price_cents, f.started_on, f.cancelled_on) for f in inp.subscriptions],
        inp.last_order_on, inp.delivered, inp.skipped, inp.drops, inp.failed_payments, inp.recent_failed_payments,
        inp.refunds, inp.refund_cents,
        sorted(t.ticket_id for t in inp.tickets),
    )  # fmt: skip


def one_by_one(conn: Any, day: dt.date, s: HealthSettings) -> list[HealthRow]:
    """Every customer scored on its own (a scorer per customer: nothing computed once is shared)."""
    cov = source_coverage(conn)
    inputs = gather_inputs(conn, day, s)
    entry = entry_price([sub.price_cents for rec in inputs.values() for sub in rec.active_subscriptions()])
    rows = []
    for cid in sorted(inputs):
        h = score_customer(inputs[cid], s, cov, entry)
        kind = classify(h, s)
        actions = suggested_actions(kind.alert_type, h.risk_factors, h.opportunities, s) if kind else []
        rows.append(HealthRow(**vars(h), alert=kind, actions=actions))
    return rows


def test_inputs_of_both_dates_equal_the_source_rows(url: str) -> None:
    with writable_connection(url) as conn:
        days = sorted(health_dates(conn))
        together = gather_inputs_at(conn, days, S)
    assert len(days) == 2 and days[1] - days[0] == dt.timedelta(days=S.monitoring.baseline_days)
    for day in days:
        expected = expected_inputs(ROWS, day, S)
        got = {cid: _facts(inp) for cid, inp in together[day].items()}
        assert len(got) > 100 and got == expected, day
    # the windows hold something to count at each date, so the comparison says something
    counted = [sum(1 for inp in together[day].values() if getattr(inp, name)) for day in days
               for name in ("delivered", "skipped", "drops", "failed_payments", "recent_failed_payments", "refunds",
                            "tickets")]  # fmt: skip
    assert all(counted), counted


def test_stored_health_equals_scoring_each_customer_alone(url: str) -> None:
    with writable_connection(url) as conn:
        days = sorted(health_dates(conn))
        for day in days:
            expected = MemoryHealth(day, one_by_one(conn, day, S))
            stored = StoredHealth(conn, day)
            assert stored.size() == expected.size() > 100
            assert stored.worst(stored.size()) == expected.rows, day
            assert stored.summary(S.monitoring.psi_bins) == expected.summary(S.monitoring.psi_bins)
            assert stored.alert_counts() == expected.alert_counts() and expected.alert_counts()
            assert any(r.risk_factors for r in expected.rows) and any(r.opportunities for r in expected.rows)


def test_health_computed_in_memory_equals_scoring_each_customer_alone(url: str) -> None:
    # a date nobody materialised: health_at computes it, one row per distinct key copied to its holders
    with writable_connection(url) as conn:
        day = min(health_dates(conn)) - dt.timedelta(days=3)
        computed = health_at(conn, day, S)
        expected = MemoryHealth(day, one_by_one(conn, day, S))
        assert isinstance(computed, MemoryHealth) and computed.size() == expected.size() > 100
        assert [vars(r) for r in computed.worst(computed.size())] == [vars(r) for r in expected.rows]
        assert len({id(r.components) for r in computed.rows}) < computed.size()  # rows do share their values
