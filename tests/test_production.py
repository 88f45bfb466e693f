"""ProductionDataProvider: read-only engines, schema management, caching, errors and the db CLI."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import SQLAlchemyError
from typer.testing import CliRunner

from app.cli import app
from app.errors import ProviderError, UnknownNameError
from app.providers.cache import DEFAULT_VIEW_TTLS, ViewCache, ttl_for_view, workflow_ttls
from app.providers.loading import load_world
from app.providers.production import ProductionDataProvider
from app.storage.admin import database_info, init_database, refresh_database, store_rows, writable_connection
from app.storage.migrations import LATEST_VERSION, MIGRATIONS, admin_metadata, schema_version
from app.storage.schema import merchants, metadata, orders
from app.storage.url import mask_url, parse_url
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

runner = CliRunner()

SCENARIO, MERCHANT, SEED = "steady_operations", "marcus_thompson", 3


class FakeClock:
    """A monotonic clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def loaded_sqlite(tmp_path_factory) -> str:
    """A SQLite file holding one world (shared read-only by the tests of this module)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('prod') / 'world.db'}"
    init_database(url)
    load_world(url, SCENARIO, MERCHANT, seed=SEED)
    return url


@pytest.fixture(scope="module")
def loaded_pg(pg_schemas) -> str:  # noqa: F811
    url = pg_schemas.new("prod")
    init_database(url)
    load_world(url, SCENARIO, MERCHANT, seed=SEED)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def loaded_url(request) -> str:
    return request.getfixturevalue("loaded_sqlite" if request.param == "sqlite" else "loaded_pg")


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request, tmp_path) -> str:
    """An empty database (no schema) on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "fresh.db"
        sqlite3.connect(path).close()
        return f"sqlite:///{path}"
    return request.getfixturevalue("pg_schemas").new("fresh")


# --------------------------------------------------------------------------- read-only


def test_write_through_the_provider_fails(loaded_url: str) -> None:
    provider = ProductionDataProvider(loaded_url, allow_writable_user=True)
    with pytest.raises(SQLAlchemyError, match="(?i)read-?only|not authorized"):
        with provider.engine.begin() as conn:
            conn.execute(insert(merchants).values(merchant_id="x", name="x", business_name="x", business_type="x"))
    with pytest.raises(SQLAlchemyError, match="(?i)read-?only|not authorized"):
        with provider.engine.begin() as conn:
            conn.execute(text("CREATE TABLE sneaky (x INTEGER)"))
    provider.close()


def test_views_leave_the_database_untouched(loaded_sqlite: str) -> None:
    path = Path(parse_url(loaded_sqlite).database)
    before = path.stat().st_mtime_ns, path.read_bytes()
    provider = ProductionDataProvider(loaded_sqlite)
    provider.daily_briefing()
    provider.customer_segment("at_risk")
    provider.customer_list("all", as_of=provider.default_as_of() - dt.timedelta(days=3))
    provider.close()
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


# --------------------------------------------------------------------------- schema


def test_every_table_is_created_by_a_migration(tmp_path: Path) -> None:
    from sqlalchemy import inspect

    url = f"sqlite:///{tmp_path / 'm.db'}"
    init_database(url)
    with writable_connection(url) as conn:
        created = set(inspect(conn).get_table_names())
    assert {t.name for t in (*metadata.sorted_tables, *admin_metadata.sorted_tables)} <= created
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))


def test_init_is_idempotent_and_applies_only_missing_migrations(fresh_url: str) -> None:
    applied, version = init_database(fresh_url)
    assert [m.version for m in applied] == list(range(1, LATEST_VERSION + 1)) and version == LATEST_VERSION
    assert init_database(fresh_url)[0] == []
    with writable_connection(fresh_url) as conn:  # pretend the last migration never ran
        conn.execute(schema_version.delete().where(schema_version.c.version == LATEST_VERSION))
    with pytest.raises(ProviderError, match=r"older .*run `cjsim db init --url"):
        ProductionDataProvider(fresh_url, allow_writable_user=True)
    assert [m.version for m in init_database(fresh_url)[0]] == [LATEST_VERSION]
    ProductionDataProvider(fresh_url, allow_writable_user=True).close()


