"""Version-2 mappings of subscriptions and support tickets: the same rows and checks as version 1."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from app.errors import DataFileError
from app.storage.admin import database_info, init_database
from app.storage.importer import import_exports
from app.storage.schema import customer_signals, customers, orders, subscriptions, support_tickets
from tests import test_import_v2
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

url = test_import_v2.url  # fixture: a fresh SQLite file or PostgreSQL schema, initialised

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "production"

MAPPING_V2 = """\
version: 2
merchant: {merchant_id: smokehouse, name: Marcus Thompson, business_name: Smokehouse Supply Co.,
           business_type: BBQ rubs and sauces subscription box}
defaults:
  date_formats: ["%m/%d/%Y"]
  datetime_formats: ["%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M"]
customers:
  columns:
    customer_id: "[Customer ID]"
    name: "concat([First Name], ' ', [Last Name])"
    email: lower(Email)
    country: {expr: "upper([Country Code])", default: US}
    created_on: "[Created At]"
subscriptions:
  columns:
    subscription_id: subscription_id
    customer_id: customer_id
    plan: {expr: product_title, map: {Pitmaster Box: pitmaster_box, Sauce Club: sauce_club,
                                      Pitmaster Box - Quarterly: pitmaster_box_quarterly}}
    monthly_price_cents: price / charge_interval_frequency
    started_on: created_at
    cancelled_on: cancelled_at
    cancel_reason:
      expr: cancellation_reason
      default: other
      map: {too expensive: too_expensive, shipping problems: shipping_issues,
            switching to competitor: switching_to_competitor, not using it: not_using, other: other}
orders:
  columns:
    order_id: Name
    customer_id: "[Customer ID]"
    subscription_id: "[Subscription ID]"
    ordered_on: "[Created at]"
    amount_cents: Total
    status: {expr: "[Financial Status]", map: {paid: paid, voided: failed, declined: failed, partially_refunded: refunded}}
support_tickets:
  columns:
    ticket_id: "[Ticket ID]"
    customer_id: "[Requester External ID]"
    created_at: Created
    category:
      expr: Tags
      default: general
      map: {late delivery: shipping_delay, shipping: shipping_delay, missing item: fulfillment, cancel: cancellation,
            quality: product_quality}
    priority: lower(Priority)
    subject: Subject
    first_response_at: "[First Reply]"
    resolved_at: Solved
    csat_rating: Satisfaction
