"""An orders-only shop (GBP, customers, orders, refunds; no subscriptions, tickets or marketing)
answers every view with real numbers or named unavailability, in pounds, on SQLite and PostgreSQL.

The order metrics are recomputed here independently, from the rows the database was filled with.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.agents.database_merchant import biggest_mover
from app.cli import app
from app.errors import InvalidArgumentError
from app.evaluation.registry import default_evaluators, evaluate
from app.providers.production import ProductionDataProvider
from app.storage.admin import init_database, store_rows, writable_connection
from app.transcript import Transcript
from app.views import VIEWS
from app.world.retail import retail_rows
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)
from tests.test_conversations import ungrounded

VIEW_TOOLS = {spec.tool: name for name, spec in VIEWS.items()}

ROWS = retail_rows(customers=80, orders=600, seed=7)
LAST = max(o["ordered_on"] for o in ROWS["orders"])
FIRST = min(c["created_on"] for c in ROWS["customers"])
runner = CliRunner()


def _fill(url: str) -> str:
    init_database(url)
    with writable_connection(url) as conn:
        store_rows(conn, ROWS, kind="import", source="test", url=url)
    return url


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory) -> str:
    return _fill(f"sqlite:///{tmp_path_factory.mktemp('retail') / 'retail.db'}")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    return _fill(request.getfixturevalue("pg_schemas").new("retail"))


@pytest.fixture
def provider(url: str):
    p = ProductionDataProvider(url, allow_writable_user=True)
    yield p
    p.close()


def _expected(as_of: dt.date, days: int) -> dict:
    lo = as_of - dt.timedelta(days=days)
    orders = [o for o in ROWS["orders"] if lo < o["ordered_on"] <= as_of]
    gross = sum(o["amount_cents"] for o in orders)
    refunded = sum(r["amount_cents"] for r in ROWS["refunds"] if lo < r["refunded_on"] <= as_of)
    history: dict[str, list[dt.date]] = {}
    for o in ROWS["orders"]:
        if o["ordered_on"] <= as_of:
            history.setdefault(o["customer_id"], []).append(o["ordered_on"])
    ordering = {o["customer_id"] for o in orders}
    new = {c for c in ordering if min(history[c]) > lo}
    since = [(as_of - max(d)).days for d in history.values()]
    return {
        "gross": gross / 100,
        "refunds": refunded / 100,
        "net": (gross - refunded) / 100,
        "orders": len(orders),
        "aov": round(gross / len(orders) / 100, 2),
        "customers": len(ordering),
        "new": len(new),
        "returning": len(ordering - new),
        "repeat": round(sum(1 for d in history.values() if len(d) >= 2) / len(history), 4),
        "retention": (sum(d <= 30 for d in since), sum(30 < d <= 90 for d in since), sum(d > 90 for d in since)),
    }


@pytest.mark.parametrize("days", [30, 90])
def test_order_metrics_are_derivable_from_rows(provider, days: int) -> None:
    m = provider.order_metrics(f"{days}d")
    want = _expected(LAST, days)
    assert m.as_of == LAST and m.currency == "GBP"
    assert m.gross_revenue.current == pytest.approx(want["gross"])
    assert m.refunds.current == pytest.approx(want["refunds"])
    assert m.net_revenue.current == pytest.approx(want["net"])
    assert m.orders.current == want["orders"] and m.avg_order_value.current == want["aov"]
    assert (m.customers.current, m.new_customers.current, m.returning_customers.current) == (
        want["customers"], want["new"], want["returning"]
    )  # fmt: skip
    assert m.repeat_purchase_rate.current == want["repeat"] and m.repeat_purchase_rate.change_points is not None
    assert m.retention is not None
    assert (m.retention.active, m.retention.at_risk, m.retention.inactive) == want["retention"]
    before = _expected(LAST - dt.timedelta(days=days), days)
    assert m.orders.previous == before["orders"] and m.new_customers.previous == before["new"]
    assert m.repeat_purchase_rate.previous == before["repeat"]
    assert sum(r.count for r in m.refunds_by_reason) == sum(
        1 for r in ROWS["refunds"] if LAST - dt.timedelta(days=days) < r["refunded_on"] <= LAST
    )
    assert m.top_customers and m.top_customers[0].amount >= m.top_customers[-1].amount
    assert not m.unavailable


def test_every_view_answers_in_pounds_with_numbers_or_named_gaps(provider) -> None:
    for name, spec in VIEWS.items():
        for args in spec.examples:
            if name in ("customer_profile", "customer_journey"):
                args = {"customer_id": ROWS["customers"][0]["customer_id"]}
            result = provider.get_view(name, **args)
            text, data = result.to_text(), result.to_json()
            assert "$" not in text, (name, text)
            if "currency" in data:
                assert data["currency"] == "GBP"
            for path, reason in result.unavailable.items():
                assert reason, (name, path)
    brief = provider.daily_briefing()
    assert brief.revenue.current is not None and brief.revenue_basis == "net"
    assert "Net revenue (30d): £" in brief.to_text() and brief.orders.current == _expected(LAST, 30)["orders"]
    anomalies = provider.detect_anomalies()
    assert {"orders", "refunds", "failed_payments"} <= set(anomalies.metrics_checked)
    assert "new_subscribers" in anomalies.unavailable


def test_crisis_auto_picks_a_type_the_data_supports(provider) -> None:
    crisis = provider.crisis_analysis()
    assert crisis.crisis_type in ("orders", "refunds")
    assert crisis.indicator is not None and crisis.indicator.ratio is not None
    assert provider.crisis_analysis("payment").indicator is not None  # named: answered, even if quiet
    assert provider.crisis_analysis("churn").missing("indicator") == "no subscription data"


def test_sort_orders_follow_order_dates(provider) -> None:
    first = {c["customer_id"]: c["created_on"] for c in ROWS["customers"]}
    last: dict[str, dt.date] = {}
    for o in ROWS["orders"]:
        last[o["customer_id"]] = max(last.get(o["customer_id"], o["ordered_on"]), o["ordered_on"])
    recent = [c.customer_id for c in provider.customer_list("all", 100, "recent").customers]
    assert recent == sorted(last, key=lambda c: (-last[c].toordinal(), c))[:80]
    tenure = [c.customer_id for c in provider.customer_list("all", 100, "tenure").customers]
    assert tenure == sorted(first, key=lambda c: (first[c], c))[:80]
    by_name = [c.customer_id for c in provider.customer_list("all", 100, "name").customers]
    assert by_name != recent and by_name != tenure


def test_same_answers_on_sqlite_and_postgres(sqlite_url: str, pg_schemas) -> None:  # noqa: F811
    pg = _fill(pg_schemas.new("retail_parity"))
    a = ProductionDataProvider(sqlite_url, allow_writable_user=True)
    b = ProductionDataProvider(pg, allow_writable_user=True)
    earlier = LAST - dt.timedelta(days=45)
    for name, spec in VIEWS.items():
        for args in spec.examples:
            if name in ("customer_profile", "customer_journey"):
                args = {"customer_id": ROWS["customers"][3]["customer_id"]}
            for day in (None, earlier):
                assert a.get_view(name, day, **args).to_json() == b.get_view(name, day, **args).to_json(), name
    a.close()
    b.close()


def test_as_of_outside_the_data_is_refused(provider) -> None:
    with pytest.raises(InvalidArgumentError, match=f"after the data's last day {LAST}; choose a date between {FIRST} and {LAST}"):
        provider.order_metrics(as_of=dt.date(2099, 1, 1))
    with pytest.raises(InvalidArgumentError, match=f"before the data's first day {FIRST}"):
        provider.daily_briefing(as_of=FIRST - dt.timedelta(days=1))
    assert provider.order_metrics(as_of=FIRST).orders.previous is None  # nothing before the first day


@pytest.mark.parametrize("view", ["daily_briefing", "order_metrics", "customer_list"])
def test_cli_refuses_as_of_outside_the_data(url: str, view: str) -> None:
    result = runner.invoke(
        app, ["data", view, "--provider", "production", "--db-url", url, "--allow-writable-user", "--as-of", "2099-01-01"]
    )
    assert result.exit_code == 2, result.output
    assert f"--as-of 2099-01-01 is after the data's last day {LAST}; choose a date between {FIRST} and {LAST}" in " ".join(
        result.output.split()
    )
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- conversations about the database


def _run(url: str, *extra: str, tmp: Path) -> Transcript:
    out = tmp / "t.json"
    result = runner.invoke(
        app, ["run", "--provider", "production", "--db-url", url, "--allow-writable-user", "--format", "json",
              "--out", str(out), *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return Transcript.model_validate_json(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("workflow", ["daily_briefing", "weekly_review", "ad_hoc_support"])
def test_production_run_is_about_the_databases_business(sqlite_url: str, tmp_path: Path, workflow: str) -> None:
    t = _run(sqlite_url, "--workflow", workflow, tmp=tmp_path)
    merchant = ROWS["merchants"][0]
    assert t.merchant == merchant["merchant_id"]
    cj = [m.content for m in t.messages if m.role == "cj" and m.content]
    said = "\n".join(cj)
    first_name = merchant["name"].split()[0]
    if workflow == "daily_briefing":  # CJ opens: it greets the database's merchant and names the business
        assert cj[0].startswith(f"Hi {first_name}") and merchant["business_name"] in cj[0]
    else:  # the merchant opens with what moved most in its own data
        assert t.messages[0].role == "merchant" and "last 30 days" in t.messages[0].content
    assert "Marcus" not in said and "Grill Masters" not in said
    assert "$" not in said and "£" in said
    assert ungrounded(t) == [], ungrounded(t)
    [grounding] = evaluate(t, default_evaluators(keys=["grounding"]))  # and the evaluator agrees
    assert grounding.passed, grounding.comment
    # Every tool result is the view's own answer for the database, and the merchant claims no number.
    p = ProductionDataProvider(sqlite_url, allow_writable_user=True)
    calls = {c.id: c for m in t.messages if m.role == "cj" for c in m.tool_calls or []}
    checked = 0
    for m in t.messages:
        if m.role == "tool" and m.status != "error" and m.name in VIEW_TOOLS:
            call = calls[m.tool_call_id]
            assert m.artifact == p.get_view(VIEW_TOOLS[m.name], **call.args).to_json(), m.name
            checked += 1
    assert checked >= 2
    for m in t.messages:
        if m.role == "merchant":
            assert not re.search(r"\d", m.content.replace("30 days", "")), m.content
    p.close()


def test_the_merchant_asks_about_what_moved_most(sqlite_url: str, tmp_path: Path) -> None:
    p = ProductionDataProvider(sqlite_url, allow_writable_user=True)
    mover = biggest_mover(p)
    assert mover is not None
    t = _run(sqlite_url, "--workflow", "weekly_review", tmp=tmp_path)
    asked = " ".join(m.content for m in t.messages if m.role == "merchant")
    assert mover.ask in asked
    p.close()


def test_merchant_option_on_a_database(sqlite_url: str, tmp_path: Path) -> None:
    own = _run(sqlite_url, "--merchant", ROWS["merchants"][0]["merchant_id"], tmp=tmp_path)
    assert own.merchant == ROWS["merchants"][0]["merchant_id"]
    styled = _run(sqlite_url, "--merchant", "sarah_chen", tmp=tmp_path)  # a persona lends its manner only
    assert styled.merchant == ROWS["merchants"][0]["merchant_id"]
    result = runner.invoke(
        app, ["run", "--provider", "production", "--db-url", sqlite_url, "--allow-writable-user", "--merchant", "nobody"]
    )
    assert result.exit_code == 2 and "neither this database's merchant ('uk_gifts') nor a persona" in result.output
    assert "Traceback" not in result.output


def test_terminal_header_names_the_database_and_prints_ids_literally(sqlite_url: str, tmp_path: Path) -> None:
    t = _run(sqlite_url, "--workflow", "weekly_review", tmp=tmp_path)
    t = t.model_copy(update={"merchant": "[red]shop[/red] :100:"})  # a merchant id is user data
    from rich.console import Console

    from app.cli.render import render_transcript

    console = Console(record=True, width=200)
    render_transcript(console, t)
    first = console.export_text().splitlines()[0]
    assert first.startswith(f"database as of {t.goals.as_of} · [red]shop[/red] :100:"), first
    assert "growth_stall" not in first
