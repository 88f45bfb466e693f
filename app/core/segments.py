"""Segments of the universal core: sizes, their history and trait distributions, from the entities.

:func:`refresh_segments` recomputes every segment that entities of an industry name: its current
size, the average lifetime value, the distribution of lifecycle stages (``trait_distributions``)
and one ``{at, size}`` entry in ``size_history`` per day it was refreshed (a second refresh on the
same day replaces that day's entry). A segment not yet defined is created as ``imported``, owned
by the industry (``industry_metrics.industry``); another industry's entities cannot reuse its id.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from app.errors import InvalidArgumentError
from app.storage.ops_core import core_entities, core_segments

__all__ = ["refresh_segments"]


def refresh_segments(conn: Connection, industry: str, *, at: dt.date, now: dt.datetime) -> int:
    """Recompute the segments named by ``industry``'s entities as of ``at``; returns how many."""
    e = core_entities
    rows = conn.execute(
        select(e.c.segment_id, e.c.lifecycle_stage, e.c.lifetime_value_cents)
        .where(e.c.industry == industry, e.c.segment_id.is_not(None))
    ).all()
    stages: dict[str, Counter[str]] = defaultdict(Counter)
    values: dict[str, list[int]] = defaultdict(list)
    for segment, stage, value in rows:
        stages[segment][stage or "unknown"] += 1
        if value is not None:
            values[segment].append(int(value))
    s = core_segments
    existing = {}
    for r in conn.execute(select(s.c.segment_id, s.c.size_history, s.c.industry_metrics).where(s.c.segment_id.in_(list(stages)))):
        owner = (r.industry_metrics or {}).get("industry", industry)
        if owner != industry:
            raise InvalidArgumentError(
                f"segment {r.segment_id!r} belongs to the {owner} industry; segment ids are shared by every industry of "
                f"an operations store, so {industry} entities need another segment id"
            )
        existing[r.segment_id] = r.size_history
    for segment, counts in sorted(stages.items()):
        size = sum(counts.values())
        entry = {"at": at.isoformat(), "size": size}
        avg = round(sum(values[segment]) / len(values[segment])) if values[segment] else None
        traits = {"lifecycle_stage": {k: round(v / size, 4) for k, v in sorted(counts.items())}}
        if segment in existing:
            history = [h for h in existing[segment] or [] if h.get("at") != entry["at"]] + [entry]
            history.sort(key=lambda h: h["at"])
            conn.execute(update(s).where(s.c.segment_id == segment).values(
                current_size=size, size_history=history, avg_lifetime_value_cents=avg, trait_distributions=traits,
                updated_at=now))
        else:
            conn.execute(insert(s).values(
                segment_id=segment, name=segment.replace("_", " "), definition_type="imported", current_size=size,
                size_history=[entry], avg_lifetime_value_cents=avg, trait_distributions=traits,
                industry_metrics={"industry": industry}, created_at=now, updated_at=now, is_active=True))
    return len(stages)
