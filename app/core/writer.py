"""Writing entities and outcomes to the universal core, each with its lineage, inside one import run.

A :class:`CoreWriter` works on one transaction of the operations store: it opens an import run
(``core_import_runs``), upserts entities by their identity (industry, entity type, external id),
replaces the outcomes a source record produced before (found through ``core_lineage``) and writes
one lineage row per (source record, destination row). Attributes are validated against the
industry's JSON Schema and outcome types against its list before anything is written.

Example:
    >>> import datetime as dt
    >>> from app.storage.ops import OpsStore
    >>> from app.core.records import EntityIn, SourceRef
    >>> store = OpsStore.in_memory()
    >>> with store.transaction() as conn:
    ...     w = CoreWriter.start(conn, "retail", template="manual", source_system="crm", source="crm.csv",
    ...                          as_of=dt.date(2025, 1, 31), now=dt.datetime(2025, 2, 1))
    ...     ids = w.write_entities([(EntityIn(entity_type="individual", external_id="C1"), [SourceRef(system="crm", table="people", record_id="C1")])])
    ...     w.finish(read=1, rejected=0)
    >>> ids
    [1]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.engine import Connection

from app.core.industries import Industry, get_industry
from app.core.records import EntityIn, OutcomeIn, SourceRef
from app.storage.ops import inserted_id
from app.storage.ops_core import core_entities, core_import_runs, core_lineage, core_outcomes

__all__ = ["CoreWriter", "CHUNK"]

CHUNK = 500
"""Rows per statement (bounded IN lists and parameter counts on every backend)."""


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass
class CoreWriter:
    """Writes one import run's rows on ``conn`` (a transaction of the operations store)."""

    conn: Connection
    industry: Industry
    run_id: int
    transformation: str
    now: dt.datetime
    imported: int = 0

    @classmethod
    def start(
        cls, conn: Connection, industry: str, *, template: str, source_system: str, source: str,
        as_of: dt.date, now: dt.datetime,
    ) -> CoreWriter:
        """Open an import run; an unknown ``industry`` raises an error listing the known ones."""
        ind = get_industry(industry)
        run_id = inserted_id(conn.execute(insert(core_import_runs).values(
            template=template, industry=ind.name, source_system=source_system, source=source[:500], as_of=as_of,
            started_at=now, records_read=0, records_imported=0, records_rejected=0,
        )))
        return cls(conn, ind, run_id, template, now)

    def finish(self, *, read: int, rejected: int) -> None:
        """Record the run's counts (records read, imported, rejected) and its end."""
        self.conn.execute(update(core_import_runs).where(core_import_runs.c.run_id == self.run_id).values(
            finished_at=self.now, records_read=read, records_imported=self.imported, records_rejected=rejected,
        ))

    def write_entities(self, rows: Sequence[tuple[EntityIn, Sequence[SourceRef]]]) -> list[int]:
        """Insert or update entities (matched on entity type and external id); returns their ids in order.

        Raises:
            InvalidArgumentError: an entity's attributes do not follow the industry's schema.
        """
        for entity, _ in rows:
            self.industry.check_attributes(entity.attributes)
        ids: list[int] = []
        t = core_entities
        for chunk in _chunks(rows):
            keys = [(e.entity_type, e.external_id) for e, _ in chunk]
            found = {
                (r.entity_type, r.external_id): r.entity_id
                for r in self.conn.execute(
                    select(t.c.entity_id, t.c.entity_type, t.c.external_id).where(
                        t.c.industry == self.industry.name, tuple_(t.c.entity_type, t.c.external_id).in_(keys)
                    )
                )
            }
            fresh = [e.model_dump() | {"industry": self.industry.name, "created_at": self.now, "updated_at": self.now}
                     for e in (e for e, _ in chunk) if (e.entity_type, e.external_id) not in found]
            new_ids = iter(
                self.conn.execute(insert(t).returning(t.c.entity_id, sort_by_parameter_order=True), fresh).scalars().all()
                if fresh else []
            )
            for entity, _ in chunk:
                key = (entity.entity_type, entity.external_id)
                if key in found:
                    self.conn.execute(update(t).where(t.c.entity_id == found[key]).values(
                        **entity.model_dump(), updated_at=self.now))
                    ids.append(found[key])
                else:
                    ids.append(next(new_ids))
        self._lineage("core_entities", [(str(i), refs) for i, (_, refs) in zip(ids, rows, strict=True)])
        self.imported += len(rows)
        return ids

    def forget_outcomes(self, sources: Sequence[SourceRef]) -> int:
        """Delete the outcomes earlier runs derived from ``sources`` (a re-import replaces them); returns how many."""
        lin = core_lineage
        by_table: dict[tuple[str, str], list[str]] = {}
        for s in sources:
            by_table.setdefault((s.system, s.table), []).append(s.record_id)
        gone = 0
        for (system, table), record_ids in by_table.items():
            for chunk in _chunks(record_ids):
                ids = [int(x) for x in self.conn.execute(select(lin.c.dest_id).where(
                    lin.c.dest_table == "core_outcomes", lin.c.source_system == system, lin.c.source_table == table,
                    lin.c.source_record_id.in_(chunk))).scalars()]
                for part in _chunks(ids):
                    gone += self.conn.execute(delete(core_outcomes).where(core_outcomes.c.outcome_id.in_(part))).rowcount or 0
        return gone

    def write_outcomes(self, rows: Sequence[tuple[int, OutcomeIn, SourceRef]]) -> list[int]:
        """Insert outcomes of entity ids; returns their ids in order.

        Raises:
            InvalidArgumentError: an outcome type the industry does not have.
        """
        for _, outcome, _ in rows:
            self.industry.check_outcome_type(outcome.outcome_type)
        t = core_outcomes
        ids: list[int] = []
        for chunk in _chunks(rows):
            values = [o.model_dump() | {"entity_id": entity_id} for entity_id, o, _ in chunk]
            ids += self.conn.execute(insert(t).returning(t.c.outcome_id, sort_by_parameter_order=True), values).scalars().all()
        self._lineage("core_outcomes", [(str(i), [ref]) for i, (_, _, ref) in zip(ids, rows, strict=True)])
        return ids

    def _lineage(self, dest_table: str, rows: Sequence[tuple[str, Sequence[SourceRef]]]) -> None:
        values = [
            {"source_system": ref.system, "source_table": ref.table, "source_record_id": ref.record_id,
             "dest_table": dest_table, "dest_id": dest_id, "run_id": self.run_id,
             "transformation": self.transformation, "processed_at": self.now}
            for dest_id, refs in rows for ref in refs
        ]
        for chunk in _chunks(values):
            self.conn.execute(insert(core_lineage), list(chunk))
