"""Retention operations on an orders-only shop (GBP, no subscriptions or tickets), on SQLite and
PostgreSQL: every customer's facts and flags, the alert decision and the queue equal an independent
recomputation from the rows the database was filled with, at the last day and at an earlier one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics

import pytest

from app.providers.production import ProductionDataProvider
from app.retention.decision import alert_decision
from app.retention.facts import retention_facts
from app.tools import call_tool
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)
from tests.test_orders_only import LAST, ROWS, _fill

EARLIER = LAST - dt.timedelta(days=40)


def _oracle(as_of: dt.date) -> dict[str, tuple]:
    """customer -> (status, net revenue, frequency drop, overdue, score), straight from DESIGN.md section 9."""
    days: dict[str, list[dt.date]] = {}
    amount: dict[str, int] = {}
    for o in ROWS["orders"]:
        if o["ordered_on"] <= as_of and o["status"] in ("paid", "refunded"):
            days.setdefault(o["customer_id"], []).append(o["ordered_on"])
            amount[o["customer_id"]] = amount.get(o["customer_id"], 0) + o["amount_cents"]
    for r in ROWS["refunds"]:
        if r["refunded_on"] <= as_of and r["customer_id"] in amount:
            amount[r["customer_id"]] -= r["amount_cents"]
    out = {}
    for cid, when in days.items():
        since = (as_of - max(when)).days
        status = "ACTIVE" if since <= 30 else "AT_RISK" if since <= 90 else "INACTIVE"
        cut = as_of - dt.timedelta(days=90)
        earlier = [d for d in when if d <= cut]
        recent = len(when) - len(earlier)
        first = min(when)
        drop = (
            first <= as_of - dt.timedelta(days=180)
            and len(earlier) >= 2
            and recent < 0.5 * len(earlier) / ((cut - first).days / 90)
        )
        distinct = sorted(set(when))
        gaps = [(b - a).days for a, b in itertools.pairwise(distinct)]
        overdue = len(distinct) >= 2 and since > 2 * statistics.median(gaps)
        out[cid] = (status, amount[cid], drop, overdue, 40 * drop + 30 * overdue)
    return out


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def provider(request, tmp_path_factory):
    if request.param == "sqlite":
        url = _fill(f"sqlite:///{tmp_path_factory.mktemp('retail_ops') / 'retail.db'}")
        ops = f"sqlite:///{tmp_path_factory.mktemp('retail_ops') / 'ops.db'}"
    else:
        schemas = request.getfixturevalue("pg_schemas")
        url, ops = _fill(schemas.new("retail_ops")), schemas.new("retail_ops_store")
    p = ProductionDataProvider(url, ops_url=ops, allow_writable_user=True)
    yield p
    p.close()


@pytest.mark.parametrize("as_of", [LAST, EARLIER], ids=["last", "earlier"])
def test_facts_match_the_rows(provider, as_of: dt.date) -> None:
    facts = provider.read_source(lambda conn: retention_facts(conn, as_of))
    got = {
        c.customer_id: (c.retention_status, c.total_revenue, c.is_frequency_drop, c.is_status_inconsistent,
                        c.churn_risk_score)
        for c in facts
    }  # fmt: skip
    expected = _oracle(as_of)
    assert got == expected
    # the rows exercise every status and both flags
    assert {v[0] for v in expected.values()} == {"ACTIVE", "AT_RISK", "INACTIVE"}
    assert any(v[2] for v in expected.values()) and any(v[3] for v in expected.values())


@pytest.mark.parametrize("as_of", [LAST, EARLIER], ids=["last", "earlier"])
def test_alert_decision_matches_the_rows(provider, as_of: dt.date) -> None:
    decision = provider.read_source(lambda conn: alert_decision(conn, as_of))
    shares = []
    for k in range(7, -1, -1):
        statuses = [v[0] for v in _oracle(as_of - dt.timedelta(days=k)).values()]
        shares.append(statuses.count("AT_RISK") / len(statuses) * 100)
    baseline = statistics.fmean(shares[:-1])
    assert decision.current_value == round(shares[-1], 2) and decision.baseline_value == round(baseline, 2)
    assert decision.delta_relative_pct == round((shares[-1] - baseline) / baseline * 100, 1)
    assert decision.sample_size == len(_oracle(as_of))


def test_queue_on_the_orders_only_shop(provider) -> None:
    counts = call_tool(provider, "build_priority_queue", {"date": LAST.isoformat()})[1]["result"]
    facts = _oracle(LAST)
    p2 = sum(1 for status, _, _, _, score in facts.values() if status == "AT_RISK" and score >= 30)
    assert counts["p2_count"] == p2 and counts["population"] == len(facts)
    brief = provider.get_view("generate_brief", date=LAST, format="markdown")
    assert "£" in brief.text or counts["total"] == 0  # money in the shop's currency
