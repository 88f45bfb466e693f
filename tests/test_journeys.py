"""Journey stages at a date: each rule and their order on a hand-built shop."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from app.errors import DataFileError
from app.journeys.stages import journey_positions, load_journey_settings
from app.storage.loader import create_schema, insert_rows, memory_engine

D = dt.date(2025, 6, 30)


def _day(n: int) -> dt.date:
    return D - dt.timedelta(days=n)


def _shop() -> dict[str, list[dict[str, Any]]]:
    """R: long-time subscriber whose engagement just dropped. S: a complaint 3 days ago. Q: new and
    complaining. O: new. T: a year in. G: 100 days in, fine. X: cancelled 5 days ago. F: starts later."""
    people = {"R": 400, "S": 100, "Q": 10, "O": 10, "T": 300, "G": 100, "X": 200, "F": -5}
    subs, orders = [], []
    for cid, started in people.items():
        subs.append({"subscription_id": f"S{cid}", "customer_id": cid, "plan": "p", "monthly_price_cents": 3000,
                     "started_on": _day(started), "cancelled_on": _day(5) if cid == "X" else None,
                     "cancel_reason": "other" if cid == "X" else None})  # fmt: skip
        if started >= 0:
            orders.append({"order_id": f"O{cid}", "customer_id": cid, "subscription_id": f"S{cid}",
                           "ordered_on": _day(min(started, 6)), "amount_cents": 3000, "status": "paid"})  # fmt: skip

    def ticket(tid: str, cid: str, ago: int) -> dict[str, Any]:
        at = dt.datetime.combine(_day(ago), dt.time(9))
        return {"ticket_id": tid, "customer_id": cid, "created_at": at, "category": "shipping_delay",
                "priority": "normal", "status": "resolved", "subject": "late box", "sentiment": "negative",
                "first_response_at": at + dt.timedelta(hours=1), "resolved_at": at + dt.timedelta(hours=5),
                "csat_rating": None}  # fmt: skip

    return {
        "merchants": [{"merchant_id": "M1", "name": "M", "business_name": "Shop", "business_type": "box", "currency": "USD"}],
        "customers": [{"customer_id": c, "merchant_id": "M1", "name": c, "email": f"{c}@x.com", "segment_hint": "casual",
                       "created_on": _day(s), "country": "US"} for c, s in people.items()],
        "subscriptions": subs,
        "orders": orders,
        "refunds": [],
        "customer_signals": [{"signal_id": "G1", "customer_id": "R", "signal_type": "engagement_drop",
                              "strength": 0.9, "detected_on": D}],
        "support_tickets": [ticket("T1", "S", 3), ticket("T2", "Q", 2), ticket("T3", "G", 40)],
        "marketing_daily": [],
        "timeline_events": [],
    }


@pytest.fixture(scope="module")
def positions():
    engine = memory_engine()
    create_schema(engine)
    insert_rows(engine, _shop())
    with engine.connect() as conn:
        return journey_positions(conn, D)


def test_each_rule_in_order(positions) -> None:
    stages = {cid: p.stage for cid, p in positions.items()}
    assert stages == {"R": "churn_risk", "S": "support", "Q": "support", "O": "onboarding", "T": "retention",
                      "G": "engagement", "X": "churned"}  # fmt: skip
    assert "F" not in positions  # not a customer yet at the date


def test_risk_buckets_and_reasons(positions) -> None:
    r = positions["R"]
    # the onset drop today: engagement 1 - 0.98 = 0.02, which the harmonic mean lets dominate
    assert r.risk is not None and r.risk > 0.8 and r.risk_bucket == "high"
    assert r.reason.startswith(f"health risk {r.risk:.2f} above 0.6")
    assert positions["X"].risk is None and positions["X"].risk_bucket is None
    assert positions["T"].risk_bucket == "low" and positions["T"].tenure_days == 300
    assert positions["Q"].reason == "a negative or open ticket in the last 14 days"


def test_a_bad_journeys_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text("version: 1\nstages: {churn_risk_above: 1.5, support_days: 14, onboarding_days: 30, retention_days: 180}\n")
    with pytest.raises(DataFileError, match="churn_risk_above"):
        load_journey_settings(path)
