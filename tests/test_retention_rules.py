"""Known answers for every retention rule (DESIGN.md section 9), from hand-built order histories.

Each customer's history is written as days before ``D`` so the rule it hits reads off the test:
the status boundaries, each churn flag and its boundary, the score and risk levels, the alert
decision (warm-up, zero baseline, WARNING and CRITICAL at their thresholds), every tier boundary,
the P3 window, the P1 median switch, score caps, action bands and queue order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from app.providers.production import ProductionDataProvider
from app.retention.decision import alert_decision
from app.retention.facts import CustomerRetention, RetentionFacts, retention_facts
from app.retention.queue import priority_queue, priority_reason, priority_score, recommended_action, tier_of
from app.retention.settings import RetentionOpsSettings, load_settings
from app.storage.admin import init_database, store_rows, writable_connection

D = dt.date(2025, 6, 30)
SETTINGS = load_settings()


def days_before(*offsets: int) -> list[dt.date]:
    return [D - dt.timedelta(days=k) for k in offsets]


def shop_rows(histories: dict[str, list], refunds: list[tuple[str, int, int]] = (), currency: str = "USD") -> dict:
    """Rows of an orders-only shop: ``customer -> [(days before D, amount cents[, status])...]``."""
    orders, customers = [], []
    for cid, history in histories.items():
        first = min(D - dt.timedelta(days=h[0]) for h in history)
        customers.append({"customer_id": cid, "merchant_id": "m1", "name": cid, "email": "", "segment_hint": "",
                          "created_on": first, "country": "US"})  # fmt: skip
        for k, (before, amount, *status) in enumerate(history):
            orders.append({"order_id": f"{cid}-{k}", "customer_id": cid, "subscription_id": None,
                           "ordered_on": D - dt.timedelta(days=before), "amount_cents": amount,
                           "status": status[0] if status else "paid"})  # fmt: skip
    refund_rows = [
        {"refund_id": f"R{i}", "order_id": None, "customer_id": cid, "refunded_on": D - dt.timedelta(days=before),
         "amount_cents": amount, "reason": None}
        for i, (cid, before, amount) in enumerate(refunds)
    ]  # fmt: skip
    merchant = {"merchant_id": "m1", "name": "Owner", "business_name": "Test Shop", "business_type": "retail",
                "currency": currency}  # fmt: skip
    return {"merchants": [merchant], "customers": customers, "subscriptions": [], "orders": orders,
            "refunds": refund_rows, "support_tickets": [], "marketing_daily": [], "customer_signals": [],
            "timeline_events": []}  # fmt: skip


def open_shop(tmp_path: Path, rows: dict, name: str = "shop") -> ProductionDataProvider:
    url = f"sqlite:///{tmp_path / (name + '.db')}"
    init_database(url)
    with writable_connection(url) as conn:
        store_rows(conn, rows, kind="import", source="test", url=url)
    return ProductionDataProvider(url, ops_url=f"sqlite:///{tmp_path / (name + '_ops.db')}", allow_writable_user=True)


def facts_of(tmp_path: Path, histories: dict, refunds=(), day: dt.date = D) -> dict[str, CustomerRetention]:
    provider = open_shop(tmp_path, shop_rows(histories, refunds))
    facts = provider.read_source(lambda conn: retention_facts(conn, day))
    provider.close()
    return {c.customer_id: c for c in facts}


def every(step: int, start: int, stop: int, amount: int = 1000) -> list[tuple[int, int]]:
    """Orders every ``step`` days from ``start`` down to ``stop`` days before D (inclusive)."""
    return [(k, amount) for k in range(start, stop - 1, -step)]


# ------------------------------------------------------------------------------------------ base facts


def test_base_facts_net_of_refunds_and_only_paid_orders_up_to_the_date(tmp_path: Path) -> None:
    history = [(400, 5000), (365, 1000), (364, 2000), (10, 3000), (5, 7000, "failed"), (-3, 9000)]
    got = facts_of(tmp_path, {"A": history, "B": [(2, 100, "failed")]}, refunds=[("A", 4, 500), ("A", -1, 800)])
    assert set(got) == {"A"}  # B has no paid order: outside the population
    a = got["A"]
    assert (a.total_orders, a.total_revenue) == (4, 5000 + 1000 + 2000 + 3000 - 500)
    assert a.value_proxy == 2000 + 3000  # (D-365, D]: the order 365 days back is out
    assert (a.first_order_date, a.last_order_date, a.days_since_last_order) == (*days_before(400, 10), 10)
    assert a.avg_order_value == pytest.approx(10500 / 4)


@pytest.mark.parametrize(
    ("since", "status"), [(0, "ACTIVE"), (30, "ACTIVE"), (31, "AT_RISK"), (90, "AT_RISK"), (91, "INACTIVE")]
)
def test_status_boundaries(tmp_path: Path, since: int, status: str) -> None:
    assert facts_of(tmp_path, {"A": [(since, 100)]})["A"].retention_status == status


# --------------------------------------------------------------------------------------- churn flags

FREQUENCY = {
    # first order 400 days back, one order every 30 days up to 100 days back: 11 earlier orders over
    # 300 days = 3.3 per 90 days; half is 1.65: one recent order is a drop, two are not
    "drop_one_recent": [*every(30, 400, 100), (10, 1000)],
    "no_drop_two_recent": [*every(30, 400, 100), (40, 1000), (10, 1000)],
    # 4 earlier orders over exactly 180 days = 2 per 90 days; half is 1: one recent order is not below it
    "rate_boundary_one": [(270, 1000), (220, 1000), (160, 1000), (91, 1000), (10, 1000)],
    "rate_boundary_zero": [(270, 1000), (220, 1000), (160, 1000), (91, 1000)],
    # first order exactly 180 days back qualifies, 179 does not (both with no recent order)
    "history_180": [(180, 1000), (120, 1000)],
    "history_179": [(179, 1000), (120, 1000)],
    # at least two earlier orders: one is not enough
    "one_earlier": [(300, 1000), (10, 1000)],
}


@pytest.mark.parametrize(
    ("cid", "drop"),
    [("drop_one_recent", True), ("no_drop_two_recent", False), ("rate_boundary_one", False),
     ("rate_boundary_zero", True), ("history_180", True), ("history_179", False), ("one_earlier", False)],
)  # fmt: skip
def test_frequency_drop(tmp_path: Path, cid: str, drop: bool) -> None:
    assert facts_of(tmp_path, {cid: FREQUENCY[cid]})[cid].is_frequency_drop is drop


OVERDUE = {
    "overdue": [(41, 100), (31, 100), (21, 100)],  # median gap 10, 21 days since > 20
    "at_twice_gap": [(40, 100), (30, 100), (20, 100)],  # 20 days since = 2 x 10: not overdue
    "even_median": [(160, 100), (150, 100), (130, 100), (100, 100), (60, 100)],  # gaps 10,20,30,40: median 25, 60 > 50
    "even_median_edge": [(150, 100), (140, 100), (120, 100), (90, 100), (50, 100)],  # 50 = 2 x 25: not overdue
    "one_day_twice": [(200, 100), (200, 100)],  # one distinct order day: no gap, never overdue
    "same_day_counts_once": [(60, 100), (60, 100), (50, 100)],  # days 60 and 50: gap 10, 50 since > 20
}


@pytest.mark.parametrize(
    ("cid", "overdue", "median"),
    [("overdue", True, 10), ("at_twice_gap", False, 10), ("even_median", True, 25), ("even_median_edge", False, 25),
     ("one_day_twice", False, None), ("same_day_counts_once", True, 10)],
)  # fmt: skip
def test_status_inconsistent(tmp_path: Path, cid: str, overdue: bool, median: float | None) -> None:
    c = facts_of(tmp_path, {cid: OVERDUE[cid]})[cid]
    assert (c.is_status_inconsistent, c.median_gap_days) == (overdue, median)


def test_score_and_risk_levels(tmp_path: Path) -> None:
    got = facts_of(
        tmp_path,
        {
            "drop_only": FREQUENCY["drop_one_recent"],
            "overdue_only": OVERDUE["overdue"],
            "none": [(5, 100)],
            "drop_and_overdue": [(400, 100), (390, 100), (380, 100), (150, 100)],  # no recent order; 150 > 2 x 10
        },
    )
    assert [(got[c].churn_risk_score, got[c].churn_risk_level) for c in ("drop_only", "overdue_only", "none")] == [
        (40, "HIGH"), (30, "MEDIUM"), (0, "LOW")
    ]  # fmt: skip
    both = got["drop_and_overdue"]
    assert (both.is_frequency_drop, both.is_status_inconsistent, both.is_value_drop) == (True, True, False)
    assert (both.churn_risk_score, both.churn_risk_level) == (70, "HIGH")  # the score caps at 70 (value drop disabled)


# ---------------------------------------------------------------------------------------- alert decision


def _alert(tmp_path: Path, histories: dict):
    provider = open_shop(tmp_path, shop_rows(histories))
    try:
        return provider.read_source(lambda conn: alert_decision(conn, D))
    finally:
        provider.close()


def _week(at_risk_all_week: int, turning_at_risk_today: int, active: int = 20) -> dict:
    """Customers AT_RISK on every day D-7..D (last order 60 days back), customers who turn AT_RISK on D
    (last order 31 days back) and customers ACTIVE all week: delta = turning / at_risk x 100."""
    out = {f"R{i}": [(60, 100)] for i in range(at_risk_all_week)}
    out |= {f"T{i}": [(31, 100)] for i in range(turning_at_risk_today)}
    out |= {f"A{i}": [(20, 100)] for i in range(active)}
    return out


@pytest.mark.parametrize(
    ("at_risk", "turning", "severity", "delta"),
    [(20, 2, "INFO", 10.0), (20, 3, "WARNING", 15.0), (20, 5, "WARNING", 25.0), (10, 3, "CRITICAL", 30.0),
     (10, 0, "INFO", 0.0)],
)  # fmt: skip
def test_alert_severity_thresholds(tmp_path: Path, at_risk: int, turning: int, severity: str, delta: float) -> None:
    a = _alert(tmp_path, _week(at_risk, turning))
    population = at_risk + turning + 20
    assert (a.severity, a.alert_flag, a.delta_relative_pct) == (severity, severity != "INFO", delta)
    assert a.sample_size == population and a.at_risk_count == at_risk + turning
    assert a.current_value == round((at_risk + turning) / population * 100, 2)
    assert a.baseline_value == round(at_risk / population * 100, 2)
    assert (a.warm_up, a.baseline_days_available) == (False, 7)


def test_alert_warm_up_with_fewer_than_seven_prior_days(tmp_path: Path) -> None:
    a = _alert(tmp_path, {"A": [(3, 100)], "B": [(2, 100)]})  # no population before D-3
    assert (a.severity, a.alert_flag, a.warm_up, a.baseline_days_available) == ("INFO", False, True, 3)
    assert a.delta_relative_pct is None and "Warm-up" in a.reason


def test_alert_zero_baseline_is_info(tmp_path: Path) -> None:
    a = _alert(tmp_path, _week(0, 4))  # nobody AT_RISK all week, four customers today
    assert (a.severity, a.baseline_value, a.delta_relative_pct) == ("INFO", 0.0, None)
    assert a.current_value == round(4 / 24 * 100, 2) and "zero" in a.reason


def test_alert_threshold_settings_come_from_the_data_file(tmp_path: Path) -> None:
    strict = SETTINGS.model_copy(update={"alert": SETTINGS.alert.model_copy(update={"warning_delta_pct": 5.0})})
    provider = open_shop(tmp_path, shop_rows(_week(20, 2)))
    assert provider.read_source(lambda conn: alert_decision(conn, D, strict)).severity == "WARNING"
    provider.close()


# --------------------------------------------------------------------------------------------- tiers


def customer(
    status: str, level: str, since: int = 10, revenue: int = 50_000, cid: str = "C1", **flags
) -> CustomerRetention:
    score = {"HIGH": 40, "MEDIUM": 30, "LOW": 0}[level]
    return CustomerRetention(
        customer_id=cid, total_revenue=revenue, total_orders=5, first_order_date=D - dt.timedelta(days=400),
        last_order_date=D - dt.timedelta(days=since), days_since_last_order=since, value_proxy=revenue,
        recent_orders=0, order_days=5, median_gap_days=30.0, retention_status=status,  # type: ignore[arg-type]
        is_frequency_drop=flags.get("drop", level == "HIGH"), is_status_inconsistent=flags.get("overdue", level == "MEDIUM"),
        is_value_drop=False, churn_risk_score=score, churn_risk_level=level,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "level", "since", "tier"),
    [("ACTIVE", "HIGH", 10, "P1"), ("ACTIVE", "MEDIUM", 10, None), ("ACTIVE", "LOW", 10, None),
     ("AT_RISK", "HIGH", 40, "P2"), ("AT_RISK", "MEDIUM", 40, "P2"), ("AT_RISK", "LOW", 40, None),
     ("INACTIVE", "HIGH", 91, "P3"), ("INACTIVE", "HIGH", 180, "P3"), ("INACTIVE", "HIGH", 181, None),
     ("INACTIVE", "MEDIUM", 100, None)],
)  # fmt: skip
def test_tier_rules_and_p3_window(status: str, level: str, since: int, tier: str | None) -> None:
    assert tier_of(customer(status, level, since), SETTINGS) == tier


def test_p3_window_is_configurable() -> None:
    narrow = SETTINGS.model_copy(
        update={"queue": SETTINGS.queue.model_copy(update={"p3_max_days_since_last_order": 120})}
    )
    assert tier_of(customer("INACTIVE", "HIGH", 121), narrow) is None
    assert tier_of(customer("INACTIVE", "HIGH", 120), narrow) == "P3"


def test_p1_revenue_median_switch_off_by_default() -> None:
    assert SETTINGS.queue.p1_revenue_at_least_median is False
    on = SETTINGS.model_copy(update={"queue": SETTINGS.queue.model_copy(update={"p1_revenue_at_least_median": True})})
    facts = RetentionFacts(
        as_of=D,
        customers=(
            customer("ACTIVE", "HIGH", revenue=10_000, cid="low"),
            customer("ACTIVE", "HIGH", revenue=30_000, cid="mid"),
            customer("ACTIVE", "LOW", revenue=90_000, cid="rich"),
        ),
    )  # median revenue 30,000: "mid" is at it, "low" below
    assert [e.facts.customer_id for e in priority_queue(facts, "USD", on)] == ["mid"]
    assert [e.facts.customer_id for e in priority_queue(facts, "USD", SETTINGS)] == ["mid", "low"]


# ----------------------------------------------------------------------------------- score and actions


def test_priority_score_parts_and_caps() -> None:
    assert priority_score("P1", 3847.0, 24, SETTINGS) == 94.5  # 70 + 2 ln(3848) + 24/3
    assert priority_score("P2", 0.0, 0, SETTINGS) == 50.0
    assert priority_score("P3", 1_000_000.0, 15, SETTINGS) == 55.0  # value bonus capped at 20: 30 + 20 + 5
    assert priority_score("P2", 0.0, 300, SETTINGS) == 60.0  # urgency bonus capped at 10
    assert priority_score("P1", 1_000_000.0, 300, SETTINGS) == 100.0  # 70 + 20 + 10
    assert priority_score("P3", -500.0, 3, SETTINGS) == 31.0  # refunds above revenue: no negative bonus
    high_base = SETTINGS.queue.score.model_copy(update={"base": {"P1": 85, "P2": 50, "P3": 30}})
    capped = SETTINGS.model_copy(update={"queue": SETTINGS.queue.model_copy(update={"score": high_base})})
    assert priority_score("P1", 1_000_000.0, 300, capped) == 100.0  # 115 capped at 100


@pytest.mark.parametrize(
    ("tier", "revenue", "action"),
    [("P1", 2000.01, "VIP outreach + 10% loyalty incentive"), ("P1", 2000.0, "Personal email + free shipping offer"),
     ("P1", 1000.0, "Personal email + free shipping offer"), ("P1", 999.99, "Personal email + reminder"),
     ("P2", 5000.0, "Win-back sequence (3 emails over 7 days) + free shipping"),
     ("P3", 5000.0, "Comeback offer (20% discount) + survey")],
)  # fmt: skip
def test_recommended_action_bands(tier: str, revenue: float, action: str) -> None:
    assert recommended_action(tier, revenue, SETTINGS) == action  # type: ignore[arg-type]


def test_queue_order_and_reasons() -> None:
    facts = RetentionFacts(
        as_of=D,
        customers=(
            customer("AT_RISK", "HIGH", 40, 10_000, "b"),
            customer("AT_RISK", "MEDIUM", 40, 10_000, "a"),  # same score as "b": id decides
            customer("INACTIVE", "HIGH", 100, 900_000, "c"),
            customer("ACTIVE", "HIGH", 3, 100, "d"),
            customer("AT_RISK", "HIGH", 80, 900_000, "e"),
        ),
    )
    queue = priority_queue(facts, "USD", SETTINGS)
    assert [(e.tier, e.facts.customer_id) for e in queue] == [
        ("P1", "d"),
        ("P2", "e"),
        ("P2", "a"),
        ("P2", "b"),
        ("P3", "c"),
    ]
    assert queue[2].score == queue[3].score
    reason = priority_reason(customer("AT_RISK", "HIGH", 40, drop=True, overdue=True), SETTINGS)
    assert "40 days" in reason and "below half its earlier rate" in reason and "overdue" in reason
    assert reason.count(".") == 1 and reason.endswith(".")


def test_money_thresholds_are_in_major_units_of_the_currency() -> None:
    yen = customer("ACTIVE", "HIGH", revenue=2500)  # 2,500 yen (no minor units) is above 2,000
    entry = priority_queue(RetentionFacts(as_of=D, customers=(yen,)), "JPY", SETTINGS)[0]
    assert entry.action == SETTINGS.queue.actions.p1_high_value
    entry = priority_queue(RetentionFacts(as_of=D, customers=(yen,)), "USD", SETTINGS)[0]  # $25.00
    assert entry.action == SETTINGS.queue.actions.p1_standard_value


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("warning_delta_pct: 15", "warning_delta_pct: 45"), "warning_delta_pct must not exceed critical_delta_pct"),
        (("p3_max_days_since_last_order: 180", "p3_max_days_since_last_order: 60"), "greater than or equal to 91"),
        (("retention_days: 90", "retention_days: 90\n  colour: blue"), "unknown field"),
        (("base: {P1: 70, P2: 50, P3: 30}", "base: {P1: 70, P2: 50}"), "missing P3"),
        (("enabled: false", "enabled: true"), "value_drop.enabled"),
    ],
)
def test_bad_settings_file_names_the_field(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    from app.errors import DataFileError

    bad_settings_file = tmp_path / "retention_ops.yaml"
    text = (Path(__file__).resolve().parents[1] / "data" / "retention_ops.yaml").read_text(encoding="utf-8")
    assert edit[0] in text
    bad_settings_file.write_text(text.replace(edit[0], edit[1]), encoding="utf-8")
    with pytest.raises(DataFileError, match=message):
        load_settings(bad_settings_file)


def test_settings_are_a_copy_of_the_design_defaults() -> None:
    assert SETTINGS == RetentionOpsSettings.model_validate(
        {"queue": {"actions": dataclasses.asdict(_Texts())}}
    )  # the file states exactly the defaults of the model (plus the action texts)


@dataclasses.dataclass
class _Texts:
    p1_high_value_above: float = 2000
    p1_medium_value_from: float = 1000
    p1_high_value: str = "VIP outreach + 10% loyalty incentive"
    p1_medium_value: str = "Personal email + free shipping offer"
    p1_standard_value: str = "Personal email + reminder"
    p2: str = "Win-back sequence (3 emails over 7 days) + free shipping"
    p3: str = "Comeback offer (20% discount) + survey"
