"""Data-quality checks: known answers on hand-built tables, the settings file, results stored per
load, a deliberately poor import through ``cjsim db import`` and ``cjsim db quality``."""

from __future__ import annotations

import csv
import datetime as dt
import json
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, create_engine
from typer.testing import CliRunner

from app.cli import app
from app.errors import DataFileError
from app.models import TicketCategory, TicketPriority
from app.providers.loading import load_world
from app.providers.quality import database_quality
from app.quality import QualitySettings, load_quality_settings, run_checks
from app.quality.store import stored_loads, stored_report
from app.storage.admin import init_database, refresh_database, writable_connection
from app.storage.csv_reader import ALLOWED_VALUES
from app.storage.schema import metadata
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

runner = CliRunner()
D = dt.date(2025, 3, 20)


def _engine(rows: dict[str, list[dict]]):
    """An in-memory database of the project's schema, without foreign-key enforcement (so orphans fit)."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        for name, table_rows in rows.items():
            conn.execute(metadata.tables[name].insert(), table_rows)
    return engine


def _customer(cid: str, email: str = "a@b.co", country: str = "GB", name: str = "N", day: dt.date = D) -> dict:
    return {"customer_id": cid, "merchant_id": "m", "name": name, "email": email, "segment_hint": "x",
            "created_on": day, "country": country}  # fmt: skip


def _order(oid: str, cid: str, amount: int = 100, status: str = "paid", day: dt.date = D) -> dict:
    return {"order_id": oid, "customer_id": cid, "subscription_id": None, "ordered_on": day,
            "amount_cents": amount, "status": status}  # fmt: skip


def _by_check(report) -> dict[tuple[str, str], object]:
    return {(c.table, c.check): c for c in report.checks}


@pytest.fixture
def small():
    customers = [
        _customer("C1"), _customer("C2", email=""), _customer("C3", email="not-an-email"),
        _customer("C4", country="gb"), _customer("C5", day=D + dt.timedelta(days=3)),  # created after the date
    ]  # fmt: skip
    orders = [
        _order("O1", "C1"), _order("O2", "C1", amount=-50), _order("O3", "C2", status="lost"),
        _order("O4", "C9"), _order("O5", "C3", day=dt.date(2025, 3, 1)),
        _order("O6", "C1", amount=-1, day=D + dt.timedelta(days=1)),  # after the date: not checked yet
    ]  # fmt: skip
    ticket = {"customer_id": "C1", "category": "billing", "priority": "normal", "status": "resolved", "subject": "s",
              "sentiment": "neutral", "first_response_at": None}  # fmt: skip
    tickets = [
        {**ticket, "ticket_id": "T1", "created_at": dt.datetime(2025, 3, 10, 9), "resolved_at": dt.datetime(2025, 3, 9),
         "csat_rating": 7},
        {**ticket, "ticket_id": "T2", "created_at": dt.datetime(2025, 3, 20, 23, 59), "resolved_at": None,
         "csat_rating": 4, "category": "weather"},
    ]  # fmt: skip
    return _engine({"merchants": [{"merchant_id": "m", "name": "n", "business_name": "b", "business_type": "t"}],
                    "customers": customers, "orders": orders, "support_tickets": tickets})  # fmt: skip


def test_known_answers_per_check(small) -> None:
    with small.connect() as conn:
        report = run_checks(conn, metadata.tables, D)
    c = _by_check(report)
    email = c["customers", "email filled"]
    assert (email.total, email.failed, email.ratio, email.examples, email.level) == (4, 1, 0.75, ["C2"], "poor")
    assert (c["customers", "email is a valid email"].failed, c["customers", "email is a valid email"].examples) == (
        1,
        ["C3"],
    )
    assert c["customers", "country is a valid country code"].examples == ["C4"]
    negative = c["orders", "amount_cents >= 0"]
    assert (negative.total, negative.failed, negative.ratio, negative.examples) == (5, 1, 0.8, ["O2"])
    assert c["orders", "status in its vocabulary"].examples == ["O3"]
    orphan = c["orders", "customer_id points at an existing customers row"]
    assert (orphan.failed, orphan.examples, orphan.dimension) == (1, ["O4"], "consistency")
    assert c["support_tickets", "csat_rating in [1, 5]"].examples == ["T1"]
    assert c["support_tickets", "resolved_at not before created_at"].examples == ["T1"]
    assert c["support_tickets", "category in its vocabulary"].examples == ["T2"]  # 23:59 on the date is in
    fresh = c["orders", "newest row within 14 days"]
    assert (fresh.newest, fresh.age_days, fresh.level) == (D, 0, "ok")
    assert report.tables["subscriptions"] == "empty" and report.tables["refunds"] == "empty"
    assert report.verdict == "poor"
    assert report.reasons[0].startswith("customers: email filled fails for 1 of 4 rows (75.0% pass")
    assert "orders" in report.affected_tables and "subscriptions" not in report.affected_tables


def test_timeliness_warns_then_turns_poor(small) -> None:
    with small.connect() as conn:
        later = run_checks(conn, metadata.tables, D + dt.timedelta(days=20))
        much_later = run_checks(conn, metadata.tables, D + dt.timedelta(days=80))
    warn = _by_check(later)["orders", "newest row within 14 days"]
    assert (warn.newest, warn.age_days, warn.level) == (D + dt.timedelta(days=1), 19, "warn")
    assert _by_check(much_later)["orders", "newest row within 14 days"].level == "poor"  # over 4 x 14 days


def test_duplicate_keys_and_absent_tables() -> None:
    md = MetaData()
    orders = Table(
        "orders", md, Column("order_id", String), Column("ordered_on", Date), Column("amount_cents", Integer)
    )
    engine = create_engine("sqlite://")
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            orders.insert(),
            [{"order_id": k, "ordered_on": D, "amount_cents": 1} for k in ("A", "B", "B", "C", "C", "C")],
        )
    settings = QualitySettings.model_validate(
        {"warn_below": dict.fromkeys(("completeness", "validity", "consistency", "uniqueness"), 0.95),
         "poor_below": dict.fromkeys(("completeness", "validity", "consistency", "uniqueness"), 0.5),
         "stale_poor_factor": 2, "tables": {"orders": {"key": "order_id", "date": "ordered_on"},
                                            "support_tickets": {"key": "ticket_id", "date": "created_at"}}}
    )  # fmt: skip
    with engine.connect() as conn:
        report = run_checks(conn, md.tables, D, settings)
    unique = _by_check(report)["orders", "order_id unique"]
    assert (unique.total, unique.failed, unique.ratio, unique.examples, unique.level) == (6, 3, 0.5, ["B", "C"], "warn")
    assert report.tables == {"orders": "checked", "support_tickets": "absent"}
    assert report.verdict == "caveat"


def test_generated_worlds_are_clean() -> None:
    from app.providers.data_agent import DataAgent

    for scenario in ("steady_operations", "shipping_crisis"):
        agent = DataAgent.create(scenario, "zoe_martinez", seed=3)
        report = agent.data_quality()
        assert report.verdict == "ok" and not report.reasons and not report.affected_views, report.to_text()
        assert set(report.tables.values()) == {"checked"}


def test_settings_match_the_schema_and_the_import_vocabularies() -> None:
    settings = load_quality_settings()
    for name, rules in settings.tables.items():
        columns = set(metadata.tables[name].c.keys())
        named = {rules.key, rules.date, *rules.required, *rules.non_negative, *rules.allowed, *rules.ranges,
                 *rules.formats, *rules.references, *(c for pair in rules.date_order for c in pair)}  # fmt: skip
        assert named <= columns, f"{name}: {named - columns}"
        for target in rules.references.values():
            table, column = target.split(".")
            assert column in metadata.tables[table].c
    for (table, column), values in ALLOWED_VALUES.items():
        assert settings.tables[table].allowed[column] == list(values)
    assert settings.tables["support_tickets"].allowed["category"] == [c.value for c in TicketCategory]
    assert settings.tables["support_tickets"].allowed["priority"] == [p.value for p in TicketPriority]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("completeness: 0.80", "completeness: 0.99"),
            "poor_below.completeness must not exceed warn_below.completeness",
        ),
        (("examples: 3", "examples: 3\ncolour: red"), "field 'colour': unknown field"),
        (("formats: {email: email,", "formats: {email: mail,"), "tables.customers.formats.email"),
        (
            ("customer_id: customers.customer_id}\n  orders:", "customer_id: people.customer_id}\n  orders:"),
            "'people.customer_id' names a table without rules",
        ),
        (("ranges: {csat_rating: [1, 5]}", "ranges: {csat_rating: [5, 1]}"), "range of 'csat_rating' is empty"),
    ],
)
def test_a_bad_settings_file_names_the_field(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    text = (Path(__file__).parent.parent / "data" / "data_quality.yaml").read_text(encoding="utf-8")
    assert edit[0] in text
    path = tmp_path / "data_quality.yaml"
    path.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        load_quality_settings(path)
    assert str(path) in str(err.value) and message in str(err.value)


# --------------------------------------------------------------------------- stored per load


def test_every_load_and_refresh_stores_its_results(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'two.db'}"
    init_database(url)
    load_world(url, "growth_stall", "marcus_thompson", seed=0)
    load_world(url, "churn_spike", "sarah_chen", seed=1, replace=True)
    refresh_database(url)
    with writable_connection(url) as conn:
        loads = stored_loads(conn)
        first, second = stored_report(conn, loads[0][0]), stored_report(conn, loads[1][0])
    assert [(i, v) for i, _, v in loads] == [(1, "ok"), (2, "ok"), (3, "ok")]
    assert first is not None and second is not None
    assert first[1].as_of != second[1].as_of  # each load checked its own data
    assert first[1].checks[0].total != second[1].checks[0].total


# --------------------------------------------------------------------------- a poor import

MAPPING = """\
version: 1
merchant: {merchant_id: poor, name: Pat Poor, business_name: Poor Pickles}
orders:
  columns: {order_id: id, customer_id: customer, ordered_on: day, amount_cents: total}
