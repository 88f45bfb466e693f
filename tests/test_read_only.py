"""The production provider is read-only by construction: the known bypasses fail on both backends."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from typer.testing import CliRunner

from app.cli import app
from app.errors import WritableUserError
from app.providers.loading import load_world
from app.providers.production import ProductionDataProvider
from app.storage.admin import init_database
from app.storage.readonly import ReadOnlySQLiteConnection
from app.storage.url import parse_url
from tests.pg_support import pg_schemas  # noqa: F401  (fixture)

SCENARIO, MERCHANT, SEED = "steady_operations", "marcus_thompson", 3


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('ro') / 'world.db'}"
    init_database(url)
    load_world(url, SCENARIO, MERCHANT, seed=SEED)
    return url


@pytest.fixture(scope="module")
def pg_url(pg_schemas) -> str:  # noqa: F811
    url = pg_schemas.new("ro")
    init_database(url)
    load_world(url, SCENARIO, MERCHANT, seed=SEED)
    return url


def _schema(url: str) -> str:
    return make_url(url).query["options"].split("=", 1)[1]


@pytest.fixture
def role(pg_url: str) -> Iterator[tuple[str, str]]:
    """(name, URL) of a new login role that may only SELECT cjsim's tables; dropped afterwards."""
    name = f"cjsim_test_reader_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url)
    schema = _schema(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{name}" LOGIN'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{name}"'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{name}"'))
    try:
        yield name, make_url(pg_url).set(username=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{name}"'))
            conn.execute(text(f'DROP ROLE "{name}"'))
        admin.dispose()


# --------------------------------------------------------------------------- SQLite


@pytest.mark.parametrize(
    "statement",
    [
        "ATTACH 'file:{path}?mode=rw' AS rw",
        "PRAGMA query_only = OFF",
        "PRAGMA journal_mode = WAL",
        "DELETE FROM customers",
        "CREATE TEMP TABLE scratch (x INTEGER)",
        "VACUUM INTO '{path}.copy'",
        "SELECT load_extension('anything')",
    ],
)
def test_sqlite_statements_that_could_write_are_denied(sqlite_url: str, statement: str) -> None:
    path = Path(parse_url(sqlite_url).database)
    before = path.read_bytes()
    provider = ProductionDataProvider(sqlite_url)
    with pytest.raises(SQLAlchemyError, match="not authorized|authorization denied"):
        with provider.engine.begin() as conn:
            conn.execute(text(statement.format(path=path)))
    assert provider.customer_list("all", 3).total > 0  # reading still works on the same pool
    provider.close()
    assert path.read_bytes() == before and not Path(f"{path}.copy").exists()


def test_sqlite_attach_then_delete_bypass_fails(sqlite_url: str) -> None:
    path = Path(parse_url(sqlite_url).database)
    provider = ProductionDataProvider(sqlite_url)
    with provider.engine.connect() as conn:
        with pytest.raises(SQLAlchemyError):
            conn.exec_driver_sql(f"ATTACH 'file:{path}?mode=rw' AS rw")
        with pytest.raises(SQLAlchemyError):
            conn.exec_driver_sql("DELETE FROM rw.customers")
    provider.close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM customers").fetchone()[0] > 0


def test_sqlite_safeguards_cannot_be_removed(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", factory=ReadOnlySQLiteConnection)
    with pytest.raises(sqlite3.NotSupportedError):
        conn.set_authorizer(None)
    with pytest.raises(sqlite3.NotSupportedError):
        conn.enable_load_extension(True)
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        conn.execute("CREATE TABLE t (x INTEGER)")
    assert conn.execute("PRAGMA query_only").fetchone() == (1,)


# --------------------------------------------------------------------------- PostgreSQL


def test_postgres_refuses_a_user_that_can_write(pg_url: str) -> None:
    with pytest.raises(WritableUserError) as err:
        ProductionDataProvider(pg_url)
    message = str(err.value)
    assert re.search(r"user 'postgres' can change \d+ of cjsim's tables \(customer_facts, ", message)  # sorted by name
    assert f"GRANT SELECT ON ALL TABLES IN SCHEMA {_schema(pg_url)}" in message
    assert message.endswith("allow_writable_user=True")
    ProductionDataProvider(pg_url, allow_writable_user=True).close()


def test_cli_names_its_option_for_a_writable_user(pg_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["data", "daily_briefing", "--provider", "production", "--db-url", pg_url])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--allow-writable-user" in " ".join(result.output.split())
    allowed = runner.invoke(app, ["data", "daily_briefing", "--provider", "production", "--db-url", pg_url,
                                  "--allow-writable-user"])  # fmt: skip
    assert allowed.exit_code == 0, allowed.output


def test_postgres_select_only_role_is_accepted_and_cannot_write(pg_url: str, role: tuple[str, str]) -> None:
    _, url = role
    provider = ProductionDataProvider(url)
    assert provider.daily_briefing().mrr.current is not None
    with provider.engine.connect() as conn:
        # the session may lift its own read-only default ...
        conn.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        conn.exec_driver_sql("SET default_transaction_read_only = off")
        conn.commit()
        # ... but the role still cannot write
        for statement in ("DELETE FROM customers", "UPDATE merchants SET name = 'x'", "CREATE TABLE sneaky (x int)"):
            with pytest.raises(SQLAlchemyError, match="permission denied"):
                conn.exec_driver_sql(statement)
            conn.rollback()
    provider.close()
    with create_engine(pg_url).connect() as admin:
        assert admin.execute(text("SELECT count(*) FROM customers")).scalar_one() > 0


def test_postgres_role_that_can_set_role_to_a_writer_is_refused(pg_url: str, role: tuple[str, str]) -> None:
    name, url = role
    writer = f"{name}_w"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{writer}" NOLOGIN'))
        conn.execute(text(f'GRANT DELETE ON customers TO "{writer}"'))
        conn.execute(text(f'ALTER ROLE "{name}" NOINHERIT'))  # holds no write right itself, but may SET ROLE
        conn.execute(text(f'GRANT "{writer}" TO "{name}"'))
    try:
        with pytest.raises(WritableUserError, match=r"can change 1 of cjsim's tables \(customers\)"):
            ProductionDataProvider(url)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{writer}"'))
            conn.execute(text(f'DROP ROLE "{writer}"'))
        admin.dispose()
