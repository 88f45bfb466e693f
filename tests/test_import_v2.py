"""Mapping version 2 (expressions, filters, group_by, value maps, currency, refunds) on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import textwrap
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from app.errors import DataFileError, InvalidArgumentError
from app.storage.admin import database_info, init_database
from app.storage.importer import import_exports
from app.storage.schema import customers, merchants, orders, refunds
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"

MAPPING = """\
version: 2
merchant: {merchant_id: giftco, name: Alex Morgan, business_name: Giftco, currency: GBP}
orders:
  filter: "not starts_with(InvoiceNo, 'C') and not is_empty(CustomerID)"
  group_by: [InvoiceNo]
  columns:
    order_id: InvoiceNo
    customer_id: {first: CustomerID}
    ordered_on: {min: "date(InvoiceDate, '%m/%d/%Y %H:%M')"}
    amount_cents: {sum: "Quantity * UnitPrice"}
    status: {constant: paid}
refunds:
  source: orders
  filter: "starts_with(InvoiceNo, 'C') and not is_empty(CustomerID)"
  group_by: [InvoiceNo]
  columns:
    refund_id: InvoiceNo
    customer_id: {first: CustomerID}
    refunded_on: {min: "date(InvoiceDate, '%m/%d/%Y %H:%M')"}
    amount_cents: {sum: "-(Quantity * UnitPrice)"}
    reason: {constant: cancelled invoice}
customers:
  source: orders
  filter: "not is_empty(CustomerID)"
  group_by: [CustomerID]
  columns:
    customer_id: CustomerID
    country: {first: Country, map: {United Kingdom: GB, Norway: NO, Unspecified: ""}}
