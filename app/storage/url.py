"""Database URLs: parsing, password masking and engines (read-only or writable).

Supported databases: a SQLite file (``sqlite:///path/to/file.db``, or simply a path ending in
``.db``/``.sqlite``/``.sqlite3``) and PostgreSQL through psycopg 3 (``postgresql+psycopg://``;
``postgresql://`` and ``postgres://`` are read the same way).

Read-only engines never write: a SQLite file is opened with ``mode=ro``; PostgreSQL sessions
start with ``default_transaction_read_only=on``, so any INSERT/UPDATE/DDL fails on the server.

Example:
    >>> mask_url("postgresql+psycopg://cj:s3cret@db.example.com:5432/shop")
    'postgresql+psycopg://cj:***@db.example.com:5432/shop'
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

from app.errors import ProviderError
from app.storage.bulk import tune_sqlite_for_load

__all__ = [
    "DB_URL_ENV",
    "mask_url",
    "parse_url",
    "make_engine",
    "connection_error",
    "SUPPORTED_URLS",
]

DB_URL_ENV = "CJSIM_DB_URL"
"""Environment variable read when no ``--db-url``/``--url`` is given."""

SUPPORTED_URLS = "sqlite:///path/to/file.db or postgresql+psycopg://user:password@host:5432/dbname"

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_USERINFO = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^:/@\s]*):(?P<password>[^@\s]*)@")
_QUERY_PASSWORD = re.compile(r"(?P<key>(?:password|passwd|pwd)=)[^&\s]*", re.IGNORECASE)


def mask_url(url: str | URL | None) -> str:
    """The URL with any password replaced by ``***`` (safe to print, log and store)."""
    if url is None:
        return ""
    if isinstance(url, URL):
        text = url.render_as_string(hide_password=True)
    else:
        text = str(url)
    text = _USERINFO.sub(lambda m: f"{m.group('head')}:***@", text)
    return _QUERY_PASSWORD.sub(lambda m: f"{m.group('key')}***", text)


def parse_url(url: str | URL | None) -> URL:
    """Validate a database URL and normalise it (plain paths -> SQLite, PostgreSQL -> psycopg 3).

    Raises:
        ProviderError: empty, unparsable or unsupported URLs, with the accepted forms.
    """
    if isinstance(url, URL):
        parsed = url
    else:
        text = (url or "").strip()
        if not text:
            raise ProviderError(f"no database URL given; pass --db-url/--url or set {DB_URL_ENV} ({SUPPORTED_URLS})")
        if "://" not in text:
            if text.lower().endswith(_SQLITE_SUFFIXES):
                return URL.create("sqlite", database=text)
            raise ProviderError(f"bad database URL {mask_url(text)!r}; expected {SUPPORTED_URLS}")
        try:
            parsed = make_url(text)
        except (ArgumentError, ValueError) as exc:
            raise ProviderError(f"bad database URL {mask_url(text)!r} ({exc}); expected {SUPPORTED_URLS}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ProviderError(f"unsupported SQLite driver {driver!r} in {mask_url(parsed)!r}; use sqlite:///path")
        if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
            raise ProviderError(
                f"{mask_url(parsed)!r} is not a SQLite file; give a file path, e.g. sqlite:///merchant.db"
            )
        return parsed.set(drivername="sqlite")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise ProviderError(
                f"unsupported PostgreSQL driver {driver!r} in {mask_url(parsed)!r}; cjsim uses psycopg 3: "
                "postgresql+psycopg://user:password@host:5432/dbname"
            )
        if not parsed.database:
            raise ProviderError(f"{mask_url(parsed)!r} names no database; add it: postgresql+psycopg://host/dbname")
        return parsed.set(drivername="postgresql+psycopg")
    raise ProviderError(f"unsupported database {backend!r} in {mask_url(parsed)!r}; cjsim supports {SUPPORTED_URLS}")


def _sqlite_engine(url: URL, read_only: bool) -> Engine:
    path = Path(url.database or "")
    if read_only:
        if not path.is_file():
            raise ProviderError(
                f"no SQLite database file at {path}; create one with `cjsim db init --url {mask_url(url)}`"
            )
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"

        def creator() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)

        engine = create_engine("sqlite://", creator=creator, poolclass=QueuePool)
    else:
        if not path.parent.is_dir():
            raise ProviderError(f"cannot create SQLite database {path}: folder {path.parent} does not exist")
        engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        if not read_only:
            tune_sqlite_for_load(dbapi_conn)

    return engine


def _postgres_engine(url: URL, read_only: bool) -> Engine:
    query = dict(url.query)
    options = query.pop("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    if read_only:
        options = f"{options} -c default_transaction_read_only=on".strip()
    connect_args: dict[str, Any] = {"connect_timeout": int(query.pop("connect_timeout", 5))}
    if options:
        connect_args["options"] = options
    connect_args.setdefault("application_name", query.pop("application_name", "cjsim"))
    return create_engine(url.set(query=query), connect_args=connect_args, pool_pre_ping=True)


def make_engine(url: str | URL, *, read_only: bool) -> Engine:
    """An engine for ``url``; ``read_only`` engines cannot write (enforced by the database).

    Raises:
        ProviderError: bad URL, or (read-only SQLite) no such file.
    """
    parsed = parse_url(url)
    if parsed.drivername == "sqlite":
        return _sqlite_engine(parsed, read_only)
    return _postgres_engine(parsed, read_only)


def connection_error(exc: BaseException, url: str | URL) -> ProviderError:
    """A :class:`ProviderError` for a failed connection or query, password masked."""
    orig = getattr(exc, "orig", None) or exc
    detail = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    detail = mask_url(detail)
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        detail += " (connection lost)"
    if not isinstance(exc, SQLAlchemyError | sqlite3.Error | OSError):
        detail = f"{type(exc).__name__}: {detail}"
    return ProviderError(f"database {mask_url(url)}: {detail}")