customers:
  columns: {customer_id: id, email: email, country: country}
"""


def _poor_files(tmp_path: Path) -> list[str]:
    with (tmp_path / "customers.csv").open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "email", "country"])
        for i in range(1, 21):
            out.writerow([f"c{i:02d}", "" if i in (3, 7, 11) else f"p{i}@example.com", "GB"])  # missing emails
    with (tmp_path / "orders.csv").open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "customer", "day", "total"])
        for i in range(40):
            out.writerow(
                [f"o{i:03d}", f"c{i % 20 + 1:02d}", f"2025-03-{i % 28 + 1:02d}", "-5.00" if i % 8 == 4 else "12.50"]
            )
        out.writerow(["o005", "c01", "2025-03-10", "3.00"])  # a duplicate id: rejected
        out.writerow(["o100", "c99", "2025-03-11", "3.00"])  # an orphan order: its customer is made up, without email
    (tmp_path / "mapping.yaml").write_text(textwrap.dedent(MAPPING), encoding="utf-8")
    return ["--orders", str(tmp_path / "orders.csv"), "--customers", str(tmp_path / "customers.csv"),
            "--mapping", str(tmp_path / "mapping.yaml")]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def poor_url(request, tmp_path: Path) -> str:
    url = (
        f"sqlite:///{tmp_path / 'poor.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_schemas").new("dq")
    )
    init_database(url)
    result = runner.invoke(app, ["db", "import", "--url", url, *_poor_files(tmp_path), "--max-errors", "5"])
    assert result.exit_code == 0, result.output
    return url


def test_a_poor_import_warns(poor_url: str) -> None:
    result = runner.invoke(app, ["db", "quality", "--db-url", poor_url, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verdict"] == "caveat" and data["as_of"] == "2025-03-28"
    checks = {(c["table"], c["check"]): c for c in data["checks"]}
    email = checks["customers", "email filled"]
    assert (email["failed"], email["total"], email["examples"]) == (4, 21, ["c03", "c07", "c11"])  # c99 too, 4th
    negative = checks["orders", "amount_cents >= 0"]
    assert (negative["failed"], negative["total"], negative["level"]) == (5, 41, "warn")
    assert negative["examples"] == ["o004", "o012", "o020"]
    rejected = checks["import", "source rows accepted"]
    assert rejected["failed"] == 1 and rejected["dimension"] == "validity"
    assert checks["orders", "newest row within 14 days"]["level"] == "ok"
    assert data["tables"]["support_tickets"] == "empty"  # an orders-only import: not a failure
    assert [(d["load_id"], d["verdict"]) for d in data["loads"]] == [(1, "caveat")]
    assert database_quality(poor_url).report.model_dump(mode="json") == {
        k: data[k] for k in data if k not in ("url", "loads")
    }


def test_quality_table_output_and_exit_codes(poor_url: str) -> None:
    shown = runner.invoke(app, ["db", "quality", "--url", poor_url])
    assert shown.exit_code == 0
    assert "as of 2025-03-28: caveat" in shown.stdout and "completeness" in shown.stdout
    assert "warning: customers: email filled fails for 4 of 21 rows (81.0% pass" in shown.stderr
    stale = runner.invoke(app, ["db", "quality", "--url", poor_url, "--date", "2025-06-01"])
    assert stale.exit_code == 0
    assert "warning: orders: newest row is from 2025-03-28, 65 days before 2025-06-01" in stale.stderr
    gated = runner.invoke(app, ["db", "quality", "--url", poor_url, "--fail-on-warning"])
    assert gated.exit_code == 1


def test_a_clean_database_passes_the_gate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clean.db'}"
    init_database(url)
    load_world(url, "steady_operations", "marcus_thompson", seed=2)
    result = runner.invoke(app, ["db", "quality", "--url", url, "--fail-on-warning"])
    assert result.exit_code == 0 and ": ok" in result.stdout and "warning" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2025-13-01"], "--date must be a date like 2025-03-14, got '2025-13-01'"),
        (["--date", "2020-01-01"], "--date 2020-01-01 is before the data's first day"),
    ],
)
def test_bad_input_exits_2_with_one_message(tmp_path: Path, args: list[str], message: str) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    init_database(url)
    load_world(url, "growth_stall", "marcus_thompson", seed=0)
    result = runner.invoke(app, ["db", "quality", "--url", url, *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_missing_or_empty_database_exits_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["db", "quality", "--url", f"sqlite:///{tmp_path / 'nope.db'}"])
    assert missing.exit_code == 2 and "no SQLite database file at" in missing.output
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    init_database(url)
    empty = runner.invoke(app, ["db", "quality", "--url", url])
    assert empty.exit_code == 2 and "holds no data" in empty.output
