"""Importing CSV exports through a mapping file: conversions, validation, errors, missing data."""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import app
from app.data_views import VIEWS, TicketSnapshot, Trend
from app.errors import DataFileError, InvalidArgumentError, ProviderError
from app.providers.production import ProductionDataProvider
from app.simulation import RunConfig, run_conversation
from app.storage.admin import database_info, init_database
from app.storage.importer import import_exports, read_exports
from app.storage.mapping import ImportMapping
from app.views.journey_data import NO_LOOP_STORE
from app.views.notes import NO_OPS_STORE
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)
from tests.test_conversations import ungrounded

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "production"
EXAMPLE_FILES = {
    "orders": EXAMPLES / "orders.csv",
    "subscriptions": EXAMPLES / "subscriptions.csv",
    "support_tickets": EXAMPLES / "tickets.csv",
    "customers": EXAMPLES / "customers.csv",
}
MAPPING = EXAMPLES / "mapping.yaml"
runner = CliRunner()

ORDERS_ONLY_MAPPING = """\
version: 1
merchant: {merchant_id: solo, name: Sam Solo, business_name: Solo Sauce}
defaults:
  date_formats: ["%m/%d/%Y"]
  datetime_formats: ["%m/%d/%Y %I:%M %p"]
orders:
  columns:
    order_id: Name
    customer_id: Customer ID
    ordered_on: Created at
    amount_cents: Total
    status: {source: Financial Status, map: {paid: paid, voided: failed, refunded: refunded}}
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _db(tmp_path: Path, name: str = "import.db") -> str:
    url = f"sqlite:///{tmp_path / name}"
    init_database(url)
    return url


# --------------------------------------------------------------------------- the shipped example


@pytest.fixture(params=["sqlite", "postgres"])
def example_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = _db(tmp_path)
    else:
        url = request.getfixturevalue("pg_schemas").new("import")
        init_database(url)
    import_exports(url, EXAMPLE_FILES, MAPPING)
    return url


def test_example_import(example_url: str) -> None:
    info = database_info(example_url)
    counts = info["row_counts"]
    assert counts["customers"] == 24 and counts["subscriptions"] == 22 and counts["orders"] == 74
    assert counts["support_tickets"] == 30 and counts["customer_signals"] > 0
    assert info["loads"][0]["kind"] == "import" and info["date_range"]["last"] == dt.date(2025, 3, 31)
    p = ProductionDataProvider(example_url, allow_writable_user=True)
    brief = p.daily_briefing()
    assert brief.merchant == "Smokehouse Supply Co." and brief.as_of == dt.date(2025, 3, 31)
    fin = p.financial_metrics("30d")
    assert {plan.plan for plan in fin.plans} == {"pitmaster_box", "sauce_club", "pitmaster_box_quarterly"}
    quarterly = next(plan for plan in fin.plans if plan.plan == "pitmaster_box_quarterly")
    assert quarterly.mrr == 55.0 * quarterly.active  # $165 every 3 months -> $55/month
    assert fin.marketing_spend.unavailable and fin.marketing_spend.current is None
    big = p.customer_profile("cus_7023")
    assert big.lifetime_value == 1234.50 and big.status == "never_subscribed" and big.name == "Hayden Ortiz"
    for name in ("daily_briefing", "ticket_metrics", "customer_segment", "crisis_analysis", "detect_anomalies",
                 "customer_list", "search_tickets", "business_timeline"):
        args = {"segment": "churned"} if name == "customer_segment" else {"query": "box"} if name == "search_tickets" else {}
        assert p.get_view(name, **args).to_text()
    p.close()


def test_example_conversions() -> None:
    rows = read_exports(EXAMPLE_FILES, MAPPING).rows
    order = next(o for o in rows["orders"] if o["order_id"] == "#1001")
    assert order == {"order_id": "#1001", "customer_id": "cus_7001", "subscription_id": "sub_90001",
                     "ordered_on": dt.date(2024, 10, 29), "amount_cents": 5900, "status": "paid"}
    assert any(o["amount_cents"] == 123450 for o in rows["orders"])  # "$1,234.50"
    assert {o["status"] for o in rows["orders"]} == {"paid", "failed", "refunded"}
    customer = rows["customers"][0]
    assert customer["name"] == "Avery Nguyen" and customer["email"] == "avery.nguyen@example.com"
    assert customer["country"] == "US" and customer["created_on"] == dt.date(2024, 10, 29)
    assert next(c for c in rows["customers"] if c["customer_id"] == "cus_7006")["country"] == "US"  # default
    ticket = next(t for t in rows["support_tickets"] if t["ticket_id"] == "5100")
    assert ticket["created_at"] == dt.datetime(2025, 2, 3, 15, 45) and ticket["category"] == "shipping_delay"
    assert ticket["status"] == "resolved" and ticket["sentiment"] == "negative" and ticket["priority"] == "high"
    open_ticket = next(t for t in rows["support_tickets"] if t["resolved_at"] is None)
    assert open_ticket["status"] in ("open", "pending") and open_ticket["csat_rating"] is None
    sub = next(s for s in rows["subscriptions"] if s["subscription_id"] == "sub_90001")
    assert sub["cancel_reason"] == "too_expensive" and sub["cancelled_on"] == dt.date(2025, 3, 7)
    kinds = {s["signal_type"] for s in rows["customer_signals"]}
    assert kinds == {"failed_payment", "negative_ticket"}


def test_cli_import_example(tmp_path: Path) -> None:
    url = _db(tmp_path)
    result = runner.invoke(
        app,
        ["db", "import", "--url", url, "--mapping", str(MAPPING), "--orders", str(EXAMPLE_FILES["orders"]),
         "--subscriptions", str(EXAMPLE_FILES["subscriptions"]), "--tickets", str(EXAMPLE_FILES["support_tickets"]),
         "--customers", str(EXAMPLE_FILES["customers"])],
    )
    assert result.exit_code == 0, result.output
    assert "150 source lines -> 158 rows" in result.output.replace("\n", " ")
    out = runner.invoke(app, ["data", "ticket_metrics", "--json", "--provider", "production", "--db-url", url])
    assert out.exit_code == 0 and json.loads(out.output)["as_of"] == "2025-03-31"


# --------------------------------------------------------------------------- missing data


NO_SUBS, NO_TICKETS, NO_REFUNDS = "no subscription data", "no support ticket data", "no refund data"
PARTIAL_GAPS: dict[str, dict[str, str]] = {
    "daily_briefing": {
        **dict.fromkeys(("mrr", "active_subscribers", "churn_rate", "new_subscribers"), NO_SUBS),
        **dict.fromkeys(("csat", "tickets", "top_ticket_categories"), NO_TICKETS),
    },
    "ticket_metrics": dict.fromkeys(
        ("created", "open", "urgent", "avg_first_response_hours", "avg_resolution_hours", "csat", "ratings",
         "by_category", "by_priority", "sentiment"),
        NO_TICKETS,
    ),
    "financial_metrics": dict.fromkeys(
        ("mrr", "active_subscribers", "churn_rate", "new_subscribers", "cancellations", "net_growth", "cac", "arpu",
         "top_cancel_reasons", "plans"),
        NO_SUBS,
    ),
    "order_metrics": dict.fromkeys(("refunds", "net_revenue", "refund_rate", "refunds_by_reason"), NO_REFUNDS),
    "customer_segment": dict.fromkeys(
        ("size", "share_of_active", "avg_ltv", "segment_mrr", "churn_risk", "avg_tenure_days", "customers"), NO_SUBS
    ),
    "crisis_analysis": {"revenue_at_risk": NO_SUBS, "top_categories": NO_TICKETS},
    "detect_anomalies": {},
    "customer_list": {},
    "customer_profile": {
        **dict.fromkeys(("status", "tenure_days", "subscriptions", "segments"), NO_SUBS),
        **dict.fromkeys(("tickets", "open_tickets", "recent_tickets"), NO_TICKETS),
    },
    "search_tickets": {"total": NO_TICKETS, "tickets": NO_TICKETS},
    "business_timeline": {},
    "get_notes": {"notes": NO_OPS_STORE},  # opened without an operations store
    # Retention operations and data quality read orders and customers only: nothing is missing.
    "get_alert_decision": {},
    "get_operational_context": {},
    "generate_brief": {},
    "data_quality": {},
    # Health: the components without data are null in the result (never 0) and its confidence says
    # how much weight is missing (tests/test_health.py checks which ones).
    "customer_health": {},
    "health_overview": {},
    "alerts": {},
    # Journeys read orders and customers; what actions wrote needs an operations store.
    "journey_overview": {},
    "customer_journey": {"interventions": NO_LOOP_STORE},
    "churn_forecast": {},
    "playbooks": {},
    "playbook_performance": {"rows": NO_LOOP_STORE},
    "portfolio_snapshot": {},
}
"""Per view: what a merchant without subscriptions and tickets cannot know, and why."""

PARTIAL_GAPS_BY_ARGS: dict[tuple[str, int], dict[str, str]] = {
    ("financial_metrics", 0): {"cohorts": NO_SUBS},
    ("crisis_analysis", 1): dict.fromkeys(("detected", "severity", "indicator", "affected_customers"), NO_SUBS),
    ("detect_anomalies", 0): {
        "new_subscribers": NO_SUBS, "cancellations": NO_SUBS, "tickets": NO_TICKETS, "shipping_tickets": NO_TICKETS,
        "refunds": NO_REFUNDS,
    },
    ("detect_anomalies", 1): {"tickets": NO_TICKETS, "anomalies": NO_TICKETS},
    ("customer_list", 0): {"total": NO_SUBS, "customers": NO_SUBS},
    ("customer_list", 1): {"customers.status": NO_SUBS},
    ("customer_list", 2): {"customers.status": NO_SUBS},  # order_at_risk: the customers, without plan or status
}
"""Gaps that depend on the example arguments (VIEWS[view].examples[index])."""


def _partial_mapping(tmp_path: Path, sections: tuple[str, ...]) -> Path:
    """The example mapping reduced to ``sections`` (orders always; no subscriptions to link orders to)."""
    data = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    for name in ("customers", "subscriptions", "support_tickets"):
        if name not in sections:
            del data[name]
    del data["orders"]["columns"]["subscription_id"]
    return _write(tmp_path / "partial.yaml", yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(params=[("sqlite", ("orders",)), ("sqlite", ("orders", "customers")), ("postgres", ("orders",)),
                        ("postgres", ("orders", "customers"))], ids=lambda p: f"{p[0]}-{'+'.join(p[1])}")
def partial_url(request, tmp_path: Path) -> str:
    backend, sections = request.param
    url = _db(tmp_path) if backend == "sqlite" else request.getfixturevalue("pg_schemas").new("partial")
    if backend == "postgres":
        init_database(url)
    report = import_exports(url, {name: EXAMPLE_FILES[name] for name in sections}, _partial_mapping(tmp_path, sections))
    assert report.rows["customers"] == 24 and report.rows["subscriptions"] == 0 and report.rows["support_tickets"] == 0
    return url


def _never_zero(result, path: str) -> None:
    """An unavailable field holds no number: null, an empty list, or a Trend/snapshot without values."""
    head, _, rest = path.partition(".")
    value = getattr(result, head, None)
    if rest:
        assert all(getattr(item, rest) is None for item in value), path
    elif isinstance(value, Trend):
        assert value.current is None and value.previous is None and value.unavailable, path
    elif isinstance(value, TicketSnapshot):
        assert value.open is None and value.created_24h is None and value.unavailable, path
    elif head in type(result).model_fields:
        assert value is None or value == [], (path, value)


def test_merchant_without_subscriptions_or_tickets_gets_every_view(partial_url: str) -> None:
    p = ProductionDataProvider(partial_url, allow_writable_user=True)
    for name, spec in VIEWS.items():
        for index, args in enumerate(spec.examples):
            if name in ("customer_profile", "customer_journey"):
                args = {"customer_id": "cus_7001"}  # the example id belongs to generated worlds
            result = p.get_view(name, **args)
            expected = {**PARTIAL_GAPS[name], **PARTIAL_GAPS_BY_ARGS.get((name, index), {})}
            text, data = result.to_text(), result.to_json()
            for path, reason in expected.items():
                assert result.missing(path) == reason, (name, args, path)
                _never_zero(result, path)
                assert reason in text, (name, args, path)
            for path in result.unavailable:
                _never_zero(result, path)
                assert data["unavailable"][path] == result.unavailable[path]
            assert ("not available" in text) == bool(expected), (name, args, text)
            assert "None" not in text and "unavailable (" not in text, (name, text)
    brief = p.daily_briefing()
    assert "Tickets: not available: no support ticket data" in brief.to_text()
    assert "MRR: not available: no subscription data" in brief.to_text()
    fin = p.financial_metrics()
    assert fin.revenue.current == 928.0 and fin.marketing_spend.unavailable
    crisis = p.crisis_analysis()  # auto weighs the order-based types the data supports
    assert crisis.crisis_type in ("payment", "orders") and crisis.indicator is not None
    assert crisis.affected_customers is not None
    assert p.detect_anomalies().metrics_checked == ["failed_payments", "orders"]
    assert p.customer_list("all", 3).total == 24
    assert p.business_timeline().events == []
    p.close()


def test_full_data_views_carry_no_unavailable_mapping(example_url: str) -> None:
    p = ProductionDataProvider(example_url, allow_writable_user=True)
    assert "unavailable" not in p.daily_briefing().to_json()
    assert "unavailable" not in p.ticket_metrics("30d").to_json()
    assert p.detect_anomalies().unavailable == {
        "marketing_spend": "no marketing data", "visitors": "no marketing data", "refunds": NO_REFUNDS
    }
    p.close()


def test_rule_cj_states_no_number_for_unavailable_metrics(tmp_path: Path) -> None:
    url = _db(tmp_path)
    import_exports(url, {"orders": EXAMPLE_FILES["orders"]}, _partial_mapping(tmp_path, ("orders",)))
    p = ProductionDataProvider(url)
    for workflow in ("daily_briefing", "weekly_review"):
        t = run_conversation(RunConfig(workflow=workflow), provider=p)
        assert t.termination_reason != "agent_error", t.error
        assert ungrounded(t) == []
        said = "\n".join(m.content for m in t.messages if m.role == "cj" and m.content)
        # a gap is named (asked which customers are at risk, CJ now lists them by last order instead)
        assert re.search(r"not available \(no (subscription|support ticket) data\)", said), said
        for line in said.splitlines():
            if "not available" in line:
                assert not re.search(r"\d", line), line
    p.close()


# --------------------------------------------------------------------------- row validation


ORDERS_HEADER = "Name,Customer ID,Created at,Total,Financial Status\n"


def test_invalid_rows_are_reported_and_abort_by_default(tmp_path: Path) -> None:
    url = _db(tmp_path)
    mapping = _write(tmp_path / "m.yaml", ORDERS_ONLY_MAPPING)
    orders = _write(
        tmp_path / "orders.csv",
        ORDERS_HEADER
        + '#1,c1,03/14/2025 09:12 AM,"$1,234.50",paid\n'
        + "#2,c1,2025-03-14,$10.00,paid\n"
        + "#3,c2,03/15/2025 10:00 AM,$12.345,paid\n"
        + "#4,c2,03/15/2025 10:00 AM,$12.00,chargeback\n"
        + "#5,,03/15/2025 10:00 AM,$12.00,paid\n"
        + "#1,c3,03/16/2025 10:00 AM,$5.00,paid\n"
        + "#6,c3,03/16/2025 10:00 AM,$5.00\n"
        + '"#7",c4,"03/17/2025 10:00 AM","$1,000.00",Paid\n',
    )
    with pytest.raises(DataFileError) as err:
        import_exports(url, {"orders": orders}, mapping)
    message = str(err.value)
    assert message.startswith("6 row(s) failed validation") and "nothing was imported" in message
    for expected in (
        "orders.csv:3: ordered_on: '2025-03-14' does not match the format(s)",
        "orders.csv:4: amount_cents: '$12.345' has fractions of a cent",
        "orders.csv:5: status: value 'chargeback' is not in the mapping's `map`",
        "orders.csv:6: customer_id is empty",
        "orders.csv:7: duplicate order_id '#1' (first on line 2)",
        "orders.csv:8: expected 5 fields, found 4",
    ):
        assert expected in message
    assert database_info(url)["row_counts"]["orders"] == 0  # one transaction: nothing written

    report = import_exports(url, {"orders": orders}, mapping, max_errors=6)
    assert report.rejected == 6 and report.rows["orders"] == 2 and len(report.problems) == 6
    p = ProductionDataProvider(url)
    assert p.customer_profile("c1").lifetime_value == 1234.5 and p.customer_profile("c4").lifetime_value == 1000.0


def test_cross_file_checks(tmp_path: Path) -> None:
    mapping = _write(
        tmp_path / "m.yaml",
        """\
        version: 1
        merchant: {merchant_id: m, name: M, business_name: M Co}
        derive: {customers: false}
        customers: {columns: {customer_id: id, name: name, created_on: since}}
        subscriptions:
          columns: {subscription_id: id, customer_id: customer, monthly_price_cents: price, started_on: start,
                    cancelled_on: end}
        orders:
          columns: {order_id: id, customer_id: customer, subscription_id: sub, ordered_on: day, amount_cents: amount}
        support_tickets:
          columns: {ticket_id: id, customer_id: customer, created_at: created, resolved_at: resolved, csat_rating: csat}
        """,
    )
    files = {
        "customers": _write(tmp_path / "c.csv", "id,name,since\nc1,Ann,2025-01-01\nc2,Bob,\n"),
        "subscriptions": _write(
            tmp_path / "s.csv", "id,customer,price,start,end\ns1,c1,30,2025-01-02,\ns2,c9,30,2025-01-02,\ns3,c1,30,2025-02-01,2025-01-15\n"
        ),
        "orders": _write(tmp_path / "o.csv", "id,customer,sub,day,amount\no1,c1,s1,2025-01-02,30\no2,c1,s2,2025-01-02,30\n"),
        "support_tickets": _write(
            tmp_path / "t.csv",
            "id,customer,created,resolved,csat\n"
            "t1,c1,2025-01-05 10:00:00,2025-01-05 12:00:00,5\n"
            "t2,c1,2025-01-05 10:00:00,2025-01-04 12:00:00,\n"
            "t3,c1,2025-01-05 10:00:00,,4\n"
            "t4,c1,2025-01-05 10:00:00,2025-01-06 10:00:00,9\n",
        ),
    }
    result = read_exports(files, mapping)
    problems = [str(p) for p in result.problems]
    assert problems == [
        "s.csv:4: cancelled_on 2025-01-15 is before started_on 2025-02-01",
        "t.csv:3: resolved_at 2025-01-04 12:00:00 is before created_at 2025-01-05 10:00:00",
        "t.csv:4: csat_rating given for a ticket that is not resolved",
        "t.csv:5: csat_rating 9 is not between 1 and 5",
        "s.csv:3: unknown customer 'c9'",
        "o.csv:3: unknown subscription 's2'",
        "c.csv:3: created_on is empty and the customer has no activity",
    ]
    assert [c["customer_id"] for c in result.rows["customers"]] == ["c1"]
    assert result.rows["support_tickets"][0]["sentiment"] == "positive"


@pytest.mark.parametrize(
    ("text", "decimal", "cents"),
    [("$1,234.50", ".", 123450), ("(12.00)", ".", -1200), ("1.234,50 €", ",", 123450), ("USD 7", ".", 700),
     ("12.00-", ".", -1200), (" 0.5 ", ".", 50)],
)
def test_money_to_cents(tmp_path: Path, text: str, decimal: str, cents: int) -> None:
    mapping = _write(
        tmp_path / "m.yaml",
        f"""\
        version: 1
        merchant: {{merchant_id: m, name: M, business_name: M Co}}
        defaults: {{decimal_separator: "{decimal}", delimiter: ";"}}
        orders: {{columns: {{order_id: id, customer_id: c, ordered_on: d, amount_cents: total}}}}
        """,
    )
    orders = _write(tmp_path / "o.csv", f"id;c;d;total\no1;c1;2025-03-01;{text}\n")
    assert read_exports({"orders": orders}, mapping).rows["orders"][0]["amount_cents"] == cents


# --------------------------------------------------------------------------- file and mapping errors


def _import_cli(tmp_path: Path, orders: Path, mapping: Path, *extra: str):
    url = _db(tmp_path, "cli.db")
    return runner.invoke(app, ["db", "import", "--url", url, "--orders", str(orders), "--mapping", str(mapping), *extra])


@pytest.mark.parametrize(
    ("mapping_text", "orders_text", "message"),
    [
        (ORDERS_ONLY_MAPPING.replace("amount_cents: Total", "amount_cents: Grand Total"), None,
         "field 'orders.columns.amount_cents': column 'Grand Total' is not in"),
        (ORDERS_ONLY_MAPPING.replace("amount_cents: Total", "amount: Total"), None,
         "field 'orders.columns.amount': no column 'amount' in table orders"),
        (ORDERS_ONLY_MAPPING.replace("    amount_cents: Total\n", ""), None,
         "required column(s) amount_cents not mapped"),
        (ORDERS_ONLY_MAPPING.replace("version: 1", "version: 1\ncolour: blue"), None,
         "field 'colour': unknown field"),
        (ORDERS_ONLY_MAPPING, ORDERS_HEADER + '#1,c1,"03/14/2025 09:12 AM,$5.00,paid\n', "malformed CSV"),
        (ORDERS_ONLY_MAPPING, "", "empty file; expected a header row"),
        (ORDERS_ONLY_MAPPING, "Name,Name,Total\n", "duplicate column name(s) Name"),
    ],
)
def test_file_and_mapping_errors_exit_2(tmp_path: Path, mapping_text: str, orders_text: str | None, message: str) -> None:
    mapping = _write(tmp_path / "m.yaml", mapping_text)
    orders = EXAMPLE_FILES["orders"] if orders_text is None else _write(tmp_path / "o.csv", orders_text)
    result = _import_cli(tmp_path, orders, mapping)
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", "") and "Traceback" not in result.output


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    mapping = _write(tmp_path / "m.yaml", ORDERS_ONLY_MAPPING)
    bad = tmp_path / "latin1.csv"
    bad.write_bytes((ORDERS_HEADER + "#1,Müller,03/14/2025 09:12 AM,$5.00,paid\n").encode("latin-1"))
    with pytest.raises(DataFileError, match=r"latin1.csv:2: not valid utf-8-sig \(byte 0xfc at column 5\).*defaults.encoding"):
        read_exports({"orders": bad}, mapping)
    with pytest.raises(DataFileError, match="cannot read file"):
        read_exports({"orders": tmp_path / "nope.csv"}, mapping)


def test_file_without_mapping_section_and_missing_orders(tmp_path: Path) -> None:
    mapping = _write(tmp_path / "m.yaml", ORDERS_ONLY_MAPPING)
    with pytest.raises(DataFileError, match="no 'support_tickets' section, but --tickets"):
        read_exports({"orders": EXAMPLE_FILES["orders"], "support_tickets": EXAMPLE_FILES["support_tickets"]}, mapping)
    with pytest.raises(InvalidArgumentError, match="needs at least the orders file"):
        import_exports(_db(tmp_path), {"customers": EXAMPLE_FILES["customers"]}, mapping)


def test_import_refuses_a_database_with_data_unless_replace(tmp_path: Path) -> None:
    url = _db(tmp_path)
    mapping = _write(tmp_path / "m.yaml", ORDERS_ONLY_MAPPING)
    import_exports(url, {"orders": EXAMPLE_FILES["orders"]}, mapping)
    with pytest.raises(ProviderError, match="already holds data .*--replace"):
        import_exports(url, EXAMPLE_FILES, MAPPING)
    assert database_info(url)["row_counts"]["subscriptions"] == 0
    import_exports(url, EXAMPLE_FILES, MAPPING, replace=True)
    assert database_info(url)["row_counts"]["subscriptions"] == 22


def test_import_needs_an_initialised_database(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "raw.db"
    sqlite3.connect(path).close()
    with pytest.raises(ProviderError, match="cjsim db init --url"):
        import_exports(f"sqlite:///{path}", EXAMPLE_FILES, MAPPING)


def test_published_json_schema_is_current() -> None:
    from app.storage.mapping_v2 import ImportMappingV2

    schemas = Path(__file__).resolve().parents[1] / "docs" / "schemas"
    for name, model in (("import_mapping", ImportMapping), ("import_mapping_v2", ImportMappingV2)):
        path = schemas / f"{name}.schema.json"
        assert json.loads(path.read_text(encoding="utf-8")) == model.model_json_schema(), path
