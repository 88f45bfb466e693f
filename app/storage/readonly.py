"""Read-only by construction: connections that no SQL statement can turn into writers.

SQLite: the file is opened with ``mode=ro`` and ``query_only``, and an authorizer that only
allows reads is installed before the connection is handed out. It denies every INSERT, UPDATE,
DELETE and DDL, ``ATTACH`` (which could open the same file again with ``mode=rw``) and every
``PRAGMA`` that sets something; the connection refuses to have its authorizer replaced.

PostgreSQL: a session setting such as ``default_transaction_read_only`` can be switched off by
the session itself, so the guarantee has to come from the role. :func:`writable_grants` lists
what the connected user (or any role it can ``SET ROLE`` to) may change among cjsim's tables;
the production provider refuses a user that can write unless the caller accepts it.

Example:
    >>> import sqlite3
    >>> conn = sqlite3.connect(":memory:", factory=ReadOnlySQLiteConnection)
    >>> conn.execute("CREATE TABLE t (x INTEGER)")
    Traceback (most recent call last):
    ...
    sqlite3.DatabaseError: not authorized
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.types import Text

__all__ = ["ReadOnlySQLiteConnection", "writable_grants", "session_user", "READ_ONLY_ROLE_SQL"]

_ALLOWED_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_SELECT,
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_FUNCTION,
        sqlite3.SQLITE_RECURSIVE,
        sqlite3.SQLITE_TRANSACTION,  # BEGIN/COMMIT/ROLLBACK of read transactions
        sqlite3.SQLITE_SAVEPOINT,
    }
)
# Pragmas whose argument names a table or an index: they only describe the schema.
_SCHEMA_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list"}
)
# Settings that may be read (never set): a PRAGMA with an argument would set them.
_READABLE_PRAGMAS = frozenset(
    {
        "database_list", "collation_list", "compile_options", "data_version", "schema_version", "user_version",
        "application_id", "page_count", "page_size", "encoding", "foreign_keys", "journal_mode", "query_only",
        "read_uncommitted",
    }
)  # fmt: skip
_DENIED_FUNCTIONS = frozenset({"load_extension"})


def _authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name in _SCHEMA_PRAGMAS or (arg2 is None and name in _READABLE_PRAGMAS):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


class ReadOnlySQLiteConnection(sqlite3.Connection):
    """A ``sqlite3`` connection that can only read (pass it as ``factory=`` to ``sqlite3.connect``).

    Writes, DDL, ``ATTACH``/``DETACH`` and pragma assignments fail with "not authorized";
    replacing the authorizer or loading an extension raises ``sqlite3.NotSupportedError``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA query_only = ON")
        super().set_authorizer(_authorize)

    def _refuse(self, *_args: Any, **_kwargs: Any) -> None:
        raise sqlite3.NotSupportedError("this connection is read-only; its safeguards cannot be changed")

    set_authorizer = _refuse
    enable_load_extension = _refuse
    load_extension = _refuse
    deserialize = _refuse


# For every cjsim table: can the session's login role, or a role it is a member of (and so can
# SET ROLE to), change its rows or its definition (owners can do anything to their tables)?
_WRITABLE_TABLES = text(
    """
    SELECT t.name
    FROM unnest(:names) AS t(name)
    JOIN pg_class c ON c.oid = to_regclass(t.name)
    WHERE EXISTS (
        SELECT 1 FROM pg_roles r
        WHERE pg_has_role(session_user, r.oid, 'MEMBER')
          AND (r.oid = c.relowner OR has_table_privilege(r.oid, c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE'))
    )
    ORDER BY t.name
    """
).bindparams(bindparam("names", type_=ARRAY(Text)))

# Schemas holding cjsim tables where such a role may create objects (e.g. a table that shadows one).
_CREATABLE_SCHEMAS = text(
    """
    SELECT DISTINCT n.nspname
    FROM unnest(:names) AS t(name)
    JOIN pg_class c ON c.oid = to_regclass(t.name)
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE EXISTS (
        SELECT 1 FROM pg_roles r
        WHERE pg_has_role(session_user, r.oid, 'MEMBER')
          AND (r.oid = n.nspowner OR has_schema_privilege(r.oid, n.oid, 'CREATE'))
    )
    ORDER BY n.nspname
    """
).bindparams(bindparam("names", type_=ARRAY(Text)))

READ_ONLY_ROLE_SQL = """\
CREATE ROLE cjsim_reader LOGIN PASSWORD 'choose-a-password';
GRANT USAGE ON SCHEMA {schema} TO cjsim_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO cjsim_reader;"""
"""The role to create for the production provider (``{schema}``: where cjsim's tables live)."""


def session_user(conn: Connection) -> str:
    """The PostgreSQL role the session logged in as."""
    return str(conn.execute(text("SELECT session_user")).scalar_one())


def writable_grants(conn: Connection, table_names: list[str]) -> tuple[list[str], list[str]]:
    """(tables the session could write, schemas it could create objects in), on PostgreSQL.

    Both lists are empty for a role that can only read; a superuser can write everything.
    """
    names = sorted(table_names)
    tables = [r[0] for r in conn.execute(_WRITABLE_TABLES, {"names": names})]
    schemas = [r[0] for r in conn.execute(_CREATABLE_SCHEMAS, {"names": names})]
    return tables, schemas
