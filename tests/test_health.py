"""Customer health: known answers on a hand-built world, unavailable components, alerts and their ids.

The small world below is written row by row; every expected number is worked out by hand in the
comments from the rules of docs/health.md and the fixed settings ``S`` (independent of the tuning in
data/health.yaml, which the last test checks is valid).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
import yaml

from app.datafiles import data_dir
from app.errors import InvalidArgumentError
from app.health.alerts import alert_id, classify, parse_alert_id, suggested_actions
from app.health.inputs import gather_inputs, source_coverage
from app.health.model import combine
from app.health.monitor import psi
from app.health.score import score_all
from app.health.settings import HealthSettings, load_health_settings
from app.storage.loader import create_schema, insert_rows, memory_engine

D = dt.date(2025, 6, 30)
RAW = yaml.safe_load((data_dir() / "health.yaml").read_text())
S = HealthSettings.model_validate(RAW | {
    "mean": "harmonic",
    "component_floor": 0.05,
    "weights": {"usage": 0.15, "engagement": 0.5, "support": 0.15, "financial": 0.1, "relationship": 0.1},
    "usage": {"window_days": 90, "active_days": 30, "lapsed_days": 90, "recency_share": 0.5},
    "engagement": {"window_days": 60, "onset_weight": 0.98, "later_weight": 0.3, "half_life_days": 21,
                   "strength_share": 0.5},
    "support": {"window_days": 90, "negative": 0.35, "recent_days": 30, "stale_share": 0.5, "unresolved": 0.15,
                "low_csat": 0.3, "low_csat_rating": 2, "slow_response": 0.1, "slow_response_hours": 24},
    "financial": {"window_days": 90, "failed_payment": 0.4, "recent_days": 30, "stale_share": 0.5, "refund": 0.15},
    "relationship": {"full_tenure_days": 365, "floor": 0.5, "downgrade": 0.3, "earlier_cancellation": 0.2},
})  # fmt: skip


def _day(n: int) -> dt.date:
    return D - dt.timedelta(days=n)


def _at(n: int, hour: int) -> dt.datetime:
    return dt.datetime.combine(_day(n), dt.time(hour))


def _customer(cid: str) -> dict[str, Any]:
    return {"customer_id": cid, "merchant_id": "M1", "name": f"Name {cid}", "email": f"{cid}@x.com",
            "segment_hint": "regular", "created_on": _day(400), "country": "US"}  # fmt: skip


def _sub(sid: str, cid: str, price: int, started: int, cancelled: int | None = None) -> dict[str, Any]:
    return {"subscription_id": sid, "customer_id": cid, "plan": f"plan{price}", "monthly_price_cents": price,
            "started_on": _day(started), "cancelled_on": None if cancelled is None else _day(cancelled),
            "cancel_reason": None if cancelled is None else "other"}  # fmt: skip


def _order(oid: str, cid: str, ago: int, status: str = "paid") -> dict[str, Any]:
    return {"order_id": oid, "customer_id": cid, "subscription_id": None, "ordered_on": _day(ago),
            "amount_cents": 3000, "status": status}  # fmt: skip


def _signal(sid: str, cid: str, kind: str, strength: float, ago: int) -> dict[str, Any]:
    return {"signal_id": sid, "customer_id": cid, "signal_type": kind, "strength": strength, "detected_on": _day(ago)}


def _ticket(tid: str, cid: str, *, created: dt.datetime, sentiment: str, first: dt.datetime | None,
            resolved: dt.datetime | None, csat: int | None) -> dict[str, Any]:  # fmt: skip
    return {"ticket_id": tid, "customer_id": cid, "created_at": created, "category": "other", "priority": "normal",
            "status": "resolved" if resolved else "open", "subject": "help", "sentiment": sentiment,
            "first_response_at": first, "resolved_at": resolved, "csat_rating": csat}  # fmt: skip


def world() -> dict[str, list[dict[str, Any]]]:
    """A: every component hit. B: a loyal healthy subscriber (no tickets, signals or trouble).
    C: cancelled (not scored). D: never subscribed, bought 50 days ago. E: a future signal only."""
    return {
        "merchants": [{"merchant_id": "M1", "name": "M", "business_name": "Shop", "business_type": "box", "currency": "USD"}],
        "customers": [_customer(c) for c in ("A", "B", "C", "D", "E")],
        "subscriptions": [
            _sub("SA0", "A", 3000, 200, cancelled=120),  # earlier, pricier, cancelled
            _sub("SA1", "A", 2000, 100),  # current: a downgrade, tenure from SA0 = 200 days
            _sub("SB", "B", 2000, 500),
            _sub("SC", "C", 2000, 300, cancelled=10),
            _sub("SE", "E", 3000, 40),
        ],
        "orders": [
            _order("OA1", "A", 45), _order("OA2", "A", 75), _order("OA3", "A", 20, "failed"),
            _order("OA4", "A", 200),  # outside every window
            _order("OB1", "B", 5), _order("OB2", "B", 35), _order("OB3", "B", 65),
            _order("OC1", "C", 40),
            _order("OD1", "D", 50),
            _order("OE1", "E", 10),
        ],
        "refunds": [{"refund_id": "RA", "order_id": "OA2", "customer_id": "A", "refunded_on": _day(60),
                     "amount_cents": 3000, "reason": "quality"}],
        "customer_signals": [
            _signal("G1", "A", "skipped_box", 0.6, 15),
            _signal("G2", "A", "engagement_drop", 0.8, 0),
            _signal("G3", "A", "engagement_drop", 0.5, 21),
            _signal("G4", "A", "engagement_drop", 0.9, 70),  # outside the 60-day window
            _signal("G5", "E", "engagement_drop", 0.9, -3),  # after the date: not known yet
        ],
        "support_tickets": [
            # negative, unresolved, no first response after 30 hours (created D-1 18:00; end of D = D+1 00:00)
            _ticket("T1", "A", created=_at(1, 18), sentiment="negative", first=None, resolved=None, csat=None),
            # positive, answered in 1 hour, resolved and rated 2
            _ticket("T2", "A", created=_at(10, 9), sentiment="positive", first=_at(10, 10), resolved=_at(9, 9), csat=2),
        ],
        "marketing_daily": [],
        "timeline_events": [],
    }


@pytest.fixture(scope="module")
def scored() -> dict[str, Any]:
    engine = memory_engine()
    create_schema(engine)
    insert_rows(engine, world())
    with engine.connect() as conn:
        return {h.customer_id: h for h in score_all(conn, D, S)}


def test_population_is_active_subscribers_and_recent_buyers(scored) -> None:
    assert sorted(scored) == ["A", "B", "D", "E"]  # C cancelled 10 days ago


def test_usage_known_answer(scored) -> None:
    # recency: last charged order 45 days ago -> 1 - (45 - 30) / (90 - 30) = 0.75
    # delivered share: 2 charged orders (45, 75 days ago) and 1 skip in 90 days -> 2/3
    assert scored["A"].components["usage"] == round(0.5 * 0.75 + 0.5 * 2 / 3, 4) == 0.7083


def test_engagement_known_answer(scored) -> None:
    # onset: the 21-day-old drop 0.5 (fade 0.5, intensity 0.5 + 0.5 x 0.5); later: today's drop 0.8
    # (fade 1, intensity 0.9); the 70-day-old one is outside the window
    assert scored["A"].components["engagement"] == round((1 - 0.98 * 0.5 * 0.75) * (1 - 0.3 * 0.9), 4) == 0.4617
    assert scored["B"].components["engagement"] == 1.0
    assert scored["E"].components["engagement"] == 1.0  # a signal after the date is not known yet


def test_support_known_answer(scored) -> None:
    # T1: negative, unresolved, waiting 30 h > 24 h -> 0.65 x 0.85 x 0.9; T2: rated 2 -> 0.7
    assert scored["A"].components["support"] == round(0.65 * 0.85 * 0.9 * 0.7, 4) == 0.3481
    assert scored["B"].components["support"] == 1.0  # no tickets in a shop that has tickets


def test_financial_known_answer(scored) -> None:
    # 1 failed payment 20 days ago (younger than recent_days 30: counts fully), 1 refund
    assert scored["A"].components["financial"] == round(0.6 * 0.85, 4) == 0.51
    assert scored["B"].components["financial"] == 1.0


def test_relationship_known_answer(scored) -> None:
    # tenure 200 days from the first start; downgrade 3000 -> 2000; an earlier subscription cancelled
    assert scored["A"].components["relationship"] == round((0.5 + 0.5 * 200 / 365) * 0.7 * 0.8, 4) == 0.4334
    assert scored["B"].components["relationship"] == 1.0  # 500 days


def test_overall_is_the_weighted_harmonic_mean_and_risk_its_complement(scored) -> None:
    a = scored["A"]
    comps = {"usage": 0.7083, "engagement": 0.4617, "support": 0.3481, "financial": 0.51, "relationship": 0.4334}
    expected = 1.0 / sum(S.weights.of(k) / v for k, v in comps.items())
    assert a.overall == round(expected, 4) == 0.4646  # 1 / (0.2118 + 1.0830 + 0.4309 + 0.1961 + 0.2307)
    assert a.risk == round(1 - a.overall, 4) and a.confidence == 1.0
    names = [f.name for f in a.risk_factors]
    assert names[:4] == ["low_csat", "negative_ticket", "slow_response", "unresolved_ticket"]  # weakest (support) first
    assert {"skipped_box", "lapsed_orders", "negative_ticket", "unresolved_ticket", "slow_response", "low_csat",
            "failed_payment", "refund", "downgrade", "earlier_cancellation"} <= set(names)  # fmt: skip


def test_orders_only_customer_has_unavailable_components(scored) -> None:
    d = scored["D"]
    assert d.components["relationship"] is None  # never subscribed
    assert d.components["usage"] == round(0.5 * (1 - 20 / 60) + 0.5 * 1.0, 4)  # 50 days; 1 delivered, 0 skipped
    assert d.confidence == round((0.15 + 0.5 + 0.15 + 0.1) / 1.0, 4)


def test_shop_without_tickets_or_signals_has_no_such_components() -> None:
    rows = world()
    rows["support_tickets"], rows["customer_signals"] = [], []
    engine = memory_engine()
    create_schema(engine)
    insert_rows(engine, rows)
    with engine.connect() as conn:
        cov = source_coverage(conn)
        inputs = gather_inputs(conn, D, S)
        h = {x.customer_id: x for x in score_all(conn, D, S)}
    assert not cov.tickets and not cov.signals
    assert h["B"].components["engagement"] is None and h["B"].components["support"] is None
    assert h["B"].confidence == round((0.15 + 0.1 + 0.1) / 1.0, 4)
    # without skip records, usage is recency alone
    assert inputs["A"].skipped == 0 and h["A"].components["usage"] == 0.75


@pytest.mark.parametrize("mean,expected", [
    ("arithmetic", (0.5 * 0.2 + 0.5 * 1.0)),
    ("geometric", math.exp(0.5 * math.log(0.2))),
    ("harmonic", 1 / (0.5 / 0.2 + 0.5)),
])  # fmt: skip
def test_means(mean: str, expected: float) -> None:
    s = S.model_copy(update={"mean": mean, "weights": S.weights.model_copy(update={"usage": 1.0, "engagement": 1.0})})
    overall, confidence = combine({"usage": 0.2, "engagement": 1.0, "support": None, "financial": None,
                                   "relationship": None}, s)  # fmt: skip
    assert overall == round(expected, 4)
    assert confidence == round(2.0 / s.weights.total, 4)


def test_no_component_available_means_no_confidence() -> None:
    assert combine(dict.fromkeys(("usage", "engagement", "support", "financial", "relationship")), S) == (1.0, 0.0)


def test_a_zero_component_zeroes_the_harmonic_mean_without_a_floor() -> None:
    s = S.model_copy(update={"component_floor": 0.0})
    assert combine({"usage": 0.0, "engagement": 1.0, "support": 1.0, "financial": 1.0, "relationship": 1.0}, s)[0] == 0.0


def test_alert_severity_thresholds_are_strict(scored) -> None:
    a = scored["A"]
    for risk, expected in ((0.81, "critical"), (0.8, "high"), (0.61, "high"), (0.6, "medium"), (0.41, "medium")):
        a.risk = risk
        kind = classify(a, S)
        assert kind is not None and kind.severity == expected and kind.alert_type == "churn_risk"
    a.risk = 0.4
    assert classify(a, S) is None or classify(a, S).alert_type == "upsell_opportunity"  # type: ignore[union-attr]


def test_usage_decline_when_usage_is_the_weakest(scored) -> None:
    d = scored["D"]
    d.components = {**d.components, "usage": 0.3}
    d.risk = 0.7
    kind = classify(d, S)
    assert kind is not None and kind.alert_type == "usage_decline" and kind.urgency == "within_24h"


def test_upsell_for_a_loyal_healthy_subscriber(scored) -> None:
    b = scored["B"]
    kind = classify(b, S)
    # 500 days without a risk factor, on the 20.00 plan while E pays 30.00
    assert b.overall == 1.0 and [o.name for o in b.opportunities] == ["loyal_subscriber", "on_entry_plan"]
    assert kind is not None and kind.alert_type == "upsell_opportunity" and kind.severity == "low"
    assert suggested_actions(kind.alert_type, b.risk_factors, b.opportunities, S) == [
        "Offer the next plan up with a loyalty discount", "Show the premium plan's extras"]


def test_suggested_actions_follow_the_factors(scored) -> None:
    a = scored["A"]
    actions = suggested_actions("churn_risk", a.risk_factors, [], S)
    assert actions == ["Ask what went wrong and make it right", "Support lead follows up by phone",
                       "Goodwill credit on the next box"]  # low_csat, then negative_ticket's two
    assert suggested_actions("churn_risk", [], [], S) == S.alerts.default_actions[:3]


def test_alert_ids_round_trip_and_bad_ids_are_refused() -> None:
    aid = alert_id(D, "C-0001", "usage_decline")
    assert aid == "HA-20250630-C-0001-usage_decline"
    assert parse_alert_id(aid) == (D, "C-0001", "usage_decline")
    for bad in ("nope", "HA-2025-C1-churn_risk", "HA-20250630-C1-bogus", "XX-20250630-C1-churn_risk"):
        with pytest.raises(InvalidArgumentError, match="HA-<yyyymmdd>|not a date"):
            parse_alert_id(bad)


def test_psi() -> None:
    assert psi([10, 10], [10, 10]) == 0.0
    assert psi([0, 0], [1, 1]) is None
    expected = (0.75 - 0.25) * math.log(3) + (0.25 - 0.75) * math.log(1 / 3)
    assert psi([3, 1], [1, 3]) == round(expected, 4)


def test_settings_file_is_valid_and_strict(tmp_path) -> None:
    s = load_health_settings()
    assert s.weights.total > 0 and s.alerts.severity_of(0.81).name == "critical"  # type: ignore[union-attr]
    bad = dict(RAW, alerts=dict(RAW["alerts"], severities=list(reversed(RAW["alerts"]["severities"]))))
    path = tmp_path / "health.yaml"
    path.write_text(yaml.safe_dump(bad))
    from app.errors import DataFileError

    with pytest.raises(DataFileError, match="severities"):
        load_health_settings(path)


def test_orders_only_import_scores_with_named_gaps(tmp_path) -> None:
    """An imported orders-only shop (no subscriptions, tickets or signals): health from usage and
    financial alone, the other components null (never 0), confidence their share of the weight."""
    from app.providers.production import ProductionDataProvider
    from app.storage.admin import init_database, store_rows, writable_connection
    from app.world.retail import retail_rows

    url = f"sqlite:///{tmp_path / 'retail.db'}"
    init_database(url)
    with writable_connection(url) as conn:
        store_rows(conn, retail_rows(customers=80, orders=600, seed=7), kind="import", source="test", url=url)
    provider = ProductionDataProvider(url, allow_writable_user=True)
    try:
        one = provider.get_view("customer_health")
        overview = provider.get_view("health_overview")
    finally:
        provider.close()
    s = load_health_settings()
    assert {c.name: c.score is None for c in one.components} == {
        "usage": False, "engagement": True, "support": True, "financial": False, "relationship": True}
    assert one.confidence_score == round((s.weights.usage + s.weights.financial) / s.weights.total, 4)
    assert overview.scored > 0 and overview.mean_confidence == one.confidence_score
    assert {c.name: c.available for c in overview.components if c.available == 0} == {
        "engagement": 0, "support": 0, "relationship": 0}
