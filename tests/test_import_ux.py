"""Import defects found by trying the import as a new user would, each kept as a regression test."""

from __future__ import annotations

import csv
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from app.cli import app
from app.errors import DataFileError
from app.storage.admin import init_database
from app.storage.importer import import_exports
from app.storage.migrations import LATEST_VERSION
from app.storage.money import MoneyError, parse_export_money, parse_plain_number
from app.storage.schema import customers
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

runner = CliRunner()

V1 = """\
version: 1
merchant: {merchant_id: solo, name: Sam Solo, business_name: Solo Sauce}
orders:
  columns:
    order_id: id
    customer_id: customer
    ordered_on: day
    amount_cents: total
customers:
  columns:
    customer_id: id
    country: {source: country, map: {Norway: NO, United Kingdom: GB}}
"""


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path: Path) -> str:
    target = f"sqlite:///{tmp_path / 'ux.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_schemas").new("ux")
    init_database(target)
    return target


def _v1_files(tmp_path: Path, totals: list[str]) -> dict[str, Path]:
    orders = tmp_path / "orders.csv"
    with orders.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "customer", "day", "total"])
        for i, total in enumerate(totals):
            out.writerow([f"o{i}", "c1" if i % 2 else "c2", "2025-03-01", total])
    people = tmp_path / "customers.csv"
    people.write_text("id,country\nc1,Norway\nc2,United Kingdom\n", encoding="utf-8")
    return {"orders": orders, "customers": people}


def _mapping(tmp_path: Path, body: str = V1) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.mark.parametrize("bad", ["1e3", "5,00", "12 34", "1,23,4.00", "$$5", "(5.00"])
def test_v1_money_outside_the_grammar_is_rejected_not_misread(tmp_path: Path, bad: str) -> None:
    with pytest.raises(MoneyError, match="is not an amount"):
        parse_export_money(bad)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    init_database(url)
    report = import_exports(url, _v1_files(tmp_path, ["12.00", "13.00", bad]), _mapping(tmp_path), max_errors=1)
    assert report.rejected == 1 and f"{bad!r} is not an amount" in report.problems[0]
    assert report.problems[0].startswith("orders.csv:4: amount_cents:")


def test_money_grammars_accept_what_they_document() -> None:
    assert parse_export_money("$1,234.50") == Decimal("1234.50")
    assert parse_export_money("1.234,50 EUR", ",") == Decimal("-1234.50") * -1
    assert parse_export_money("(12.00)") == parse_export_money("12.00-") == Decimal("-12.00")
    assert parse_plain_number("0.165") == Decimal("0.165")
    for bad in ("1e3", "5,00", "12 34", "1.2345678", "+", ""):
        with pytest.raises(MoneyError):
            parse_plain_number(bad)


def test_unquoted_no_in_a_mapping_stays_norway(url: str, tmp_path: Path) -> None:
    import_exports(url, _v1_files(tmp_path, ["1.00", "2.00"]), _mapping(tmp_path))
    engine = create_engine(url)
    with engine.connect() as conn:
        countries = dict(conn.execute(select(customers.c.customer_id, customers.c.country)).all())
    engine.dispose()
    assert countries == {"c1": "NO", "c2": "GB"}


def test_a_line_reference_is_printed_literally(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lit.db'}"
    init_database(url)
    totals = ["1.00"] * 120
    totals[98] = "1e3"  # line 100 of the file
    files = _v1_files(tmp_path, totals)
    args = ["db", "import", "--url", url, "--mapping", str(_mapping(tmp_path)), "--orders", str(files["orders"]),
            "--customers", str(files["customers"])]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "orders.csv:100: amount_cents: '1e3' is not an amount" in result.output
    assert "💯" not in result.output and "Traceback" not in result.output


def test_the_cli_summarises_reasons_writes_rejects_and_db_info_shows_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    init_database(url)
    files = _v1_files(tmp_path, ["1.00", "2.00", "1e3", "5,00", "3.00"])
    rejects = tmp_path / "rejects.csv"
    args = ["db", "import", "--url", url, "--mapping", str(_mapping(tmp_path)), "--orders", str(files["orders"]),
            "--customers", str(files["customers"]), "--max-errors", "2", "--rejects", str(rejects)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 row(s) rejected and not imported, by reason:" in result.output
    assert "2 x orders: amount_cents: … is not an amount" in result.output
    assert "for the whole command" in result.output
    with rejects.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["file"], r["line"], r["table"]) for r in rows] == [("orders.csv", "4", "orders"), ("orders.csv", "5", "orders")]
    assert rows[0]["record"] == "o2,c2,2025-03-01,1e3"
    info = runner.invoke(app, ["db", "info", "--url", url])
    assert info.exit_code == 0, info.output
    assert "last import: 6 rows accepted, 2 rejected" in info.output  # merchant, 2 customers, 3 orders


def test_a_file_wide_mistake_prints_a_summary_not_a_flood(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'flood.db'}"
    init_database(url)
    files = _v1_files(tmp_path, ["1e3"] * 5000)
    args = ["db", "import", "--url", url, "--mapping", str(_mapping(tmp_path)), "--orders", str(files["orders"]),
            "--customers", str(files["customers"])]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "5,000 x orders: amount_cents: … is not an amount" in result.output
    assert "... and 4,997 more" in result.output and len(result.output.splitlines()) < 20


def test_a_nonempty_target_is_refused_before_reading(url: str, tmp_path: Path) -> None:
    import_exports(url, _v1_files(tmp_path, ["1.00", "2.00"]), _mapping(tmp_path))
    with pytest.raises(Exception, match="already holds data") as err:
        import_exports(url, {"orders": tmp_path / "absent.csv"}, tmp_path / "absent.yaml")
    assert not isinstance(err.value, DataFileError)  # the files were never opened


def test_migration_6_adds_the_import_counts_to_an_older_load_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    init_database(url)
    engine = create_engine(url)
    with engine.begin() as conn:  # make it look like a version-5 database
        conn.execute(text("ALTER TABLE data_loads DROP COLUMN accepted"))
        conn.execute(text("ALTER TABLE data_loads DROP COLUMN rejected"))
        conn.execute(text("DELETE FROM schema_version WHERE version >= 6"))
    applied, version = init_database(url)
    assert [m.version for m in applied] == list(range(6, LATEST_VERSION + 1)) and version == LATEST_VERSION
    with engine.connect() as conn:
        columns = {row[1] for row in conn.execute(text("PRAGMA table_info(data_loads)"))}
    engine.dispose()
    assert {"accepted", "rejected"} <= columns


def test_a_rejects_file_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    init_database(url)
    files = _v1_files(tmp_path, ["1.00", "2.00"])
    args = ["db", "import", "--url", url, "--mapping", str(_mapping(tmp_path)), "--orders", str(files["orders"]),
            "--customers", str(files["customers"]), "--rejects", str(tmp_path / "no" / "such" / "dir.csv")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "--rejects" in result.output and "cannot write" in result.output
    assert "Traceback" not in result.output
