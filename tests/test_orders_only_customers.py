"""What an orders-only shop's customer lists and profiles say, and what the rule CJ offers it.

Without subscriptions a customer is described by the orders: charged orders, net revenue (after
refunds), last order, days since it and retention status; the risk score (built from subscription
signals) is named as unavailable, never printed as 0.00. The rule CJ offers only what the data can
answer. The expected figures are recomputed here from the rows the database was filled with.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from app.catalog import Catalog
from app.views.orders import retention_status
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)
from tests.test_orders_only import LAST, ROWS, _run, provider, sqlite_url, url  # noqa: F401  (fixtures)


def _history(cid: str, as_of: dt.date) -> tuple[int, float, dt.date]:
    """(charged orders, net revenue in pounds, last order day) of a customer, from the rows."""
    charged = [o for o in ROWS["orders"] if o["customer_id"] == cid and o["ordered_on"] <= as_of
               and o["status"] in ("paid", "refunded")]  # fmt: skip
    back = sum(r["amount_cents"] for r in ROWS["refunds"] if r["customer_id"] == cid and r["refunded_on"] <= as_of)
    return len(charged), (sum(o["amount_cents"] for o in charged) - back) / 100, max(o["ordered_on"] for o in charged)


@pytest.mark.parametrize("as_of", [LAST, LAST - dt.timedelta(days=60)])
def test_list_shows_what_the_orders_support(provider, as_of: dt.date) -> None:  # noqa: F811
    listed = provider.customer_list("all", 100, "recent", as_of=as_of)
    assert listed.customers and listed.unavailable["customers.risk_score"].startswith("no subscription data")
    for c in listed.customers:
        assert c.risk_score is None and c.status is None
        h = c.order_history
        assert h is not None
        orders, net, last = _history(c.customer_id, as_of)
        assert (h.orders, h.last_order_on) == (orders, last) and h.net_revenue == pytest.approx(net)
        assert h.days_since_last_order == (as_of - last).days
        assert h.retention_status == retention_status(h.days_since_last_order)
    text = listed.to_text()
    assert "risk 0.00" not in text and "Risk score: not available: no subscription data" in text
    assert f"last order {listed.customers[0].order_history.last_order_on}" in text  # type: ignore[union-attr]
    statuses = {c.order_history.retention_status for c in listed.customers}  # type: ignore[union-attr]
    assert statuses <= {"ACTIVE", "AT_RISK", "INACTIVE"} and len(statuses) >= 2


def test_profile_agrees_with_the_list(provider) -> None:  # noqa: F811
    first = provider.customer_list("all", 1, "recent").customers[0]
    profile = provider.customer_profile(first.customer_id)
    assert profile.order_history == first.order_history and profile.risk_score is None
    text = profile.to_text()
    assert "Risk score not available: no subscription data" in text and "0.00" not in text
    assert first.order_history is not None and first.order_history.retention_status in text


def test_retention_status_bounds() -> None:
    assert [retention_status(d) for d in (0, 30, 31, 90, 91)] == ["ACTIVE", "ACTIVE", "AT_RISK", "AT_RISK", "INACTIVE"]


def test_data_gaps_name_the_missing_kinds_of_data(provider) -> None:  # noqa: F811
    assert provider.data_gaps() == ("no subscription data", "no support ticket data", "no marketing data")


@pytest.mark.parametrize("workflow", ["daily_briefing", "weekly_review", "ad_hoc_support", "crisis_response"])
def test_rule_cj_offers_only_what_the_data_supports(sqlite_url: str, tmp_path: Path, workflow: str) -> None:  # noqa: F811
    """A full offline run on an orders-only database: no CJ line offers a stage whose tool needs
    subscriptions or tickets (segments, at-risk lists, churn, support load)."""
    templates = Catalog.default().prompts.rule_cj
    ruled_out = {t for gap in ("no subscription data", "no support ticket data") for t in templates.unanswerable[gap]}
    assert {"analyze_customer_segment", "get_ticket_metrics"} <= ruled_out
    stages = {s.id for w in Catalog.default().workflows.by_name.values() for s in w.conversation_flow if s.tool in ruled_out}
    banned = {o for key in ruled_out | stages for o in templates.offers.get(key, [])}
    t = _run(sqlite_url, "--workflow", workflow, tmp=tmp_path)
    said = "\n".join(m.content for m in t.messages if m.role == "cj" and m.content)
    assert "£" in said
    for offer in banned:
        assert offer not in said, (workflow, offer)
    # naming what is not available, when the merchant asks for it, is no offer
    offered = "\n".join(line for line in said.splitlines() if "not available" not in line)
    for words in ("at risk of cancelling", "at-risk customers", "support load", "churn and CAC", "subscribers"):
        assert words not in offered, (workflow, words)