def test_a_version_4_database_gains_the_currency_column_and_refunds(fresh_url: str) -> None:
    from sqlalchemy import inspect, text

    init_database(fresh_url)
    with writable_connection(fresh_url) as conn:  # back to the version-4 shape: no refunds, no currency
        conn.execute(text("DROP TABLE refunds"))
        conn.execute(text("CREATE TABLE merchants_v4 AS SELECT merchant_id, name, business_name, business_type FROM merchants"))
        conn.execute(text("DROP TABLE merchants CASCADE" if conn.dialect.name == "postgresql" else "DROP TABLE merchants"))
        conn.execute(text("ALTER TABLE merchants_v4 RENAME TO merchants"))
        conn.execute(text("INSERT INTO merchants VALUES ('m1', 'Ann', 'Ann Co', 'tea')"))
        conn.execute(schema_version.delete().where(schema_version.c.version >= 5))
    assert [m.version for m in init_database(fresh_url)[0]] == list(range(5, LATEST_VERSION + 1))
    with writable_connection(fresh_url) as conn:
        assert "refunds" in inspect(conn).get_table_names()
        assert conn.execute(text("SELECT currency FROM merchants")).scalar_one() == "USD"


def test_a_version_6_database_gains_order_summaries_filled_from_its_orders(fresh_url: str) -> None:
    from app.storage.schema import order_customer_daily
    from app.world.retail import retail_rows

    init_database(fresh_url)
    with writable_connection(fresh_url) as conn:
        store_rows(conn, retail_rows(customers=30, orders=90), kind="import", source="test", url=fresh_url)
        expected = [tuple(r) for r in conn.execute(order_customer_daily.select().order_by("day"))]
        conn.execute(text("DROP TABLE order_customer_daily"))  # back to the version-6 shape
        conn.execute(schema_version.delete().where(schema_version.c.version >= 7))
    assert expected and [m.version for m in init_database(fresh_url)[0]] == list(range(7, LATEST_VERSION + 1))
    with writable_connection(fresh_url) as conn:
        assert [tuple(r) for r in conn.execute(order_customer_daily.select().order_by("day"))] == expected
    p = ProductionDataProvider(fresh_url, allow_writable_user=True)
    assert p.order_metrics().repeat_purchase_rate.current is not None
    p.close()


def test_missing_schema_names_the_init_command(fresh_url: str) -> None:
    with pytest.raises(ProviderError, match=r"no cjsim schema.*run `cjsim db init --url"):
        ProductionDataProvider(fresh_url, allow_writable_user=True)


def test_newer_schema_asks_to_upgrade(fresh_url: str) -> None:
    init_database(fresh_url)
    with writable_connection(fresh_url) as conn:
        conn.execute(schema_version.insert().values(version=99, description="future", applied_at=dt.datetime(2030, 1, 1)))
    with pytest.raises(ProviderError, match="newer than .*upgrade cjsim"):
        ProductionDataProvider(fresh_url, allow_writable_user=True)
    with pytest.raises(ProviderError, match="upgrade cjsim"):
        init_database(fresh_url)


def test_empty_database_has_no_default_as_of(fresh_url: str) -> None:
    init_database(fresh_url)
    provider = ProductionDataProvider(fresh_url, allow_writable_user=True)
    with pytest.raises(ProviderError, match="holds no activity yet"):
        provider.daily_briefing()


def test_stale_summaries_name_the_refresh_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stale.db'}"
    init_database(url)
    load_world(url, SCENARIO, MERCHANT, seed=SEED)
    provider = ProductionDataProvider(url)
    as_of = provider.default_as_of()
    revenue = provider.financial_metrics("7d").revenue.current
    customer = provider.customer_list("active", 1).customers[0].customer_id
    with writable_connection(url) as conn:  # a writer that bypasses cjsim
        conn.execute(
            insert(orders).values(
                order_id="X1", customer_id=customer, subscription_id=None, ordered_on=as_of, amount_cents=10_000, status="paid"
            )
        )
    with pytest.raises(ProviderError, match=r"out of date.*orders.*cjsim db refresh --url"):
        ProductionDataProvider(url)
    report = refresh_database(url)
    assert report.facts_as_of == [as_of]
    assert ProductionDataProvider(url).financial_metrics("7d").revenue.current == revenue + 100


