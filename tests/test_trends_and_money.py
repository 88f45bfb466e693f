"""Trend wording (percentage points for rates, both values across zero) and money in the merchant's currency."""

from __future__ import annotations

import pytest

from app.formats.templating import render
from app.formatting import CURRENCIES, count, counted, money, to_major
from app.providers.data_agent import DataAgent
from app.views import Trend
from app.views.base import MoneyResult


def _rate(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 100:.1f}%"


def test_a_rate_changes_in_points() -> None:
    churn = Trend.of(0.146, 0.042, rate=True)
    assert churn.change_points == 10.4 and churn.change_pct == 247.6 and churn.direction == "up"
    assert churn.describe(_rate) == "14.6% (up 10.4 points vs prior period, was 4.2%)"
    assert "247" not in churn.describe(_rate)
    down = Trend.of(0.05, 0.06, rate=True)
    assert down.describe(_rate) == "5.0% (down 1.0 point vs prior period, was 6.0%)"
    assert Trend.of(0.05, 0.05, rate=True).describe(_rate) == "5.0% (unchanged vs prior period)"
    assert Trend.of(0.02, 0.0, rate=True).change_points == 2.0  # from zero: points, no percentage
    assert Trend.of(120, 100).change_points is None  # not a rate


@pytest.mark.parametrize(
    ("current", "previous", "direction", "text"),
    [
        (-100, 6, "down", "-100 (was 6)"),  # across zero: both values, no "down 1766.7%"
        (6, -100, "up", "6 (was -100)"),
        (5, 0, "up", "5 (was 0)"),  # from zero
        (0, 0, "flat", "0 (was 0)"),
    ],
)
def test_a_percentage_is_left_out_where_it_means_nothing(current, previous, direction, text) -> None:
    t = Trend.of(current, previous)
    assert t.change_pct is None and t.direction == direction
    assert t.describe(count) == text
    assert t.model_dump()["change_pct"] is None


def test_no_earlier_figure() -> None:
    assert Trend.of(5, None).describe(count) == "5 (no earlier figure to compare)"


def test_rule_cj_words_trends_like_the_views() -> None:
    rate = {"current": 0.146, "previous": 0.042, "change_pct": 247.6, "direction": "up", "change_points": 10.4}
    assert render("{r|trend:rate_pct}", {"r": rate}) == "up 10.4 points from 4.2%"
    across = {"current": -100, "previous": 6, "change_pct": None, "direction": "down", "change_points": None}
    assert render("{g|trend:count}", {"g": across}) == "down from 6"


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [
        (1234.56, "GBP", "£1,235"),
        (45.2, "GBP", "£45.20"),
        (45.2, "EUR", "€45.20"),
        (4500, "JPY", "¥4,500"),
        (450, "JPY", "¥450"),
        (-12.5, "USD", "-$12.50"),
        (99.99, "CHF", "CHF 99.99"),
        (10, "ZAR", "ZAR 10.00"),  # no symbol known: the code, never a dollar sign
        (None, "GBP", "n/a"),
    ],
)
def test_money_in_the_merchants_currency(value, currency, text) -> None:
    assert money(value, currency) == text


def test_minor_units() -> None:
    assert to_major(123456, "GBP") == 1234.56
    assert to_major(4500, "JPY") == 4500
    assert all(len(code) == 3 and code.isupper() for code in CURRENCIES)


def test_money_results_carry_the_currency_in_json_and_text() -> None:
    agent = DataAgent.create("churn_spike", "sarah_chen", seed=1)
    for name in ("daily_briefing", "financial_metrics", "order_metrics", "crisis_analysis", "customer_list"):
        result = agent.get_view(name)
        assert isinstance(result, MoneyResult) and result.to_json()["currency"] == "USD", name
    gbp = agent.order_metrics().model_copy(update={"currency": "GBP"})
    assert "£" in gbp.to_text() and "$" not in gbp.to_text()
    said = render("{net_revenue.current|money}", gbp.to_json())
    assert said is not None and said.startswith("£")


def test_counts_with_their_noun() -> None:
    assert [counted(n, "order") for n in (0, 1, 2, 1204)] == ["0 orders", "1 order", "2 orders", "1,204 orders"]
