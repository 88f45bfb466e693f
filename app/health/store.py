"""Health materialised per date in ``customer_health`` and ``customer_health_runs`` (source-schema
migration 11).

A load, import or refresh stores every scored customer's health at the data's latest day and
``monitoring.baseline_days`` before it (the overview's "since last week"), computed by the code the
in-memory path (:func:`app.health.score.score_all`) runs - the same scorer, alert rules and actions,
run once per distinct input key and shared by the customers holding it. :class:`StoredHealth`
answers the :class:`~app.health.frame.HealthSet` questions from those rows with grouped queries and
index walks, so a database of 100k customers never loads them all for a view.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Hashable
from operator import itemgetter
from typing import Any

from sqlalchemy import and_, case, delete, func, inspect, select
from sqlalchemy.engine import Connection

from app.health.alerts import AlertKind
from app.health.frame import (
    BANDED,
    SUMMED,
    HealthRow,
    HealthSet,
    HealthSummary,
    MemoryHealth,
    bp,
    rows_from,
    summarize,
)
from app.health.inputs import HealthInputs, SourceCoverage, gather_inputs, gather_inputs_at, source_coverage
from app.health.model import Factor
from app.health.score import health_rows, shared_by_key
from app.health.settings import COMPONENTS, HealthSettings
from app.storage import queries as q
from app.storage.bulk import bulk_writer, paused_gc
from app.storage.derived import Derived, register_derived
from app.storage.health_tables import HEALTH_TABLES, customer_health, customer_health_runs

__all__ = ["materialize_health", "materialize_days", "materialize_load", "health_dates", "drop_health", "StoredHealth", "health_days",
           "health_at"]  # fmt: skip


ch = customer_health.c
Memo = Callable[[Hashable, Callable[[], Any]], Any]


def health_days(latest: dt.date, first: dt.date | None, s: HealthSettings) -> list[dt.date]:
    """The dates a load materialises: the latest day and ``baseline_days`` before it (within the data)."""
    before = latest - dt.timedelta(days=s.monitoring.baseline_days)
    return [before, latest] if first is not None and before >= first else [latest]


def _factors(items: list[Factor]) -> list[list[Any]]:
    return [[f.name, f.component, f.evidence, f.count] for f in items]


def materialize_health(conn: Connection, day: dt.date, s: HealthSettings) -> int:
    """Compute every scored customer's health at ``day`` and store it (replacing that date's rows)."""
    return materialize_days(conn, [day], s)[day]


def materialize_days(conn: Connection, days: list[dt.date], s: HealthSettings) -> dict[dt.date, int]:
    """:func:`materialize_health` at several dates, their inputs read together; customers stored per date."""
    with paused_gc():  # the rows are built in a call: freed before the collector resumes, not walked by it
        return _materialize(conn, days, s)


def _materialize(conn: Connection, days: list[dt.date], s: HealthSettings) -> dict[dt.date, int]:
    cov = source_coverage(conn)
    inputs = gather_inputs_at(conn, days, s)
    for day in inputs:
        drop_health(conn, day)
    runs: dict[dt.date, tuple[int, str]] = {}
    with bulk_writer(conn, customer_health) as write:  # PostgreSQL stores one date while the next is scored
        for day in list(inputs):
            population = inputs.pop(day)
            cols = _columns(day, *_scored(population, s, cov), s)
            write(cols)
            runs[day] = (len(cols["customer_id"]), _summary(cols, s))
            del population, cols  # freed while the rows are stored
    for day, (_, summary) in runs.items():
        conn.execute(customer_health_runs.insert().values(as_of=day, model_version=s.model_version, summary=summary))
    return {day: n for day, (n, _) in runs.items()}


Stored = tuple[Any, ...]
"""A customer's values as stored but its date, id and rank: (risk, each of :data:`_COLUMNS`)."""
_COLUMNS = (*(f"{c}_bp" for c in COMPONENTS), "overall_bp", "confidence_bp", "risk_bp", "tenure_days", "alert_type",
            "severity", "detail")  # fmt: skip


def _scored(inputs: dict[str, HealthInputs], s: HealthSettings, cov: SourceCoverage) -> tuple[list[str], list[Stored]]:
    """(customer ids in order, each one's stored values) of one date's inputs: the values of
    :func:`rows_from` over :func:`~app.health.score.score_inputs`, computed once per distinct key
    (:func:`~app.health.score.shared_by_key`); details are encoded once per distinct content."""
    details: dict[tuple, str] = {}
    return shared_by_key(inputs, s, cov, lambda h: _stored(rows_from([h], s)[0], details))


