"""Customer lists by orders-based retention status, and the rule CJ's answer to "who is at risk?".

``order_active``, ``order_at_risk`` and ``order_inactive`` list the customers whose last charged
order on or before ``as_of`` was at most 30, 31-90 or more than 90 days ago (docs/metrics.md). The
expected members are recomputed here from the rows the database was filled with, on SQLite and
PostgreSQL, from facts stored by the load (the last day) and from facts computed in memory.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from app.cli import app
from app.providers.production import ProductionDataProvider
from app.views.orders import retention_status
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)
from tests.test_conversations import ungrounded
from tests.test_orders_only import LAST, ROWS, _fill, _run, runner, sqlite_url  # noqa: F401  (fixtures)

STATUS = {"order_active": "ACTIVE", "order_at_risk": "AT_RISK", "order_inactive": "INACTIVE"}


def _members(filter: str, as_of: dt.date) -> set[str]:
    """Customers of a retention filter at ``as_of``, from the order rows."""
    last: dict[str, dt.date] = {}
    for o in ROWS["orders"]:
        if o["ordered_on"] <= as_of and o["status"] in ("paid", "refunded"):
            last[o["customer_id"]] = max(o["ordered_on"], last.get(o["customer_id"], o["ordered_on"]))
    return {c for c, day in last.items() if retention_status((as_of - day).days) == STATUS[filter]}


EARLIER = LAST - dt.timedelta(days=45)
"""A day without stored customer facts (a load stores them at the last day): computed in memory."""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def provider(request, tmp_path_factory):
    """A filled orders-only database (customer facts stored at its last day only)."""
    if request.param == "sqlite":
        url = _fill(f"sqlite:///{tmp_path_factory.mktemp('retention') / 'retail.db'}")
    else:
        url = _fill(request.getfixturevalue("pg_schemas").new("retention"))
    p = ProductionDataProvider(url, allow_writable_user=True)
    assert LAST in p.materialized_dates() and EARLIER not in p.materialized_dates()
    yield p
    p.close()


@pytest.mark.parametrize("filter", list(STATUS))
@pytest.mark.parametrize("as_of", [LAST, EARLIER], ids=["stored", "in-memory"])
def test_retention_filters_match_the_rows(provider, filter: str, as_of: dt.date) -> None:
    expected = _members(filter, as_of)
    listed = provider.customer_list(filter, 100, "recent", as_of=as_of)
    assert listed.total == len(expected) and {c.customer_id for c in listed.customers} == expected
    assert not {"total", "customers"} & set(listed.unavailable)
    days = [c.order_history.days_since_last_order for c in listed.customers]  # type: ignore[union-attr]
    assert days == sorted(days)  # "recent": the latest last order first
    assert all(c.order_history.retention_status == STATUS[filter] for c in listed.customers)  # type: ignore[union-attr]


def test_the_three_filters_split_every_customer_with_an_order(provider) -> None:
    totals = [provider.customer_list(f, 1, "ltv").total for f in STATUS]
    with_orders = {o["customer_id"] for o in ROWS["orders"] if o["status"] in ("paid", "refunded")}
    assert sum(totals) == len(with_orders)
    assert all(totals), totals  # the fixture has customers in every status
    counts = provider.order_metrics().retention  # the same statuses, counted by the order view
    assert totals == [counts.active, counts.at_risk, counts.inactive]


def test_sorted_by_value_most_valuable_first(provider) -> None:
    listed = provider.customer_list("order_at_risk", 5, "ltv")
    values = [c.lifetime_value for c in listed.customers]
    assert values == sorted(values, reverse=True) and len(values) == min(5, listed.total or 0)


def test_bad_filter_is_one_clear_message(sqlite_url: str) -> None:  # noqa: F811
    result = runner.invoke(
        app, ["data", "customer_list", "--provider", "production", "--db-url", sqlite_url, "--allow-writable-user",
              "--filter", "order_risk"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "'order_at_risk'" in result.output and "filter" in result.output


def test_rule_cj_names_the_at_risk_customers(sqlite_url: str, tmp_path: Path) -> None:  # noqa: F811
    """The merchant hears how many customers are at risk and asks which ones: CJ lists them from
    the tool, by last order, with every number grounded."""
    t = _run(sqlite_url, "--workflow", "daily_briefing", tmp=tmp_path)
    asks = [i for i, m in enumerate(t.messages) if m.role == "merchant" and "which customers" in m.content.lower()]
    assert asks, [m.content for m in t.messages if m.role == "merchant"]
    after = t.messages[asks[0] + 1 :]
    call = next(c for m in after if m.role == "cj" for c in m.tool_calls or [])
    assert (call.name, call.args["filter"]) == ("get_customer_list", "order_at_risk")
    answer = next(m.content for m in after if m.role == "cj" and m.content)
    at_risk = _members("order_at_risk", LAST)
    named = [cid for cid in at_risk if f"({cid})" in answer]
    assert len(named) == 5
    assert f"Customers at risk: {len(at_risk)} by last order" in answer or f"{len(at_risk)} customers are at risk" in answer
    assert "not available" not in answer
    assert ungrounded(t) == [], ungrounded(t)