"""

TABLES = [(customers, customers.c.customer_id), (subscriptions, subscriptions.c.subscription_id),
          (orders, orders.c.order_id), (support_tickets, support_tickets.c.ticket_id),
          (customer_signals, customer_signals.c.signal_id)]  # fmt: skip


def _rows(url: str) -> dict[str, list[dict]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: [dict(r._mapping) for r in conn.execute(select(t).order_by(key))] for t, key in TABLES}
    finally:
        engine.dispose()


def _example(tmp_path: Path, mapping: str = MAPPING_V2) -> tuple[dict[str, Path], Path]:
    """The production example's files; the orders' totals without "$" and "," (version 2's number grammar)."""
    plain = tmp_path / "orders.csv"
    with (EXAMPLE / "orders.csv").open(encoding="utf-8", newline="") as src, plain.open("w", encoding="utf-8", newline="") as out:
        reader, writer = csv.DictReader(src), None
        for row in reader:
            writer = writer or csv.DictWriter(out, list(row))
            if out.tell() == 0:
                writer.writeheader()
            writer.writerow({**row, "Total": row["Total"].replace("$", "").replace(",", "")})
    path = tmp_path / "mapping_v2.yaml"
    path.write_text(textwrap.dedent(mapping), encoding="utf-8")
    files = {"customers": EXAMPLE / "customers.csv", "subscriptions": EXAMPLE / "subscriptions.csv",
             "orders": plain, "support_tickets": EXAMPLE / "tickets.csv"}  # fmt: skip
    return files, path


def test_a_version_2_mapping_imports_every_table_as_version_1_does(url: str, tmp_path: Path) -> None:
    files, mapping = _example(tmp_path)
    v1_url = f"sqlite:///{tmp_path / 'v1.db'}"
    init_database(v1_url)
    import_exports(v1_url, {**files, "orders": EXAMPLE / "orders.csv"}, EXAMPLE / "mapping.yaml")
    report = import_exports(url, files, mapping)
    got, expected = _rows(url), _rows(v1_url)
    assert report.rejected == 0
    for name, rows in expected.items():
        assert rows, name
        assert got[name] == rows, name


SMALL = """\
version: 2
merchant: {merchant_id: m, name: M, business_name: M}
derive: {customers: false}
customers: {columns: {customer_id: id, created_on: date(since)}}
subscriptions:
  columns: {subscription_id: sid, customer_id: cid, monthly_price_cents: price, started_on: date(start),
            cancelled_on: date(stop), cancel_reason: why}
orders:
  columns: {order_id: oid, customer_id: cid, subscription_id: sid, ordered_on: date(day), amount_cents: total}
support_tickets:
  columns: {ticket_id: tid, customer_id: cid, created_at: timestamp(opened), category: kind,
            first_response_at: timestamp(replied), resolved_at: timestamp(solved), csat_rating: rating}
"""


def _write(tmp_path: Path, name: str, header: str, lines: list[str]) -> Path:
    path = tmp_path / f"{name}.csv"
    path.write_text(header + "\n" + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _small(tmp_path: Path) -> tuple[dict[str, Path], Path]:
    mapping = tmp_path / "small.yaml"
    mapping.write_text(SMALL, encoding="utf-8")
    files = {
        "customers": _write(tmp_path, "customers", "id,since", ["c1,2025-01-01", "c2,2025-01-01"]),
        "subscriptions": _write(tmp_path, "subscriptions", "sid,cid,price,start,stop,why", [
            "s1,c1,29.00,2025-01-02,,too_expensive",   # not cancelled: the reason is dropped
            "s2,c1,-1,2025-01-02,,",                   # negative price
            "s3,c2,10,2025-02-01,2025-01-01,other",    # cancelled before started
            "s4,c9,10,2025-02-01,,",                   # unknown customer
        ]),
        "orders": _write(tmp_path, "orders", "oid,cid,sid,day,total", [
            "o1,c1,s1,2025-01-02,29.00",
            "o2,c1,s2,2025-01-03,29.00",               # its subscription was rejected
            "o3,c2,,2025-01-04,5",
        ]),
        "support_tickets": _write(tmp_path, "tickets", "tid,cid,opened,kind,replied,solved,rating", [
            "t1,c1,2025-01-05 10:00:00,billing,2025-01-05 11:00:00,2025-01-05 12:00:00,1",
            "t2,c1,2025-01-05 10:00:00,billing,2025-01-05 09:00:00,,",   # reply before creation
            "t3,c2,2025-01-05 10:00:00,billing,,,4",                    # rated but not resolved
            "t4,c2,2025-01-05 10:00:00,billing,,2025-01-06 10:00:00,6",  # rating out of range
            "t5,c2,2025-01-05 10:00:00,weather,,,",                     # unknown category
            "t6,c2,2025-01-05 10:00:00,,2025-01-05 11:00:00,,",          # default category, pending
        ]),
    }
    return files, mapping


def test_subscription_and_ticket_rows_get_the_version_1_checks(url: str, tmp_path: Path) -> None:
    files, mapping = _small(tmp_path)
    report = import_exports(url, files, mapping, max_errors=9)
    reasons = report.reject_summary
    for expected in (
        "subscriptions.csv:3: monthly_price_cents: negative",
        "subscriptions.csv:4: cancelled_on: before started_on",
        "subscriptions.csv:5: unknown customer",
        "orders.csv:3: unknown subscription",
        "tickets.csv:3: first_response_at: before created_at",
        "tickets.csv:4: csat_rating: given for a ticket that is not resolved",
        "tickets.csv:5: csat_rating: not between 1 and 5",
        "tickets.csv:6: category: not one of",
    ):
        assert expected in reasons, (expected, reasons)
    assert report.rejected == 8
    assert database_info(url)["loads"][0]["rejected"] == 8  # the load log records them too
    got = _rows(url)
    (sub,) = got["subscriptions"]
    assert sub["subscription_id"] == "s1" and sub["monthly_price_cents"] == 2900 and sub["cancel_reason"] is None
    tickets = {t["ticket_id"]: t for t in got["support_tickets"]}
    assert set(tickets) == {"t1", "t6"}
    assert (tickets["t1"]["status"], tickets["t1"]["sentiment"]) == ("resolved", "negative")
    assert (tickets["t6"]["status"], tickets["t6"]["category"], tickets["t6"]["priority"]) == ("pending", "general", "normal")
    assert [(s["signal_type"], s["customer_id"]) for s in got["customer_signals"]] == [("negative_ticket", "c1")]


def test_a_ticket_status_cannot_be_mapped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    init_database(url)
    files, mapping = _small(tmp_path)
    mapping.write_text(SMALL.replace("csat_rating: rating}", "csat_rating: rating, status: kind}"), encoding="utf-8")
    with pytest.raises(DataFileError, match="support_tickets.columns.status'.*derived from first_response_at"):
        import_exports(url, files, mapping)


def test_a_section_no_import_fills_is_named_with_the_fix(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    url = f"sqlite:///{tmp_path / 'x.db'}"
    init_database(url)
    files, mapping = _small(tmp_path)
    mapping.write_text(SMALL + "marketing_daily: {columns: {day: day}}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["db", "import", "--url", url, "--mapping", str(mapping), "--orders", str(files["orders"])])
    assert result.exit_code == 2, result.output
    assert "section 'marketing_daily'" in result.output and "remove the section" in result.output
    assert "Traceback" not in result.output


V1_TICKETS = """\
version: 1
merchant: {merchant_id: m, name: M, business_name: M}
orders: {columns: {order_id: id, customer_id: customer, ordered_on: day, amount_cents: total}}
support_tickets: {columns: {ticket_id: id, customer_id: customer, created_at: created, subject: subject}}
"""


def test_version_1_rows_keep_their_text_exactly_through_the_stage(tmp_path: Path) -> None:
    from app.storage.importer import read_exports

    mapping = tmp_path / "v1.yaml"
    mapping.write_text(V1_TICKETS, encoding="utf-8")
    files = {
        "orders": _write(tmp_path, "orders", "id,customer,day,total", ["o1,c1,2025-01-02,$1.00", "o2,c1,2025-01-02,99999999999"]),
        "support_tickets": _write(tmp_path, "tickets", "id,customer,created,subject", [
            't1,c1,2025-01-05 10:00:00,"=SUM(A1) ""quoted"", two\nlines"', "t2,c1,2025-01-05 10:00:00,", "t3,c1,2025-01-05 10:00:00,="]),
    }
    result = read_exports(files, mapping)
    subjects = {t["ticket_id"]: t["subject"] for t in result.rows["support_tickets"]}
    assert subjects == {"t1": '=SUM(A1) "quoted", two\nlines', "t2": "", "t3": "="}
    # A value the column cannot hold is a rejected row, not a database error when written.
    assert [str(p) for p in result.problems] == [
        "orders.csv:3: amount_cents: '99999999999' is too large for the column (at most 2,147,483,647 cents)"
    ]
