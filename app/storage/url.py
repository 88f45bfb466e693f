"""Database URLs: parsing, password masking and engines (read-only or writable).

Supported databases: a SQLite file (``sqlite:///path/to/file.db``, or simply a path ending in
``.db``/``.sqlite``/``.sqlite3``) and PostgreSQL through psycopg 3 (``postgresql+psycopg://``;
``postgresql://`` and ``postgres://`` are read the same way).

Read-only engines never write: a SQLite file is opened with ``mode=ro`` through a connection
whose authorizer denies every write, ``ATTACH`` and pragma assignment (see
:mod:`app.storage.readonly`); PostgreSQL sessions start with ``default_transaction_read_only=on``,
and the production provider also checks that the user itself cannot write.

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
from app.storage.readonly import ReadOnlySQLiteConnection

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
# A password may hold any character, raw or percent-encoded (spaces, tabs, '@', ':', '/'), so
# it is taken to run from the ':' after the user name to the *last* '@' of the text: masking too
# much is harmless, stopping at the first space or '@' leaked the rest.
_USERINFO = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^:/]*):.*@", re.DOTALL)
# In a query string a raw '&' starts the next parameter; in a driver's key=value message the
# value may be quoted and hold spaces, so everything up to the next '&' goes.
_QUERY_PASSWORD = re.compile(r"(?P<key>\b(?:password|passwd|pwd)=)[^&]*", re.IGNORECASE)


def mask_url(url: str | URL | None) -> str:
    """The text with every URL password replaced by ``***`` (safe to print, log and store).

    This is the one masking function: use it for every URL (or message that may hold one)
    that is printed, logged or written to a file. It accepts a :class:`~sqlalchemy.engine.URL`,
    a URL string, or free text such as a driver's error message.
    """
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
        except (ArgumentError, ValueError):
            # the parser's own message may quote a piece of a mis-split password: not shown
            raise ProviderError(
                f"bad database URL {mask_url(text)!r}: the port must be a number, and '@', ':' or '/' in the "
                f"user name or password must be percent-encoded (%40, %3A, %2F); expected {SUPPORTED_URLS}"
            ) from None
        if parsed.host and "@" in parsed.host:
            raise ProviderError(
                f"bad database URL {mask_url(text)!r}: the password holds a raw '@', so the host name is wrong; "
                "percent-encode it as %40 (p@ss becomes p%40ss)"
            )
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
            return sqlite3.connect(uri, uri=True, check_same_thread=False, factory=ReadOnlySQLiteConnection)

        return create_engine("sqlite://", creator=creator, poolclass=QueuePool)
    if not path.parent.is_dir():
        problem = "is not a folder" if path.parent.exists() else "does not exist"
        raise ProviderError(f"cannot create SQLite database {path}: {path.parent} {problem}")
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        tune_sqlite_for_load(dbapi_conn)

    return engine


def _connect_timeout(url: URL, value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise ProviderError(
            f"bad connect_timeout={value!r} in {mask_url(url)}; give whole seconds, e.g. ?connect_timeout=5 "
            "(0 waits forever)"
        )
    return seconds


def _postgres_engine(url: URL, read_only: bool) -> Engine:
    query = dict(url.query)
    options = query.pop("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    repeated = sorted(key for key, value in query.items() if isinstance(value, tuple))
    if repeated:
        raise ProviderError(f"{mask_url(url)} gives {', '.join(repeated)} more than once; keep one of each")
    if read_only:
        options = f"{options} -c default_transaction_read_only=on".strip()
    connect_args: dict[str, Any] = {"connect_timeout": _connect_timeout(url, str(query.pop("connect_timeout", "5")))}
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
    try:
        if parsed.drivername == "sqlite":
            return _sqlite_engine(parsed, read_only)
        return _postgres_engine(parsed, read_only)
    except (ArgumentError, ValueError, TypeError) as exc:  # a URL option the driver cannot take
        raise ProviderError(f"bad option in database URL {mask_url(parsed)}: {mask_url(str(exc))}") from None


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
