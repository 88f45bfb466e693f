"""Customer facts materialised in the database for chosen dates, and read back with index walks.

:func:`materialize_facts` computes the in-memory :class:`~app.storage.customer_frame.CustomerFrame`
at a date and stores every customer's facts, its segment flags, its position in every list order
and the per-segment sums. :class:`StoredFacts` answers the :class:`CustomerFacts` questions from
those rows, so a database of 100k customers lists, samples and profiles customers without loading
them all. Both paths share the frame's code for every number, so they agree exactly; the
conformance tests hold them to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection

from app.storage import order_queries as oq
from app.storage import queries as q
from app.storage.bulk import bulk_insert, bulk_insert_columns
from app.storage.customer_frame import (
    FILTERS,
    ORDERS,
    RETENTION_FILTERS,
    RISK_WINDOW_DAYS,
    SEGMENT_DEFINITIONS,
    CustomerFacts,
    CustomerFrame,
    CustomerRecord,
    SegmentStats,
    last_order_range,
)
from app.storage.schema import (
    FACT_TABLES,
    customer_facts,
    customer_signals,
    orders,
    segment_facts,
    segment_signal_facts,
)

__all__ = ["StoredFacts", "materialize_facts", "fact_dates", "drop_facts", "fill_last_orders"]

cf = customer_facts

_FLAG = {"high_value": cf.c.high_value, "at_risk": cf.c.at_risk, "new": cf.c.is_new, "churned": cf.c.churned}
_RANK = {name: cf.c[f"rank_{name}"] for name in ORDERS}
_RECORD_COLUMNS = (
    cf.c.customer_id,
    cf.c.name,
    cf.c.created_on,
    cf.c.status,
    cf.c.plan,
    cf.c.mrr_cents,
    cf.c.started_on,
    cf.c.last_started_on,
    cf.c.cancelled_on,
    cf.c.cancel_reason,
    cf.c.ltv_cents,
    cf.c.risk,
    cf.c.last_order_on,
)


def _opt_date(value: Any) -> dt.date | None:
    return None if value is None else q.as_date(value)


def _record(row: Any) -> CustomerRecord:
    m = row._mapping
    return CustomerRecord(
        customer_id=m["customer_id"],
        name=m["name"],
        created_on=q.as_date(m["created_on"]),
        status=m["status"],
        plan=m["plan"],
        mrr_cents=int(m["mrr_cents"]),
        started_on=_opt_date(m["started_on"]),
        last_started_on=_opt_date(m["last_started_on"]),
        cancelled_on=_opt_date(m["cancelled_on"]),
        cancel_reason=m["cancel_reason"],
        ltv_cents=int(m["ltv_cents"]),
        risk=float(m["risk"]),
        last_order_on=_opt_date(m["last_order_on"]),
    )


class StoredFacts(CustomerFacts):
    """Customer facts at ``as_of`` read from the materialised tables over ``conn``."""

    def __init__(self, conn: Connection, as_of: dt.date) -> None:
        self.conn = conn
        self.as_of = as_of
        self._stats: dict[str, SegmentStats] | None = None

    def _where(self, filter: str) -> list:
        where = [cf.c.as_of == self.as_of]
        if filter == "active":
            where.append(cf.c.status == "active")
        elif filter in RETENTION_FILTERS:
            lo, hi = last_order_range(filter, self.as_of)
            where.append(cf.c.last_order_on <= hi)  # also leaves out customers without an order (null)
            if lo is not None:
                where.append(cf.c.last_order_on >= lo)
        elif filter != "all":
            where.append(_FLAG[filter].is_(True))
        return where

    def _all_stats(self) -> dict[str, SegmentStats]:
        if self._stats is None:
            signals: dict[str, list[tuple[str, int]]] = {}
            sig = segment_signal_facts.c
            rows = self.conn.execute(
                select(sig.segment, sig.signal_type, sig.count).where(sig.as_of == self.as_of)
            ).all()
            for seg, signal_type, n in rows:
                signals.setdefault(seg, []).append((str(signal_type), int(n)))
            sf = segment_facts.c
            self._stats = {
                seg: SegmentStats(
                    size=int(size),
                    ltv_cents=int(ltv),
                    mrr_cents=int(mrr),
                    risk_sum=float(risk),
                    tenure_days=int(tenure),
                    signals=tuple(sorted(signals.get(seg, []), key=lambda kv: (-kv[1], kv[0]))),
                )
                for seg, size, ltv, mrr, risk, tenure in self.conn.execute(
                    select(sf.segment, sf.size, sf.ltv_cents, sf.mrr_cents, sf.risk_sum, sf.tenure_days).where(
                        sf.as_of == self.as_of
                    )
                )
            }
        return self._stats

    def count(self, filter: str) -> int:
        if filter in RETENTION_FILTERS:  # a range of the (as_of, last_order_on) index, not a stored segment
            return int(self.conn.execute(select(func.count()).where(*self._where(filter))).scalar_one())
        return self.segment_stats(filter).size

    def first(self, filter: str, order: str, limit: int) -> list[CustomerRecord]:
        stmt = select(*_RECORD_COLUMNS).where(*self._where(filter)).order_by(_RANK[order]).limit(limit)
        return [_record(r) for r in self.conn.execute(stmt)]

    def segment_stats(self, segment: str) -> SegmentStats:
        return self._all_stats()[segment]

    def record(self, customer_id: str) -> CustomerRecord | None:
        row = self.conn.execute(
            select(*_RECORD_COLUMNS).where(cf.c.as_of == self.as_of, cf.c.customer_id == customer_id)
        ).first()
        if row is None:
            return None
        rec = _record(row)
        window = q.Window.ending(self.as_of, RISK_WINDOW_DAYS)
        sig = customer_signals.c
        rows = self.conn.execute(
            select(sig.signal_type, sig.strength, sig.detected_on).where(
                sig.customer_id == customer_id, window.dates(sig.detected_on)
            )
        )
        rec.signals = sorted(
            ((str(t), float(s), q.as_date(d)) for t, s, d in rows), key=lambda s: (s[2], s[0], s[1])
        )
        return rec

    def segments_of(self, customer_id: str) -> list[str]:
        row = self.conn.execute(
            select(*(_FLAG[s] for s in SEGMENT_DEFINITIONS)).where(
                cf.c.as_of == self.as_of, cf.c.customer_id == customer_id
            )
        ).first()
        return [s for s, flag in zip(SEGMENT_DEFINITIONS, row or (), strict=False) if flag]

    def mrr_cents_of(self, customer_ids: Iterable[str]) -> int:
        ids = sorted(set(customer_ids))
        if not ids:
            return 0
        stmt = select(func.coalesce(func.sum(cf.c.mrr_cents), 0)).where(
            cf.c.as_of == self.as_of, cf.c.customer_id.in_(bindparam("ids", expanding=True))
        )
        return int(self.conn.execute(stmt, {"ids": ids}).scalar_one())


def fact_dates(conn: Connection) -> set[dt.date]:
    """Dates with materialised customer facts."""
    return {q.as_date(d) for (d,) in conn.execute(select(segment_facts.c.as_of).distinct())}


def drop_facts(conn: Connection, as_of: dt.date | None = None) -> None:
    """Delete materialised facts of one date (all dates when None)."""
    for table in FACT_TABLES:
        stmt = delete(table)
        if as_of is not None:
            stmt = stmt.where(table.c.as_of == as_of)
        conn.execute(stmt)


def fill_last_orders(conn: Connection) -> None:
    """Set every stored customer's last charged order on or before its facts' date (facts stored
    before the column existed), with the same rule as the frame (:func:`oq.order_span`)."""
    o = orders.c
    last = (
        select(func.max(o.ordered_on))
        .where(o.customer_id == cf.c.customer_id, o.ordered_on <= cf.c.as_of, o.status.in_(oq.CHARGED))
        .scalar_subquery()
    )
    conn.execute(update(cf).values(last_order_on=last))


def materialize_facts(conn: Connection, as_of: dt.date) -> int:
    """Compute the customer facts at ``as_of`` from the base tables and store them (replacing any).

    Runs inside the caller's transaction and writes with :func:`bulk_insert_columns`. Returns the
    number of customers stored.
    """
    frame = CustomerFrame(conn, as_of)
    records = sorted(frame.records.values(), key=lambda r: r.customer_id)
    members = {s: {r.customer_id for r in frame.segment(s)} for s in SEGMENT_DEFINITIONS}
    columns: dict[str, list[Any]] = {"as_of": [as_of] * len(records)}
    for name in ("customer_id", "name", "created_on", "status", "plan", "mrr_cents", "started_on",
                 "last_started_on", "cancelled_on", "cancel_reason", "ltv_cents", "risk", "last_order_on"):
        columns[name] = [getattr(r, name) for r in records]
    for flag, segment in (("high_value", "high_value"), ("at_risk", "at_risk"), ("is_new", "new"), ("churned", "churned")):
        inside = members[segment]
        columns[flag] = [r.customer_id in inside for r in records]
    for name, key in ORDERS.items():
        rank = [0] * len(records)
        for position, index in enumerate(sorted(range(len(records)), key=lambda i: key(records[i]))):
            rank[index] = position
        columns[f"rank_{name}"] = rank
    seg_rows, signal_rows = [], []
    for name in FILTERS:
        stats = frame.segment_stats(name)
        seg_rows.append(
            {
                "as_of": as_of,
                "segment": name,
                "size": stats.size,
                "ltv_cents": stats.ltv_cents,
                "mrr_cents": stats.mrr_cents,
                "risk_sum": stats.risk_sum,
                "tenure_days": stats.tenure_days,
            }
        )
        signal_rows += [
            {"as_of": as_of, "segment": name, "signal_type": t, "count": n} for t, n in stats.signals
        ]
    drop_facts(conn, as_of)
    bulk_insert_columns(conn, customer_facts, columns)
    bulk_insert(conn, segment_facts, seg_rows)
    bulk_insert(conn, segment_signal_facts, signal_rows)
    return len(records)
