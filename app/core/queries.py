"""Reading the universal core: entities by their JSON attributes, and the lineage of a row.

Attribute filters compile to ``attributes ->> 'key'`` on PostgreSQL (JSONB, GIN-indexed) and to
JSON1's ``json_extract(attributes, '$."key"')`` on SQLite; the results are the same on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from app.storage.ops_core import core_entities, core_lineage

__all__ = ["find_entities", "lineage_of"]


def _matches(column: Any, key: str, value: Any) -> ColumnElement[bool]:
    item = column[key]
    if isinstance(value, bool):
        return item.as_boolean() == value
    if isinstance(value, int | float):
        return item.as_float() == float(value)
    return item.as_string() == str(value)


def find_entities(
    conn: Connection, industry: str, *, attributes: dict[str, Any] | None = None,
    demographics: dict[str, Any] | None = None, segment_id: str | None = None,
) -> list[str]:
    """External ids of ``industry``'s entities whose JSON fields hold the given values, sorted."""
    e = core_entities
    stmt = select(e.c.external_id).where(e.c.industry == industry)
    for key, value in (attributes or {}).items():
        stmt = stmt.where(_matches(e.c.attributes, key, value))
    for key, value in (demographics or {}).items():
        stmt = stmt.where(_matches(e.c.demographics, key, value))
    if segment_id is not None:
        stmt = stmt.where(e.c.segment_id == segment_id)
    return sorted(conn.execute(stmt).scalars())


def lineage_of(conn: Connection, dest_table: str, dest_id: int | str) -> list[dict[str, Any]]:
    """The lineage rows of one core row (its source records and the runs that wrote it), oldest first."""
    lin = core_lineage
    rows = conn.execute(
        select(lin).where(lin.c.dest_table == dest_table, lin.c.dest_id == str(dest_id)).order_by(lin.c.lineage_id)
    ).mappings()
    return [dict(r) for r in rows]