def test_a_failed_load_leaves_the_database_as_it_was(fresh_url: str) -> None:
    """The bulk path drops indexes (and PostgreSQL foreign keys) inside the load's transaction."""
    from sqlalchemy import inspect

    from app.agents.data_agent import DataAgent
    from app.storage.admin import store_rows
    from app.storage.url import make_engine

    def shape() -> tuple:
        engine = make_engine(fresh_url, read_only=True)
        with engine.connect() as conn:
            insp = inspect(conn)
            found = tuple(
                (name, len(insp.get_indexes(name)), len(insp.get_foreign_keys(name)))
                for name in ("orders", "support_tickets", "customer_facts", "ticket_search")
            )
        engine.dispose()
        return found, database_info(fresh_url)["row_counts"]

    init_database(fresh_url)
    rows = DataAgent.create(SCENARIO, MERCHANT, seed=SEED).world.snapshot()
    with writable_connection(fresh_url) as conn:
        store_rows(conn, rows, kind="load", source="test", url="test")
    before = shape()
    broken = {**rows, "orders": [*rows["orders"][:-1], {**rows["orders"][-1], "customer_id": "NOBODY"}]}
    with pytest.raises(ProviderError, match="(?i)foreign key"), writable_connection(fresh_url) as conn:
        store_rows(conn, broken, kind="load", source="test", url="test", replace=True)
    assert shape() == before
    assert ProductionDataProvider(fresh_url, allow_writable_user=True).customer_list("all", 1).total == before[1]["customers"]


def test_db_info(loaded_url: str) -> None:
    info = database_info(loaded_url)
    assert info["schema_version"] == LATEST_VERSION
    assert info["row_counts"]["customers"] > 1000 and info["row_counts"]["customer_facts"] == info["row_counts"]["customers"]
    assert info["date_range"]["last"] == info["default_as_of"] == ProductionDataProvider(loaded_url, allow_writable_user=True).default_as_of()
    assert info["facts_as_of"] == [info["default_as_of"]]
    assert info["loads"][0]["kind"] == "load" and "problem" not in info


# --------------------------------------------------------------------------- caching


def test_ttl_cache_with_an_injected_clock() -> None:
    clock = FakeClock()
    cache = ViewCache(ttl=ttl_for_view, clock=clock)
    cache.put("crisis_analysis", "k1", "crisis")
    cache.put("daily_briefing", "k2", "briefing")
    clock.advance(4 * 60)
    assert cache.get("crisis_analysis", "k1") == "crisis"
    clock.advance(2 * 60)  # 6 minutes: the crisis view (5m) expired, the briefing (24h) did not
    assert cache.get("crisis_analysis", "k1") is None
    assert cache.get("daily_briefing", "k2") == "briefing"
    clock.advance(24 * 3600)
    assert cache.get("daily_briefing", "k2") is None
    assert (cache.hits, cache.misses) == (2, 2)
    assert DEFAULT_VIEW_TTLS["daily_briefing"] == 86400 and DEFAULT_VIEW_TTLS["crisis_analysis"] == 300


def test_workflow_ttls_prefer_declared_refresh_intervals() -> None:
    ttl = workflow_ttls({"ticket_metrics": 3600}.get)
    assert ttl("ticket_metrics") == 3600 and ttl("daily_briefing") == 86400


def test_provider_cache_hits_misses_and_ttl(loaded_sqlite: str) -> None:
    clock = FakeClock()
    provider = ProductionDataProvider(loaded_sqlite, clock=clock)
    first = provider.daily_briefing()
    assert provider.daily_briefing() is first
    assert (provider.cache_hits, provider.cache_misses) == (1, 1)
    crisis = provider.crisis_analysis()
    clock.advance(301)  # past the crisis TTL, well within the briefing's
    assert provider.crisis_analysis() is not crisis and provider.crisis_analysis() == crisis
    assert provider.daily_briefing() is first
    assert provider.cache.stats()["misses"] == 3