"""

LINES = [
    "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",
    "536365,71053,WHITE METAL LANTERN,3,12/1/2010 8:26,0.165,17850,United Kingdom",
    "536366,22633,HAND WARMER,2,12/2/2010 9:01,1.85,12345,Norway",
    "536367,22633,HAND WARMER,1,12/2/2010 9:05,1.85,,United Kingdom",
    "C536368,22633,HAND WARMER,-2,12/3/2010 10:00,1.85,12345,Norway",
    "536369,POST,POSTAGE,1,12/4/2010 11:00,0.125,12346,Unspecified",
]


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = f"sqlite:///{tmp_path / 'v2.db'}"
    else:
        target = request.getfixturevalue("pg_schemas").new("importv2")
    init_database(target)
    return target


def _files(tmp_path: Path, lines: list[str], mapping: str = MAPPING) -> tuple[Path, Path]:
    data = tmp_path / "invoices.csv"
    data.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    path = tmp_path / "mapping.yaml"
    path.write_text(textwrap.dedent(mapping), encoding="utf-8")
    return data, path


def _rows(url: str, table, order_by) -> list[dict]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(table).order_by(order_by))]
    finally:
        engine.dispose()


def _cents(*terms: tuple[str, str]) -> int:
    total = sum(Decimal(q) * Decimal(p) for q, p in terms)
    return int((total * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_group_by_sums_lines_into_orders_with_exact_money(url: str, tmp_path: Path) -> None:
    data, mapping = _files(tmp_path, LINES)
    report = import_exports(url, {"orders": data}, mapping)
    got = {o["order_id"]: o for o in _rows(url, orders, orders.c.order_id)}
    assert set(got) == {"536365", "536366", "536369"}  # guest 536367 and cancellation C536368 filtered out
    # 15.30 + 0.495 = 15.795 -> rounded once, at the end, half away from zero
    assert got["536365"]["amount_cents"] == _cents(("6", "2.55"), ("3", "0.165")) == 1580
    assert got["536369"]["amount_cents"] == 13  # 0.125 -> 13 pence
    assert got["536365"]["ordered_on"] == dt.date(2010, 12, 1) and got["536365"]["status"] == "paid"
    assert report.filtered["orders"] == 2 and report.rejected == 0


def test_refunds_are_records_of_their_own_with_the_positive_amount(url: str, tmp_path: Path) -> None:
    data, mapping = _files(tmp_path, LINES)
    import_exports(url, {"orders": data}, mapping)
    (refund,) = _rows(url, refunds, refunds.c.refund_id)
    assert refund == {"refund_id": "C536368", "order_id": None, "customer_id": "12345",
                      "refunded_on": dt.date(2010, 12, 3), "amount_cents": 370, "reason": "cancelled invoice"}  # fmt: skip
    assert "C536368" not in {o["order_id"] for o in _rows(url, orders, orders.c.order_id)}


def test_refunds_link_to_the_order_when_the_source_says_which(url: str, tmp_path: Path) -> None:
    data, _ = _files(tmp_path, LINES)
    refunds_csv = tmp_path / "refunds.csv"
    refunds_csv.write_text("id,invoice,customer,day,amount\nR1,536365,17850,2010-12-05,5.00\nR2,999999,17850,2010-12-06,1.00\n")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        MAPPING.split("refunds:")[0]
        + "refunds:\n  columns:\n    refund_id: id\n    order_id: invoice\n    customer_id: customer\n"
        "    refunded_on: date(day)\n    amount_cents: amount\n"
        + "customers:" + MAPPING.split("customers:")[1]
    )
    report = import_exports(url, {"orders": data, "refunds": refunds_csv}, mapping, max_errors=1)
    (refund,) = _rows(url, refunds, refunds.c.refund_id)
    assert refund["order_id"] == "536365" and refund["amount_cents"] == 500
    assert report.rejected == 1 and "unknown order" in report.reject_summary and "refunds.csv:3" in report.reject_summary


def test_value_maps_currency_and_norway_stay_what_they_say(url: str, tmp_path: Path) -> None:
    data, mapping = _files(tmp_path, LINES)
    import_exports(url, {"orders": data}, mapping)
    countries = {c["customer_id"]: c["country"] for c in _rows(url, customers, customers.c.customer_id)}
    assert countries == {"17850": "GB", "12345": "NO", "12346": ""}
    assert _rows(url, merchants, merchants.c.merchant_id)[0]["currency"] == "GBP"


def test_unmapped_country_is_rejected_with_the_domain(url: str, tmp_path: Path) -> None:
    data, mapping = _files(tmp_path, [*LINES, "536370,POST,POSTAGE,1,12/4/2010 11:00,1,12399,Narnia"])
    with pytest.raises(DataFileError) as err:
        import_exports(url, {"orders": data}, mapping)
    assert "country: not an ISO 3166 country code" in str(err.value) and "invoices.csv:8" in str(err.value)
    assert database_info(url)["row_counts"]["orders"] == 0  # nothing written


def test_map_values_are_checked_when_the_mapping_loads(tmp_path: Path) -> None:
    _, mapping = _files(tmp_path, LINES, MAPPING.replace("Norway: NO", "Norway: Norway"))
    with pytest.raises(DataFileError, match="'Norway' -> 'Norway': not an ISO 3166 country code"):
        _load(mapping)


def _load(path: Path):
    from app.storage.mapping import load_mapping

    return load_mapping(path)


def test_currency_must_be_iso_4217(tmp_path: Path) -> None:
    _, mapping = _files(tmp_path, LINES, MAPPING.replace("currency: GBP", "currency: POUNDS"))
    with pytest.raises(DataFileError, match="'POUNDS' is not an ISO 4217 currency code"):
        _load(mapping)


@pytest.mark.parametrize("price", ["1e3", "5,00", "12 34", "$5", "1.2345678", ".5", "1234567890123"])
def test_money_outside_the_grammar_rejects_the_line_and_its_invoice(url: str, tmp_path: Path, price: str) -> None:
    bad = f'536365,X,BAD PRICE,1,12/1/2010 8:26,"{price}",17850,United Kingdom'
    data, mapping = _files(tmp_path, [*LINES, bad])
    report = import_exports(url, {"orders": data}, mapping, max_errors=10)
    assert "UnitPrice: not a number" in report.reject_summary and f"(value {price!r})" in report.reject_summary
    assert "another line of the same group was rejected" in report.reject_summary  # no silent partial invoice
    assert "536365" not in {o["order_id"] for o in _rows(url, orders, orders.c.order_id)}


def test_an_amount_too_large_for_the_column_is_a_rejected_row(url: str, tmp_path: Path) -> None:
    huge = "536399,X,HUGE,999999999999,12/1/2010 8:26,999999999999.99,17850,United Kingdom"
    data, mapping = _files(tmp_path, [*LINES, huge])
    report = import_exports(url, {"orders": data}, mapping, max_errors=1)
    assert report.rejected == 1 and "amount_cents: too large for the column (at most 21,474,836)" in report.reject_summary


def test_expressions_if_compare_and_filters(url: str, tmp_path: Path) -> None:
    mapping = """\
    version: 2
    merchant: {merchant_id: m, name: M, business_name: M}
    orders:
      filter: "number(Quantity) >= 2 or Country = 'Norway'"
      columns:
        order_id: "concat(InvoiceNo, '-', StockCode)"
        customer_id: "coalesce([CustomerID], 'guest')"
        ordered_on: "date(InvoiceDate, '%m/%d/%Y %H:%M')"
        amount_cents: "if(Quantity > 3, Quantity * UnitPrice / 2, Quantity * UnitPrice)"
        status: "if(starts_with(InvoiceNo, 'C'), 'refunded', 'paid')"
    """
    data, path = _files(tmp_path, LINES, mapping)
    import_exports(url, {"orders": data}, path)
    got = {o["order_id"]: (o["customer_id"], o["amount_cents"], o["status"]) for o in _rows(url, orders, orders.c.order_id)}
    assert got == {
        "536365-85123A": ("17850", 765, "paid"),  # 6 x 2.55 halved
        "536365-71053": ("17850", 50, "paid"),  # 0.495 -> 50
        "536366-22633": ("12345", 370, "paid"),
        "C536368-22633": ("12345", -370, "refunded"),  # kept by the Norway clause
    }


def test_a_file_wide_mistake_is_summarised_by_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wide.db'}"
    init_database(url)
    lines = [f"{536365 + i},X,ITEM,1,2010-12-01 08:26,1.00,{17850 + i % 50},United Kingdom" for i in range(3000)]
    data, mapping = _files(tmp_path, lines)
    with pytest.raises(DataFileError) as err:
        import_exports(url, {"orders": data}, mapping, rejects_path=tmp_path / "rejects.csv")
    message = str(err.value)
    assert "3,000 x orders: InvoiceDate: does not match the format(s) %m/%d/%Y %H:%M" in message
    assert len(message.splitlines()) < 30
    with (tmp_path / "rejects.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 3000 and rows[0]["file"] == "invoices.csv" and rows[0]["line"] == "2"
    assert rows[0]["value"] == "2010-12-01 08:26" and rows[0]["record"].startswith("536365,X,ITEM,1,")


def test_nonempty_target_is_refused_before_any_file_is_opened(url: str, tmp_path: Path) -> None:
    data, mapping = _files(tmp_path, LINES)
    import_exports(url, {"orders": data}, mapping)
    missing = tmp_path / "never-created.csv"
    with pytest.raises(Exception, match="already holds data"):
        import_exports(url, {"orders": missing}, tmp_path / "no-such-mapping.yaml")


def test_every_file_must_be_read_and_every_section_needs_its_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    init_database(url)
    data, mapping = _files(tmp_path, LINES)
    with pytest.raises(DataFileError, match="no section reads --tickets"):
        import_exports(url, {"orders": data, "support_tickets": data}, mapping)
    _, mapping2 = _files(tmp_path, LINES, MAPPING.replace("source: orders\n  filter: \"starts", "source: refunds\n  filter: \"starts"))
    with pytest.raises(InvalidArgumentError, match="pass --refunds FILE.csv"):
        import_exports(url, {"orders": data}, mapping2)


@pytest.mark.parametrize(
    ("column", "expression", "message"),
    [
        ("amount_cents", "{sum: \"__import__('os').system('x')\"}", "unexpected character '.' at position 17"),
        ("amount_cents", "{sum: \"eval(Quantity)\"}", "unknown function eval()"),
        ("amount_cents", "{sum: \"Quantity ** 2\"}", "expected a value"),
        ("amount_cents", "{sum: \"Quantity; DROP TABLE orders\"}", "unexpected character ';'"),
        ("amount_cents", "{sum: \"Qty * UnitPrice\"}", "no column 'Qty' in the file"),
        ("amount_cents", "{sum: \"starts_with(InvoiceNo, 'C')\"}", "expected a number, got a boolean"),
        ("customer_id", "CustomerID", "not one of the group_by expressions"),
        ("ordered_on", "{min: \"date(InvoiceDate, Country)\"}", "needs a quoted text"),
    ],
)
def test_expressions_outside_the_grammar_are_clear_errors(tmp_path: Path, column: str, expression: str, message: str) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    init_database(url)
    original = {"amount_cents": '{sum: "Quantity * UnitPrice"}', "customer_id": "{first: CustomerID}",
                "ordered_on": "{min: \"date(InvoiceDate, '%m/%d/%Y %H:%M')\"}"}[column]  # fmt: skip
    data, mapping = _files(tmp_path, LINES, MAPPING.replace(f"{column}: {original}", f"{column}: {expression}", 1))
    with pytest.raises(DataFileError) as err:
        import_exports(url, {"orders": data}, mapping)
    assert message in str(err.value) and "mapping.yaml" in str(err.value) and "'orders" in str(err.value)


def test_a_quote_in_a_text_literal_stays_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    init_database(url)
    mapping = MAPPING.replace("status: {constant: paid}", "status: \"if(Description = 'POPPY''S', 'failed', 'paid')\"")
    mapping = mapping.replace("status: \"if", "status: {first: \"if").replace("'paid')\"", "'paid')\"}")
    data, path = _files(tmp_path, [*LINES, "536371,X,POPPY'S,1,12/5/2010 8:00,1.00,17850,United Kingdom"], mapping)
    import_exports(url, {"orders": data}, path)
    statuses = {o["order_id"]: o["status"] for o in _rows(url, orders, orders.c.order_id)}
    assert statuses["536371"] == "failed" and statuses["536365"] == "paid"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (MAPPING.replace("Quantity * UnitPrice\"}", "Quantity * (UnitPrice\"}", 1), "expected ')'"),
        (MAPPING.replace("version: 2", "version: 3"), "use 1 or 2"),
        (MAPPING.replace("  group_by: [InvoiceNo]\n", "  group_by: [InvoiceNo\n", 1), "malformed YAML"),
        (MAPPING.replace("order_id: InvoiceNo", "order_no: InvoiceNo", 1), "no column 'order_no' in table orders"),
        (MAPPING.replace("currency: GBP", "currency: XYZ"), "not an ISO 4217 currency code"),
        (MAPPING + "support_tickets: {columns: {}}\n", "pass --tickets FILE.csv"),
        (MAPPING + "customer_signals: {columns: {}}\n", "not filled by imports"),
        (MAPPING + "support_ticket: {columns: {}}\n", "unknown field"),
    ],
)
def test_cli_mapping_mistakes_are_one_message_and_exit_code_2(tmp_path: Path, mapping: str, message: str) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    url = f"sqlite:///{tmp_path / 'x.db'}"
    init_database(url)
    data, path = _files(tmp_path, LINES, mapping)
    result = CliRunner().invoke(app, ["db", "import", "--url", url, "--mapping", str(path), "--orders", str(data)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert database_info(url)["row_counts"]["orders"] == 0


def test_a_column_named_like_the_line_number_is_refused_with_the_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    init_database(url)
    data, mapping = _files(tmp_path, [line + ",1" for line in LINES])
    data.write_text(HEADER.rstrip("\n") + ",_line\n" + data.read_text().split("\n", 1)[1], encoding="utf-8")
    with pytest.raises(DataFileError, match="a column is named _line.*rename it"):
        import_exports(url, {"orders": data}, mapping)
