"""The data quality of a production database at a date: the library function behind ``cjsim db quality``.

Unlike the ``data_quality`` view, which answers only inside the data's date range, any date on
or after the data's first day may be asked: a date after the last day is how staleness shows
("the newest order is 40 days before today").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import inspect
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from app.errors import InvalidArgumentError, ProviderError
from app.quality import QualityReport
from app.quality.store import quality_runs, stored_loads
from app.storage import queries as q
from app.storage.migrations import check_schema
from app.storage.url import connection_error, make_engine, mask_url, parse_url
from app.views.quality import quality_at

__all__ = ["DatabaseQuality", "database_quality"]


@dataclass
class DatabaseQuality:
    """A database's quality report at a date and the verdicts stored by its loads."""

    url: str
    report: QualityReport
    loads: list[tuple[int, dt.date, str]] = field(default_factory=list)
    """(load id, date checked, verdict) of every load that stored its checks, oldest first."""


def database_quality(url: str | URL, as_of: dt.date | None = None) -> DatabaseQuality:
    """Run (or read the stored) data-quality checks of the database at ``url`` at ``as_of``
    (default: its latest day with activity).

    Raises:
        ProviderError: unreachable database, no or outdated cjsim schema, no data at all.
        InvalidArgumentError: ``as_of`` before the data's first day.
    """
    display = mask_url(parse_url(url))
    engine = make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            check_schema(conn, display)
            first, last = q.earliest_activity(conn), q.latest_activity(conn)
            if first is None or last is None:
                raise ProviderError(f"database {display} holds no data; load or import some first (`cjsim db import`)")
            day = as_of or last
            if day < first:
                raise InvalidArgumentError(f"--date {day} is before the data's first day {first}; choose a later date")
            report = quality_at(conn, day)
            loads = stored_loads(conn) if inspect(conn).has_table(quality_runs.name) else []
    except SQLAlchemyError as exc:
        raise connection_error(exc, display) from None
    finally:
        engine.dispose()
    return DatabaseQuality(url=display, report=report, loads=loads)
