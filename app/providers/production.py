"""The ProductionDataProvider: every view over a real database, read-only, cached.

It runs the same SQL view implementation as the DataAgent (:class:`SqlDataProvider`) against a
SQLite file or a PostgreSQL database prepared by ``cjsim db init`` and filled by ``cjsim db
load`` (a synthetic world) or ``cjsim db import`` (a merchant's CSV exports). It never writes:
the engine is read-only at the database level. On PostgreSQL it also refuses a user that could
write (see :mod:`app.storage.readonly`) unless ``allow_writable_user`` is set.

Caching: results are kept per (view, arguments, as_of) for the view's time-to-live (see
:mod:`app.providers.cache`), and dropped as soon as the data's load time changes (a new load,
import or refresh), which is checked at most every ``check_interval`` seconds.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ProviderError, WritableUserError
from app.providers.cache import ViewCache, ttl_for_view
from app.providers.sql_provider import SqlDataProvider
from app.storage import queries as q
from app.storage.customer_facts import fact_dates
from app.storage.migrations import admin_metadata, check_schema, load_stamp, stale_summaries
from app.storage.ops import OpsStore
from app.storage.readonly import READ_ONLY_ROLE_SQL, session_user, writable_grants
from app.storage.schema import metadata
from app.storage.url import connection_error, make_engine, mask_url, parse_url
from app.views import ViewArgs, ViewResult

__all__ = ["ProductionDataProvider"]

T = TypeVar("T")


class ProductionDataProvider(SqlDataProvider):
    """Data views over a merchant's database (SQLite file or PostgreSQL), read-only.

    Args:
        url: ``sqlite:///file.db`` or ``postgresql+psycopg://user:password@host/db``.
        ttl: seconds a view result stays cached, per view name (default: workflow refresh intervals).
        clock: monotonic clock for TTLs and the load-time check (injectable in tests).
        check_interval: seconds between checks of the data's load time.
        ops_url: a writable database for the operations store, where actions write (never the
            source database itself); without one the provider answers views but cannot act.
        allow_writable_user: accept a PostgreSQL user that could write to cjsim's tables (or create
            tables next to them). Sessions are still read-only by default, but the session itself
            could lift that; a role with only SELECT cannot write at all.

    Raises:
        ProviderError: bad URL, unreachable database, missing/older/newer schema, stale summaries.
        WritableUserError: a PostgreSQL user that can write, without ``allow_writable_user``.

    Example:
        >>> provider = ProductionDataProvider("sqlite:///merchant.db")  # doctest: +SKIP
        >>> provider.daily_briefing().mrr.current  # doctest: +SKIP
        52340.0
    """

    name = "production"

    def __init__(
        self,
        url: str | URL,
        *,
        ttl: Callable[[str], float | None] = ttl_for_view,
        clock: Callable[[], float] = time.monotonic,
        check_interval: float = 1.0,
        ops_url: str | URL | None = None,
        allow_writable_user: bool = False,
    ) -> None:
        self.url = parse_url(url)
        self.display_url = mask_url(self.url)
        super().__init__(make_engine(self.url, read_only=True), ViewCache(ttl=ttl, clock=clock))
        if ops_url is not None:
            if parse_url(ops_url) == self.url:
                raise ProviderError(
                    f"the operations store must be a database of its own, not the source {self.display_url}; "
                    "give another SQLite file or PostgreSQL schema"
                )
            self.ops = OpsStore.from_url(ops_url)
        self.clock = clock
        self.check_interval = check_interval
        self._checked_at = clock()
        self._latest: dt.date | None = None
        with self._connect() as conn:
            try:
                self.schema_version = check_schema(conn, self.display_url)
                if self.url.get_backend_name() == "postgresql" and not allow_writable_user:
                    self._refuse_writable_user(conn)
                self._stamp = self._validated_stamp(conn)
            except SQLAlchemyError as exc:
                raise connection_error(exc, self.display_url) from None

    @classmethod
    def from_url(cls, url: str | URL, **kwargs: Any) -> ProductionDataProvider:
        """Open the database at ``url`` (see the class arguments)."""
        return cls(url, **kwargs)

    def __repr__(self) -> str:
        return f"ProductionDataProvider({self.display_url!r})"

    def _connect(self) -> Any:
        try:
            return self.engine.connect()
        except SQLAlchemyError as exc:
            raise connection_error(exc, self.display_url) from None

    def _refuse_writable_user(self, conn: Connection) -> None:
        names = [t.name for t in (*metadata.sorted_tables, *admin_metadata.sorted_tables)]
        tables, schemas = writable_grants(conn, names)
        if not tables and not schemas:
            return
        rights = []
        if tables:
            shown = ", ".join(tables[:3]) + (f" and {len(tables) - 3} more" if len(tables) > 3 else "")
            rights.append(f"change {len(tables)} of cjsim's tables ({shown})")
        if schemas:
            rights.append(f"create tables in schema {', '.join(schemas)}")
        schema = schemas[0] if schemas else str(conn.execute(text("SELECT current_schema()")).scalar_one())
        role_sql = " ".join(READ_ONLY_ROLE_SQL.format(schema=schema).splitlines())
        raise WritableUserError(
            f"database {self.display_url}: user {session_user(conn)!r} can {' and '.join(rights)}, and a session "
            f"could switch its read-only setting off; connect as a user that can only read, e.g.: {role_sql} "
            "(see docs/production.md)"
        )

    def _validated_stamp(self, conn: Connection) -> tuple[int, dt.datetime] | None:
        stale = stale_summaries(conn)
        if stale:
            raise ProviderError(
                f"database {self.display_url}: summary tables are out of date ({stale}); "
                f"run `cjsim db refresh --url {self.display_url}`"
            )
        return load_stamp(conn)

    # ------------------------------------------------------------------ freshness

    def check_for_new_data(self, force: bool = False) -> bool:
        """Drop cached results if the data's load time changed; returns whether it did.

        Called before every view, but queries the database at most every ``check_interval``.
        """
        now = self.clock()
        if not force and now - self._checked_at < self.check_interval:
            return False
        self._checked_at = now
        with self._connect() as conn:
            try:
                stamp = load_stamp(conn)
                if stamp == self._stamp:
                    return False
                self._stamp = self._validated_stamp(conn)
            except SQLAlchemyError as exc:
                raise connection_error(exc, self.display_url) from None
        self.clear_cache()
        self.forget_data_facts()
        self._latest = None
        return True

    @property
    def load_time(self) -> dt.datetime | None:
        """When the data was last loaded, imported or refreshed (None if never by cjsim)."""
        return self._stamp[1] if self._stamp else None

    # ------------------------------------------------------------------ views

    def default_as_of(self) -> dt.date:
        """The latest activity date in the database (orders, subscriptions, tickets, marketing)."""
        self.check_for_new_data()
        if self._latest is None:
            with self._connect() as conn:
                try:
                    self._latest = q.latest_activity(conn)
                except SQLAlchemyError as exc:
                    raise connection_error(exc, self.display_url) from None
            if self._latest is None:
                raise ProviderError(
                    f"database {self.display_url} holds no activity yet; load data with `cjsim db load` or "
                    "`cjsim db import`, or pass an explicit as_of date"
                )
        return self._latest

    def _compute(self, view: str, args: ViewArgs, as_of: dt.date) -> ViewResult:
        self.check_for_new_data()
        try:
            return super()._compute(view, args, as_of)
        except SQLAlchemyError as exc:
            raise connection_error(exc, self.display_url) from None

    def source_memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """As the views: what was remembered is dropped first if new data was loaded since."""
        self.check_for_new_data()
        return super().source_memo(key, compute)

    def merchant_name(self) -> str:
        try:
            return super().merchant_name()
        except SQLAlchemyError as exc:
            raise connection_error(exc, self.display_url) from None

    def merchant_identity(self) -> dict[str, Any] | None:
        """The database's merchant (id, name, business name and type, currency)."""
        try:
            return self.merchant_row() or None
        except SQLAlchemyError as exc:
            raise connection_error(exc, self.display_url) from None

    def materialized_dates(self) -> set[dt.date]:
        """Dates with stored customer facts (customer views at other dates are computed in memory)."""
        with self._connect() as conn:
            return fact_dates(conn)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