def _stored(r: HealthRow, details: dict[tuple, str]) -> Stored:
    key = (*r.risk_factors, None, *r.opportunities, r.alert) if r.risk_factors or r.opportunities or r.alert else ()
    text = details.get(key)
    if text is None:
        text = details[key] = _detail(r)
    return (r.risk, *[bp(r.components[c]) for c in COMPONENTS], bp(r.overall), bp(r.confidence), bp(r.risk),
            r.tenure_days, r.alert.alert_type if r.alert else None, r.alert.severity if r.alert else None, text)  # fmt: skip


def _detail(r: HealthRow) -> str:
    return json.dumps({
        "risk_factors": _factors(r.risk_factors),
        "opportunities": _factors(r.opportunities),
        "actions": r.actions,
        "urgency": r.alert.urgency if r.alert else None,
        "score": r.alert.score if r.alert else None,
    }, separators=(",", ":"))  # fmt: skip


def _columns(day: dt.date, ids: list[str], values: list[Stored], s: HealthSettings) -> dict[str, list[Any]]:
    """The ``customer_health`` rows of one date, column by column."""
    # ids come ordered: a stable sort on risk descending orders the rows as risk_order does
    order = sorted(range(len(ids)), key=[v[0] for v in values].__getitem__, reverse=True)
    n = len(order)
    cols: dict[str, list[Any]] = {"as_of": [day] * n, "customer_id": [ids[i] for i in order]}
    ordered = list(map(values.__getitem__, order))
    for at, name in enumerate(_COLUMNS, start=1):
        cols[name] = list(map(itemgetter(at), ordered))
    cols["rank_risk"] = list(range(n))
    cols["model_version"] = [s.model_version] * n
    return cols


def _summary(cols: dict[str, list[Any]], s: HealthSettings) -> str:
    """The ``customer_health_runs`` summary of one date's rows."""
    edges = s.monitoring.psi_bins
    summary = summarize({name: cols[f"{name}_bp"] for name in SUMMED}, len(cols["customer_id"]), edges)
    alerts = Counter((t, sev) for t, sev in zip(cols["alert_type"], cols["severity"], strict=True) if t is not None)
    return json.dumps({
        "edges": edges, "size": summary.size, "sums": summary.sums, "bands": summary.bands,
        "alerts": [[t, sev, k] for (t, sev), k in sorted(alerts.items())],
    })  # fmt: skip


def drop_health(conn: Connection, day: dt.date | None = None) -> None:
    """Delete the stored health of one date (all dates when None)."""
    for table in HEALTH_TABLES:
        stmt = delete(table)
        conn.execute(stmt if day is None else stmt.where(table.c.as_of == day))


def health_dates(conn: Connection) -> set[dt.date]:
    """Dates with materialised health (none when the table does not exist: a generated world's
    embedded database computes health in memory)."""
    if not inspect(conn).has_table(customer_health_runs.name):
        return set()
    return {q.as_date(d) for (d,) in conn.execute(select(customer_health_runs.c.as_of))}


def _score(v: int | None) -> float | None:
    return None if v is None else v / 10_000


def _row(m: Any) -> HealthRow:
    detail = json.loads(m["detail"])
    kind = None
    if m["alert_type"] is not None:
        kind = AlertKind(m["alert_type"], m["severity"], detail["urgency"], float(detail["score"]))
    return HealthRow(
        customer_id=m["customer_id"],
        day=q.as_date(m["as_of"]),
        components={c: _score(m[f"{c}_bp"]) for c in COMPONENTS},
        overall=m["overall_bp"] / 10_000,
        confidence=m["confidence_bp"] / 10_000,
        risk=m["risk_bp"] / 10_000,
        tenure_days=m["tenure_days"],
        alert=kind,
        risk_factors=[Factor(*f) for f in detail["risk_factors"]],
        opportunities=[Factor(*f) for f in detail["opportunities"]],
        actions=list(detail["actions"]),
    )


