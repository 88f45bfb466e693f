"""The one implementation of every view over a SQLAlchemy engine, shared by all SQL-backed providers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from app.formatting import DEFAULT_CURRENCY
from app.providers.cache import ViewCache, no_expiry
from app.storage import queries as q
from app.storage.customer_facts import StoredFacts, fact_dates
from app.storage.customer_frame import CustomerFacts, CustomerFrame
from app.storage.schema import merchants
from app.views import VIEWS, DataProvider, ViewArgs, ViewResult
from app.views.common import ViewContext, data_gaps

__all__ = ["SqlDataProvider"]

T = TypeVar("T")


class SqlDataProvider(DataProvider):
    """Answers every view with the shared SQL queries over ``engine``.

    Results are cached per (view, arguments, as_of) in a :class:`ViewCache` (by default they never
    expire: a subclass whose data can change passes a TTL policy and calls :meth:`clear_cache` when
    it does). Customer-level views read materialised customer facts when the database holds them
    for the requested ``as_of`` and compute them in memory otherwise; both give the same answers.
    Subclasses decide the default ``as_of`` and how the engine is made.
    """

    name = "sql"

    def __init__(self, engine: Engine, cache: ViewCache | None = None) -> None:
        self.engine = engine
        self.cache = cache if cache is not None else ViewCache(ttl=no_expiry)
        self._frames: dict[dt.date, CustomerFrame] = {}
        self._memo: dict[Hashable, Any] = {}
        self._fact_dates: set[dt.date] | None = None
        self._range: tuple[dt.date, dt.date] | tuple[()] | None = None

    @property
    def cache_hits(self) -> int:
        """View results served from the cache."""
        return self.cache.hits

    @property
    def cache_misses(self) -> int:
        """View results computed (absent or expired in the cache)."""
        return self.cache.misses

    def merchant_name(self) -> str:
        """Business name of the (first) merchant in the database."""
        return self.merchant_row().get("business_name") or "the merchant"

    def merchant_row(self) -> dict[str, Any]:
        """The (first) merchants row: id, name, business name and type, currency ({} when none)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(merchants).order_by(merchants.c.merchant_id)).first()
        return dict(row._mapping) if row else {}

    def currency(self) -> str:
        """ISO 4217 code of the merchant's amounts (USD when the database names none)."""
        return str(self._merchant_info().get("currency") or DEFAULT_CURRENCY)

    def data_range(self) -> tuple[dt.date, dt.date] | None:
        """(first, last) day with any recorded activity; None for a database without any."""
        if self._range is None:
            with self.engine.connect() as conn:
                first, last = q.earliest_activity(conn), q.latest_activity(conn)
            self._range = (first, last) if first is not None and last is not None else ()
        return self._range or None

    def data_gaps(self) -> tuple[str, ...]:
        """Reasons for the source tables without any row (cached like the date range)."""
        if "_gaps" not in self.__dict__:
            with self.engine.connect() as conn:
                self._gaps = data_gaps(conn)
        return self._gaps

    def read_source(self, query: Callable[[Connection], T], within: Connection | None = None) -> T:
        """Run ``query`` on a connection of the source engine (read only); on ``within`` when the
        operations store lives in the same database (the DataAgent's embedded one), whose single
        connection a second checkout would roll back."""
        if within is not None and self.ops is not None and self.ops.engine is self.engine:
            return query(within)
        with self.engine.connect() as conn:
            return query(conn)

    def source_memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` remembered under ``key`` until :meth:`clear_cache` (called when the data changes)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def clear_cache(self) -> None:
        """Forget cached views, customer frames, remembered source results and which dates have stored facts."""
        self.cache.clear()
        self._frames.clear()
        self._memo.clear()
        self._fact_dates = None

    def forget_data_facts(self) -> None:
        """Forget the data's date range and merchant (after new data was loaded); views are not cached
        with them, so :meth:`clear_cache` keeps them."""
        self._range = None
        self.__dict__.pop("_gaps", None)
        self.__dict__.pop("_info", None)
        self.__dict__.pop("_merchant_name", None)

    def _cache_key(self, view: str, args: ViewArgs, as_of: dt.date) -> tuple:
        return (view, args.model_dump_json(), as_of)

    def _compute(self, view: str, args: ViewArgs, as_of: dt.date) -> ViewResult:
        spec = VIEWS[view]
        key = self._cache_key(view, args, as_of)
        cached = self.cache.get(view, key) if spec.cacheable else None
        if cached is not None:
            return cached
        with self.engine.connect() as conn:
            ctx = ViewContext(
                conn=conn,
                as_of=as_of,
                merchant=self._merchant(),
                frame_factory=lambda d: self._facts(conn, d),
                memo=self.source_memo,
                ops=self.ops,
                currency=self.currency(),
                data_start=(self.data_range() or (None, None))[0],
            )
            result = spec.build(ctx, args)
        if spec.cacheable:
            self.cache.put(view, key, result)
        return result

    def _merchant(self) -> str:
        if not hasattr(self, "_merchant_name"):
            self._merchant_name = self.merchant_name()
        return self._merchant_name

    def _merchant_info(self) -> dict[str, Any]:
        if "_info" not in self.__dict__:
            self._info = self.merchant_row()
        return self._info

    def _facts(self, conn, as_of: dt.date) -> CustomerFacts:
        """Stored facts if the database materialised them for ``as_of``, else the in-memory frame."""
        if self._fact_dates is None:
            self._fact_dates = fact_dates(conn)
        if as_of in self._fact_dates:
            return StoredFacts(conn, as_of)
        frame = self._frames.get(as_of)
        if frame is None:
            frame = self._frames[as_of] = CustomerFrame(conn, as_of)
        return frame