def test_cache_invalidated_when_the_load_time_changes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reload.db'}"
    init_database(url)
    load_world(url, SCENARIO, MERCHANT, seed=SEED)
    clock = FakeClock()
    provider = ProductionDataProvider(url, clock=clock, check_interval=5)
    before = provider.daily_briefing()
    load_time = provider.load_time
    load_world(url, "churn_spike", "sarah_chen", seed=1, replace=True)
    assert provider.daily_briefing() is before  # not checked again yet
    clock.advance(6)
    after = provider.daily_briefing()
    assert after != before and after.merchant == "EcoBeauty Box"
    assert provider.load_time > load_time and provider.cache.invalidations == 1


def test_data_agent_results_never_expire() -> None:
    from app.agents.data_agent import DataAgent

    agent = DataAgent.create(SCENARIO, MERCHANT, seed=SEED)
    assert agent.cache.ttl("crisis_analysis") is None


# --------------------------------------------------------------------------- URLs and errors


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://cj:s3cret@db:5432/shop", "postgresql+psycopg://cj:***@db:5432/shop"),
        ("postgresql://cj:p%40ss@db/shop?sslmode=require", "postgresql://cj:***@db/shop?sslmode=require"),
        ("postgresql://db/shop?password=s3cret&x=1", "postgresql://db/shop?password=***&x=1"),
        ("sqlite:///merchant.db", "sqlite:///merchant.db"),
        ("cannot connect to postgresql://u:hunter2@h/db", "cannot connect to postgresql://u:***@h/db"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    if url.startswith("postgresql+psycopg://"):
        assert "s3cret" not in mask_url(parse_url(url))


def test_parse_url_normalises_drivers(tmp_path: Path) -> None:
    assert parse_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url(str(tmp_path / "x.db")).drivername == "sqlite"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u@h/db", "uses psycopg 3"),
        ("not a url", "bad database URL"),
        ("sqlite://", "is not a SQLite file"),
        ("", "no database URL given"),
        ("postgresql://u@h", "names no database"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        ProductionDataProvider(url)


def test_missing_sqlite_file(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match=r"no SQLite database file at .*cjsim db init --url"):
        ProductionDataProvider(f"sqlite:///{tmp_path / 'nope.db'}")


def test_unreachable_server_message_masks_the_password() -> None:
    with pytest.raises(ProviderError) as err:
        ProductionDataProvider("postgresql+psycopg://cj:hunter2@127.0.0.1:1/shop?connect_timeout=2")
    message = str(err.value)
    assert "hunter2" not in message and "cj:***@127.0.0.1:1/shop" in message
    assert "refused" in message.lower() or "connect" in message.lower()


# --------------------------------------------------------------------------- CLI


def _ok(args: list[str], **kw) -> str:
    result = runner.invoke(app, args, **kw)
    assert result.exit_code == 0, result.output
    return result.output


def _fails(args: list[str], **kw) -> str:
    result = runner.invoke(app, args, **kw)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def test_cli_init_load_info_refresh_and_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert "applied migration 1" in _ok(["db", "init", "--url", url])
    assert "already up to date" in _ok(["db", "init", "--url", url])
    out = _ok(["db", "load", "--url", url, "--scenario", "churn_spike", "--merchant", "sarah_chen", "--seed", "2"])
    assert "rows/s" in out and "customer facts materialised" in out
    assert "already holds data" in _fails(["db", "load", "--url", url, "--scenario", "churn_spike"])
    info = _ok(["db", "info", "--url", url])
    assert f"schema version: {LATEST_VERSION}" in info and "customer_facts" in info
    assert "refreshed" in _ok(["db", "refresh", "--url", url, "--as-of", "2025-04-01"])
    prod = _ok(["data", "financial_metrics", "--json", "--provider", "production", "--db-url", url])
    agent = _ok(["data", "financial_metrics", "--json", "--scenario", "churn_spike", "--merchant", "sarah_chen", "--seed", "2"])
    assert json.loads(prod) == json.loads(agent)
    text_out = _ok(["data", "daily_briefing", "--provider", "production"], env={"CJSIM_DB_URL": url})
    assert "daily_briefing - EcoBeauty Box - sqlite:///" in text_out
    earlier = _ok(["data", "customer_list", "--json", "--provider", "production", "--db-url", url, "--as-of", "2025-04-01"])
    assert json.loads(earlier)["as_of"] == "2025-04-01"


def test_cli_masks_the_password_of_printed_urls(loaded_pg: str) -> None:
    from sqlalchemy.engine import make_url

    with_password = make_url(loaded_pg).set(password="hunter2").render_as_string(hide_password=False)
    out = _ok(["data", "daily_briefing", "--provider", "production", "--db-url", with_password, "--allow-writable-user"])
    assert "hunter2" not in out and "postgresql+psycopg://postgres:***@" in out
    out = _ok(["db", "info", "--url", with_password])
    assert "hunter2" not in out and "postgresql+psycopg://postgres:***@127.0.0.1" in out.replace("\n", "")
    provider = ProductionDataProvider(with_password, allow_writable_user=True)
    assert "hunter2" not in repr(provider) and "hunter2" not in provider.display_url
    provider.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "daily_briefing", "--provider", "production"], "needs a database: pass --db-url"),
        (["data", "daily_briefing", "--provider", "warehouse"], "unknown provider 'warehouse'; valid providers:"),
        (["data", "daily_briefing", "--provider", "production", "--db-url", "mysql://x/y"], "unsupported database"),
        (["db", "info", "--url", "postgresql+psycopg://u:pw@127.0.0.1:1/db?connect_timeout=2"], "127.0.0.1"),
        (["db", "load", "--url", "oracle://x"], "unsupported database 'oracle'"),
    ],
)
def test_cli_errors_exit_2(args: list[str], message: str) -> None:
    out = _fails(args, env={"CJSIM_DB_URL": ""})
    assert message in out.replace("\n", "")
    assert ":pw@" not in out


