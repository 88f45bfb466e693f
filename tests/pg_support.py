"""PostgreSQL for tests: a private schema per test session, dropped at the end.

The server is reached at ``$CJSIM_TEST_PG_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Without it, PostgreSQL tests skip with
a visible reason, unless ``CJSIM_REQUIRE_POSTGRES=1`` (CI), where a missing server fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ENV = "CJSIM_TEST_PG_URL"
REQUIRE_ENV = "CJSIM_REQUIRE_POSTGRES"

__all__ = ["PG_ENV", "REQUIRE_ENV", "pg_base_url", "PgSchemas", "pg_schemas", "skip_or_fail"]


def skip_or_fail(reason: str) -> None:
    """Skip (locally) or fail (when PostgreSQL is required) with ``reason``."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}=1) but {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def pg_base_url() -> str | None:
    """The server URL from the environment, driver normalised to psycopg 3 (None if unset)."""
    raw = os.environ.get(PG_ENV, "").strip()
    if not raw:
        return None
    url = make_url(raw)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


class PgSchemas:
    """Creates uniquely named schemas on the test server and drops them all at :meth:`close`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.engine = create_engine(base_url, connect_args={"connect_timeout": 5})
        self.created: list[str] = []
        with self.engine.begin() as conn:  # fails fast if the server is unreachable
            conn.execute(text("SELECT 1"))

    def new(self, label: str = "t") -> str:
        """A fresh empty schema; returns a database URL whose sessions use it."""
        name = f"cjsim_test_{label}_{uuid.uuid4().hex[:10]}"
        with self.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        self.created.append(name)
        url = make_url(self.base_url).update_query_dict({"options": f"-csearch_path={name}"})
        return url.render_as_string(hide_password=False)

    def close(self) -> None:
        with self.engine.begin() as conn:
            for name in self.created:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        self.created.clear()
        self.engine.dispose()


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[PgSchemas]:
    """Session-wide schema factory on the test server (skips or fails when there is none)."""
    base = pg_base_url()
    if base is None:
        skip_or_fail(f"{PG_ENV} is not set")
    try:
        schemas = PgSchemas(base)  # type: ignore[arg-type]
    except Exception as exc:
        skip_or_fail(f"cannot connect to {PG_ENV}: {str(exc).splitlines()[0]}")
    yield schemas
    schemas.close()
