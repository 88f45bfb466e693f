"""The retention tools over a provider: the queue in the operations store (idempotent rebuild,
retention of old run dates, audit rows), the audience CSV, the brief in every format and
``cjsim ops``. The source tables are never written.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.cli import app
from app.errors import ActionFailedError, InvalidArgumentError
from app.providers.data_agent import DataAgent
from app.retention.export import CSV_COLUMNS
from app.retention.facts import retention_facts
from app.retention.queue import priority_queue, write_queue
from app.retention.settings import load_settings
from app.storage.admin import store_rows, writable_connection
from app.storage.ops import customer_priority, customer_priority_runs
from app.tools import call_tool
from tests.test_retention_rules import FREQUENCY, OVERDUE, D, every, open_shop, shop_rows

runner = CliRunner()

HISTORIES = {
    "P1-vip": [*[(k, 30_000) for k in range(400, 99, -30)], (10, 30_000)],  # ACTIVE, frequency drop, > 2,000
    "P1-std": FREQUENCY["drop_one_recent"],  # ACTIVE, frequency drop, 120.00 revenue
    "P2-high": [*every(30, 400, 100, 5000), (60, 5000)],  # AT_RISK 60 days, frequency drop (HIGH)
    "P2-medium": OVERDUE["even_median"],  # AT_RISK 60 days, overdue only (MEDIUM)
    "P3": [(400, 100), (390, 100), (380, 100), (150, 100)],  # INACTIVE 150 days, drop and overdue
    "P3-too-old": [(600, 100), (590, 100), (200, 100)],  # INACTIVE 200 days: beyond the P3 window
    "active-low": [(0, 100)],  # ordered on D: the data's current day
}


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # exports land in tmp_path/exports/retention
    provider = open_shop(tmp_path, shop_rows(HISTORIES))
    yield provider
    provider.close()


def _rows(provider, run_date: dt.date | None = None) -> list[dict]:
    assert provider.ops is not None
    stmt = select(customer_priority).order_by(customer_priority.c.customer_id)
    if run_date:
        stmt = stmt.where(customer_priority.c.run_date == run_date)
    return provider.ops.read(lambda conn: [dict(r) for r in conn.execute(stmt).mappings()])


def test_queue_tiers_and_rows(shop) -> None:
    assert shop.default_as_of() == D
    text, artifact = call_tool(shop, "build_priority_queue", {"date": D.isoformat()})
    result = artifact["result"]
    assert (result["p1_count"], result["p2_count"], result["p3_count"], result["total"]) == (2, 2, 1, 5)
    assert result["population"] == len(HISTORIES) and result["table_updated"] == "customer_priority"
    assert "P1 2, P2 2, P3 1" in text
    rows = {r["customer_id"]: r for r in _rows(shop, D)}
    assert {c: r["priority_tier"] for c, r in rows.items()} == {
        "P1-vip": "P1", "P1-std": "P1", "P2-high": "P2", "P2-medium": "P2", "P3": "P3"
    }  # fmt: skip
    vip = rows["P1-vip"]
    assert vip["recommended_action"] == "VIP outreach + 10% loyalty incentive"
    assert vip["total_revenue_cents"] == 12 * 30_000 and vip["currency"] == "USD"
    assert rows["P1-std"]["recommended_action"] == "Personal email + reminder"
    assert (rows["P2-medium"]["churn_risk_level"], rows["P2-medium"]["churn_risk_score"]) == ("MEDIUM", 30)
    assert (rows["P2-high"]["churn_risk_level"], rows["P2-high"]["is_frequency_drop"]) == ("HIGH", True)
    assert rows["P3"]["priority_score"] == round(30 + 2 * math.log1p(4.0) + 10, 1)  # $4.00 revenue, 150 days


def test_rebuild_is_idempotent_and_a_retry_never_runs_twice(shop) -> None:
    first = call_tool(shop, "build_priority_queue", {"date": D.isoformat()})[1]
    again = call_tool(shop, "build_priority_queue", {"date": D.isoformat()})[1]
    assert (first["status"], again["status"]) == ("succeeded", "duplicate") and again["result"] == first["result"]
    before = _rows(shop, D)
    # a rebuild of the same run date (a later business day, or the library) replaces the rows: same rows, no duplicates
    facts = shop.read_source(lambda conn: retention_facts(conn, D))
    with shop.ops.transaction() as conn:
        write_queue(conn, facts, priority_queue(facts), currency="USD", now=dt.datetime(2025, 7, 1, 9))
    after = _rows(shop, D)
    assert [{k: v for k, v in r.items() if k != "created_at"} for r in after] == [
        {k: v for k, v in r.items() if k != "created_at"} for r in before
    ]
    audit = shop.ops.audit(action="build_priority_queue")
    assert [a.status for a in audit] == ["succeeded", "duplicate"]


def test_old_run_dates_are_pruned_after_the_retention_days(shop) -> None:
    for back in (100, 90, 5, 0):
        call_tool(shop, "build_priority_queue", {"date": (D - dt.timedelta(days=back)).isoformat()})
    kept = shop.ops.read(lambda conn: sorted(conn.execute(select(customer_priority_runs.c.run_date)).scalars()))
    assert kept == [D - dt.timedelta(days=90), D - dt.timedelta(days=5), D]  # 100 days before the newest: gone
    dates = shop.ops.read(
        lambda conn: set(
            conn.execute(select(customer_priority.c.run_date).group_by(customer_priority.c.run_date)).scalars()
        )
    )
    assert D - dt.timedelta(days=100) not in dates
    pruned = [a.result["pruned_run_dates"] for a in shop.ops.audit(action="build_priority_queue")]
    assert pruned == [0, 0, 1, 0]  # the build of D-5 made D-100 more than 90 days older than the newest


def test_source_tables_are_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    provider = open_shop(tmp_path, shop_rows(HISTORIES))
    source = tmp_path / "shop.db"
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    call_tool(provider, "build_priority_queue", {})
    call_tool(provider, "export_audience", {"tier": "P2"})
    provider.get_view("generate_brief", format="email")
    provider.close()
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before


def test_export_csv_columns_order_and_limit(shop, tmp_path: Path) -> None:
    call_tool(shop, "build_priority_queue", {})
    text, artifact = call_tool(shop, "export_audience", {"tier": "P1", "limit": 1})
    result = artifact["result"]
    assert (result["rows_exported"], result["tier_size"], result["queue_built"]) == (1, 2, False)
    assert result["path"] == "exports/retention/audience_2025-06-30_P1.csv" and "limited from 2" in text
    with (tmp_path / result["path"]).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = list(reader)
    assert [r["customer_id"] for r in rows] == ["P1-vip"]  # the higher score first
    assert rows[0]["total_revenue"] == "3600.00" and rows[0]["currency"] == "USD"
    assert rows[0]["is_frequency_drop"] == "true" and rows[0]["run_date"] == "2025-06-30"
    full = call_tool(shop, "export_audience", {"tier": "P2"})[1]["result"]
    with (tmp_path / full["path"]).open(encoding="utf-8", newline="") as fh:
        scores = [float(r["priority_score"]) for r in csv.DictReader(fh)]
    assert len(scores) == 2 and scores == sorted(scores, reverse=True)


def test_export_builds_the_queue_when_none_exists(shop) -> None:
    result = call_tool(shop, "export_audience", {"tier": "P3"})[1]["result"]
    assert (result["queue_built"], result["rows_exported"]) == (True, 1)
    assert [a.action for a in shop.ops.audit()] == ["export_audience"]  # one audited call did both


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"tier": "P1", "destination": "gsheet"},
            "destination 'gsheet' is not supported; the only destination is 'csv'",
        ),
        ({"tier": "P1", "destination": "both"}, "the only destination is 'csv'"),
        ({"tier": "P7"}, "tier: Input should be 'P1', 'P2' or 'P3'"),
        ({"tier": "P1", "limit": 0}, "limit: Input should be greater than or equal to 1"),
        ({"tier": "P1", "date": "2025-07-01"}, None),  # after the data's current day: refused by the action
    ],
)
def test_refused_exports_name_the_fix(shop, args: dict, message: str | None) -> None:
    if message is None:
        with pytest.raises(ActionFailedError, match="after the data's current day 2025-06-30"):
            call_tool(shop, "export_audience", args)
        assert shop.ops.audit()[-1].status == "failed"  # a failure leaves its audit row
        return
    with pytest.raises(InvalidArgumentError, match=message):
        call_tool(shop, "export_audience", args)


@pytest.mark.parametrize("fmt", ["slack", "email", "markdown"])
def test_brief_states_the_numbers_in_every_format(shop, fmt: str) -> None:
    unbuilt = shop.get_view("generate_brief", format=fmt)
    assert "not written to customer_priority yet" in unbuilt.text
    audit_id = call_tool(shop, "build_priority_queue", {})[1]["audit_id"]
    call_tool(shop, "export_audience", {"tier": "P1"})
    brief = shop.get_view("generate_brief", format=fmt)
    data = brief.brief
    assert (data.queue.p1_count, data.queue.p2_count, data.queue.p3_count) == (2, 2, 1) and data.queue_written
    assert data.audit_id == audit_id and f"#{audit_id}" in brief.text
    assert "exports/retention/audience_2025-06-30_P1.csv" in brief.text and "P2 export: not exported yet" in brief.text
    context = shop.get_view("get_operational_context")
    for status, n in context.status_distribution.items():
        assert f"{status}: {n} (" in brief.text
    assert "P1-vip" in brief.text and data.alert.severity in brief.text
    first = {"slack": "*Retention brief 2025-06-30", "email": "Subject: [", "markdown": "# Retention brief 2025-06-30"}
    assert first[fmt] in brief.text.splitlines()[0]


def test_views_refuse_dates_outside_the_data(shop) -> None:
    with pytest.raises(InvalidArgumentError, match="after the data's current day"):
        shop.get_view("get_alert_decision", date="2025-07-01")
    with pytest.raises(InvalidArgumentError, match="before the data's first day"):
        shop.get_view("get_operational_context", date="2020-01-01")


def test_generated_world_tools_share_the_embedded_store() -> None:
    agent = DataAgent.create("churn_spike", "sarah_chen", seed=3)
    counts = call_tool(agent, "build_priority_queue", {})[1]["result"]
    stored = agent.ops.read(lambda conn: conn.execute(select(func.count()).select_from(customer_priority)).scalar())
    assert stored == counts["total"] > 0  # the source read inside the action's transaction did not roll it back
    assert agent.ops.audit()[-1].status == "succeeded"
    context = agent.get_view("get_operational_context")
    assert context.total_customers == counts["population"] == sum(context.status_distribution.values())


# ------------------------------------------------------------------------------------------- the CLI


def test_cli_over_a_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    open_shop(tmp_path, shop_rows(HISTORIES), name="cli").close()
    db = ["--db-url", f"sqlite:///{tmp_path / 'cli.db'}", "--ops-url", f"sqlite:///{tmp_path / 'cli_ops.db'}"]
    alert = runner.invoke(app, ["ops", "alert", "--date", "2025-06-30", "--json", *db])
    assert alert.exit_code == 0, alert.output
    assert json.loads(alert.output)["sample_size"] == len(HISTORIES)
    queue = runner.invoke(app, ["ops", "queue", "--json", *db])
    assert queue.exit_code == 0 and json.loads(queue.output)["result"]["p1_count"] == 2
    export = runner.invoke(app, ["ops", "export", "--tier", "P2", "--json", *db])
    assert export.exit_code == 0 and json.loads(export.output)["result"]["rows_exported"] == 2
    brief = runner.invoke(app, ["ops", "brief", "--format", "markdown", *db])
    assert brief.exit_code == 0 and brief.output.startswith("# Retention brief 2025-06-30")
    assert "audience_2025-06-30_P2.csv" in brief.output
    context = runner.invoke(app, ["ops", "context", "--json", *db])
    assert context.exit_code == 0 and json.loads(context.output)["at_risk_by_risk_level"] == {
        "HIGH": 1, "MEDIUM": 1, "LOW": 0
    }  # fmt: skip


def test_settings_file_is_documented() -> None:
    readme = (Path(__file__).resolve().parents[1] / "data" / "README.md").read_text(encoding="utf-8")
    assert "retention_ops.yaml" in readme
    assert load_settings().export.folder == Path("exports/retention")


def test_a_run_computes_the_dates_facts_once_until_new_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.views.retention_ops as views

    monkeypatch.chdir(tmp_path)
    computed: list[dt.date] = []

    def counted(conn, day, settings=None):
        computed.append(day)
        return retention_facts(conn, day, settings)

    monkeypatch.setattr(views, "retention_facts", counted)
    provider = open_shop(tmp_path, shop_rows(HISTORIES))
    provider.check_interval = 0.0  # look for new data before every view, as a long-running server eventually does
    d = D.isoformat()
    context = provider.get_view("get_operational_context", date=d)
    built = call_tool(provider, "build_priority_queue", {"date": d})[1]["result"]
    brief = provider.get_view("generate_brief", date=d).to_json()["brief"]
    call_tool(provider, "export_audience", {"date": d, "tier": "P1"})
    assert computed == [D]  # context, queue, brief and export share one computation
    direct = provider.read_source(lambda conn: retention_facts(conn, D))
    assert context.to_json()["total_customers"] == direct.population == built["population"]
    assert brief["context"]["status_distribution"] == direct.status_counts()
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    with writable_connection(url) as conn:  # new data: the same shop and a newcomer ordering on D
        rows = shop_rows({**HISTORIES, "newcomer": [(0, 100)]})
        store_rows(conn, rows, kind="import", source="test", url=url, replace=True)
    assert provider.get_view("get_operational_context", date=d).to_json()["total_customers"] == direct.population + 1
    assert computed == [D, D]
    provider.close()