def test_cli_wrong_schema_and_missing_file_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x INTEGER)")
    out = _fails(["data", "daily_briefing", "--provider", "production", "--db-url", f"sqlite:///{path}"])
    assert "cjsim db init --url" in out.replace("\n", "")
    out = _fails(["db", "info", "--url", f"sqlite:///{path}"])
    assert "no cjsim schema" in out
    out = _fails(["db", "load", "--url", f"sqlite:///{tmp_path / 'missing.db'}"])
    assert "cjsim db init" in out.replace("\n", "")


def test_build_provider_rejects_unknown_names() -> None:
    from app.cli.common import build_provider

    with pytest.raises(UnknownNameError, match="data_agent, production"):
        build_provider("nope", None, SCENARIO, MERCHANT, 0)


def test_a_version_7_database_gains_the_last_order_of_its_stored_facts(fresh_url: str) -> None:
    """Facts stored before migration 8 get their last order filled: the retention filters answer
    without a refresh, exactly as on facts stored afterwards."""
    from app.world.retail import retail_rows

    init_database(fresh_url)
    with writable_connection(fresh_url) as conn:
        store_rows(conn, retail_rows(customers=30, orders=90), kind="import", source="test", url=fresh_url)
    p = ProductionDataProvider(fresh_url, allow_writable_user=True)
    expected = [p.customer_list(f, 100, "ltv").to_json() for f in ("order_active", "order_at_risk", "order_inactive")]
    p.close()
    with writable_connection(fresh_url) as conn:  # back to the version-7 shape
        conn.execute(text("DROP INDEX ix_customer_facts_last_order"))
        conn.execute(text("ALTER TABLE customer_facts DROP COLUMN last_order_on"))
        conn.execute(schema_version.delete().where(schema_version.c.version >= 8))
    assert [m.version for m in init_database(fresh_url)[0]] == list(range(8, LATEST_VERSION + 1))
    p = ProductionDataProvider(fresh_url, allow_writable_user=True)
    assert [p.customer_list(f, 100, "ltv").to_json() for f in ("order_active", "order_at_risk", "order_inactive")] == expected
    p.close()