class StoredHealth(HealthSet):
    """Health at ``day`` read from the materialised rows over ``conn``."""

    def __init__(self, conn: Connection, day: dt.date) -> None:
        self.conn = conn
        self.day = day
        self._stored: dict[str, Any] | None = None

    def _run(self) -> dict[str, Any]:
        """The summary stored with the date (one row)."""
        if self._stored is None:
            text = self.conn.execute(
                select(customer_health_runs.c.summary).where(customer_health_runs.c.as_of == self.day)
            ).scalar_one()
            self._stored = json.loads(text)
        return self._stored

    def size(self) -> int:
        return int(self._run()["size"])

    def alert_counts(self) -> dict[tuple[str, str], int]:
        return {(str(t), str(sev)): int(n) for t, sev, n in self._run()["alerts"]}

    def summary(self, edges: list[float]) -> HealthSummary:
        run = self._run()
        if run["edges"] == list(edges):
            return HealthSummary(size=int(run["size"]), sums={k: (int(n), int(t)) for k, (n, t) in run["sums"].items()},
                                 bands={k: [int(v) for v in b] for k, b in run["bands"].items()})  # fmt: skip
        return self._scan(edges)

    def _scan(self, edges: list[float]) -> HealthSummary:
        """The summary with other bin edges than those stored: one pass over the date's rows."""
        cols: list[Any] = [func.count()]
        for name in SUMMED:
            col = ch[f"{name}_bp"]
            cols += [func.count(col), func.coalesce(func.sum(col), 0)]
        limits = [round(e * 10_000) for e in edges]
        last = len(edges) - 2
        for name in BANDED:
            col = ch[f"{name}_bp"]
            for i in range(last + 1):
                conds = [col.is_not(None)] + ([col >= limits[i]] if i else []) + ([col < limits[i + 1]] if i < last else [])
                cols.append(func.coalesce(func.sum(case((and_(*conds), 1), else_=0)), 0))
        row = self.conn.execute(select(*cols).where(ch.as_of == self.day)).one()
        sums = {name: (int(row[1 + 2 * i]), int(row[2 + 2 * i])) for i, name in enumerate(SUMMED)}
        at = 1 + 2 * len(SUMMED)
        bands = {name: [int(v) for v in row[at + k * (last + 1): at + (k + 1) * (last + 1)]] for k, name in enumerate(BANDED)}
        return HealthSummary(size=int(row[0]), sums=sums, bands=bands)

    def worst(self, limit: int) -> list[HealthRow]:
        stmt = select(customer_health).where(ch.as_of == self.day).order_by(ch.rank_risk).limit(limit)
        return [_row(m) for m in self.conn.execute(stmt).mappings()]

    def one(self, customer_id: str) -> HealthRow | None:
        m = self.conn.execute(
            select(customer_health).where(ch.as_of == self.day, ch.customer_id == customer_id)
        ).mappings().first()
        return None if m is None else _row(m)

    def alerts(self, severities: list[str], types: list[str], limit: int, only: set[str] | None = None,
               skip: set[str] | frozenset[str] = frozenset()) -> tuple[int, list[HealthRow]]:  # fmt: skip
        where = [ch.as_of == self.day, ch.severity.is_not(None)]
        if severities:
            where.append(ch.severity.in_(severities))
        if types:
            where.append(ch.alert_type.in_(types))

        def among(ids: set[str] | frozenset[str]) -> int:  # a few primary-key lookups
            return int(self.conn.execute(select(func.count()).where(*where, ch.customer_id.in_(sorted(ids)))).scalar_one())

        # totals from the stored counts and the (few) customers with a status: no scan of the alert rows
        total = sum(n for (t, sev), n in self.alert_counts().items()
                    if (not severities or sev in severities) and (not types or t in types))  # fmt: skip
        if only is not None:
            total = among(only) if only else 0
            where.append(ch.customer_id.in_(sorted(only)))
        if skip:
            total -= among(skip)
            where.append(ch.customer_id.not_in(sorted(skip)))
        stmt = select(customer_health).where(*where).order_by(ch.rank_risk).limit(limit)
        return total, [_row(m) for m in self.conn.execute(stmt).mappings()]



def health_at(conn: Connection, day: dt.date, s: HealthSettings, memo: Memo | None = None) -> HealthSet:
    """Health at ``day``: the stored rows when the database materialised that date, else computed in
    memory (remembered in ``memo``, a provider's ``source_memo``, under the date and the settings)."""

    def remember(key: tuple, compute: Callable[[], Any]) -> Any:
        return memo(key, compute) if memo is not None else compute()

    if day in remember(("health_dates",), lambda: health_dates(conn)):
        return StoredHealth(conn, day)
    return remember(("health", day, s.model_dump_json()), lambda: MemoryHealth(day, _computed(conn, day, s)))


def _computed(conn: Connection, day: dt.date, s: HealthSettings) -> list[HealthRow]:
    with paused_gc():
        return health_rows(gather_inputs(conn, day, s), s, source_coverage(conn))


def materialize_load(conn: Connection, latest: dt.date, first: dt.date | None) -> list[dt.date]:
    """After a load: health at the data's latest day and ``baseline_days`` before it (replacing all)."""
    from app.health.settings import load_health_settings

    s = load_health_settings()
    days = health_days(latest, first, s)
    materialize_days(conn, days, s)
    return days


register_derived(Derived("health", drop_health, materialize_load))
