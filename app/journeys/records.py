"""Reading and writing the closed loop's rows in the operations store (:mod:`app.storage.ops_loop`).

The orchestrator and the actions (``launch_intervention``, ``approve_intervention``,
``override_intervention``) write interventions through these functions, so a row means the same
whoever wrote it. Money is in minor units.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from sqlalchemy import func as sa_func
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from app.errors import DataUnavailableError, InvalidArgumentError
from app.journeys.learning import Outcome, PerformanceRow, PortfolioSnapshot
from app.storage.ops_loop import (
    intervention_outcomes,
    interventions,
    orchestrator_runs,
    playbook_performance_log,
    playbook_status,
    portfolio_snapshots,
)
from app.storage.queries import as_date

__all__ = [
    "InterventionStatus",
    "InterventionRecord",
    "intervention_id",
    "insert_interventions",
    "read_interventions",
    "get_intervention",
    "decide_intervention",
    "insert_outcomes",
    "read_outcomes",
    "append_performance",
    "latest_performance",
    "retire_playbooks",
    "retired_playbooks",
    "write_snapshot",
    "read_snapshots",
    "latest_run",
]

InterventionStatus = Literal["recommended", "pending_approval", "launched", "overridden"]


@dataclass(frozen=True)
class InterventionRecord:
    """One intervention (``ops_interventions``): a playbook chosen for a customer on a day."""

    intervention_id: str
    run_id: int | None
    customer_id: str
    segment: str
    journey_stage: str
    playbook_id: str
    recommended_action: tuple[str, ...]
    confidence: float
    expected_cost_cents: int
    expected_value_cents: int
    requires_human_approval: bool
    triggered_by_signals: tuple[str, ...]
    evaluation_latency_ms: int
    generated_at: dt.date
    lands_on: dt.date
    status: InterventionStatus
    executed_action: tuple[str, ...] | None = None
    decided_by: str | None = None
    decision_note: str | None = None

    @property
    def human_override(self) -> bool:
        return self.status == "overridden"


def intervention_id(run_id: int | None, day: dt.date, customer_id: str, playbook_id: str) -> str:
    """``IV-<run id, or cj>-<yyyymmdd>-<customer>-<playbook>``: one playbook per customer and day."""
    return f"IV-{run_id if run_id is not None else 'cj'}-{day:%Y%m%d}-{customer_id}-{playbook_id}"


def _row(r: InterventionRecord) -> dict[str, Any]:
    d = asdict(r)
    d["recommended_action"] = ",".join(r.recommended_action)
    d["executed_action"] = ",".join(r.executed_action) if r.executed_action is not None else None
    d["triggered_by_signals"] = json.dumps(list(r.triggered_by_signals))
    return d


def _record(m: Any) -> InterventionRecord:
    executed = m["executed_action"]
    return InterventionRecord(
        intervention_id=m["intervention_id"], run_id=m["run_id"], customer_id=m["customer_id"],
        segment=m["segment"], journey_stage=m["journey_stage"], playbook_id=m["playbook_id"],
        recommended_action=tuple(m["recommended_action"].split(",")), confidence=m["confidence"],
        expected_cost_cents=m["expected_cost_cents"], expected_value_cents=m["expected_value_cents"],
        requires_human_approval=bool(m["requires_human_approval"]),
        triggered_by_signals=tuple(json.loads(m["triggered_by_signals"])),
        evaluation_latency_ms=m["evaluation_latency_ms"], generated_at=as_date(m["generated_at"]),
        lands_on=as_date(m["lands_on"]), status=m["status"],
        executed_action=None if executed is None else tuple(a for a in executed.split(",") if a),
        decided_by=m["decided_by"], decision_note=m["decision_note"],
    )  # fmt: skip


def _fields(m: Any, names: Iterable[str], date_field: str) -> dict[str, Any]:
    return {k: (as_date(m[k]) if k == date_field else m[k]) for k in names}


def insert_interventions(conn: Connection, records: Iterable[InterventionRecord]) -> int:
    """Insert new interventions; returns how many."""
    rows = [_row(r) for r in records]
    if rows:
        conn.execute(insert(interventions), rows)
    return len(rows)


def read_interventions(conn: Connection, run_id: int | None = None, *, launched_by_cj: bool = False,
                       customer_id: str | None = None, status: str | None = None) -> list[InterventionRecord]:  # fmt: skip
    """Interventions of a run (or, with ``launched_by_cj``, those without one), oldest first."""
    t = interventions.c
    stmt = select(interventions).order_by(t.generated_at, t.intervention_id)
    if launched_by_cj:
        stmt = stmt.where(t.run_id.is_(None))
    elif run_id is not None:
        stmt = stmt.where(t.run_id == run_id)
    if customer_id is not None:
        stmt = stmt.where(t.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(t.status == status)
    return [_record(m) for m in conn.execute(stmt).mappings()]


def get_intervention(conn: Connection, iv_id: str) -> InterventionRecord:
    """One intervention by id.

    Raises:
        DataUnavailableError: no such intervention.
    """
    m = conn.execute(select(interventions).where(interventions.c.intervention_id == iv_id)).mappings().first()
    if m is None:
        raise DataUnavailableError(f"no intervention {iv_id}; list them with the playbook_performance or "
                                   "customer_journey view")  # fmt: skip
    return _record(m)


def decide_intervention(conn: Connection, iv_id: str, decision: Literal["approve", "override"], *, by: str,
                        note: str | None = None, action: tuple[str, ...] | None = None) -> InterventionRecord:  # fmt: skip
    """Pass an intervention pending approval through the governance gate.

    ``approve`` launches the recommended actions; ``override`` launches ``action`` instead (none:
    nothing runs) and marks the intervention overridden.

    Raises:
        InvalidArgumentError: the intervention is not pending approval (decided once, never twice).
    """
    r = get_intervention(conn, iv_id)
    if r.status != "pending_approval":
        raise InvalidArgumentError(f"intervention {iv_id} is {r.status}, not pending approval; it was decided "
                                   f"{'by ' + r.decided_by if r.decided_by else 'already'}")  # fmt: skip
    if decision == "approve":
        new = replace(r, status="launched", executed_action=r.recommended_action, decided_by=by, decision_note=note)
    else:
        new = replace(r, status="overridden", executed_action=action or (), decided_by=by, decision_note=note)
    conn.execute(update(interventions).where(interventions.c.intervention_id == iv_id).values(
        status=new.status, executed_action=_row(new)["executed_action"], decided_by=by, decision_note=note))  # fmt: skip
    return new


def insert_outcomes(conn: Connection, run_id: int | None, outcomes: Iterable[Outcome],
                    extra: dict[str, dict[str, Any]] | None = None) -> int:  # fmt: skip
    """Insert measured outcomes; ``extra`` adds per intervention id the ``csat_delta`` (else null)."""
    rows = []
    for o in outcomes:
        d = asdict(o)
        d.update(run_id=run_id, playbook_success=o.playbook_success, csat_delta=None, **(extra or {}).get(
            o.intervention_id, {}))  # fmt: skip
        rows.append(d)
    if rows:
        conn.execute(insert(intervention_outcomes), rows)
    return len(rows)


def read_outcomes(conn: Connection, run_id: int | None = None) -> list[Outcome]:
    """Measured outcomes of a run (``None``: those measured outside any run), oldest first."""
    t = intervention_outcomes.c
    where = t.run_id.is_(None) if run_id is None else t.run_id == run_id
    rows = conn.execute(select(intervention_outcomes).where(where).order_by(t.measured_at, t.intervention_id))
    fields = Outcome.__dataclass_fields__
    return [Outcome(**_fields(m, fields, "measured_at")) for m in rows.mappings()]


def append_performance(conn: Connection, run_id: int, rows: list[PerformanceRow]) -> None:
    """Append a day's performance rows (one per playbook x segment) to the log."""
    if rows:
        conn.execute(insert(playbook_performance_log), [{"run_id": run_id, **asdict(r)} for r in rows])


def latest_performance(conn: Connection, run_id: int) -> list[PerformanceRow]:
    """Each playbook x segment's latest row of a run's log."""
    t = playbook_performance_log.c
    latest: dict[tuple[str, str], PerformanceRow] = {}
    fields = PerformanceRow.__dataclass_fields__
    for m in conn.execute(select(playbook_performance_log).where(t.run_id == run_id).order_by(t.last_updated)).mappings():
        row = PerformanceRow(**_fields(m, fields, "last_updated"))
        latest[(row.playbook_id, row.segment)] = row
    return [latest[k] for k in sorted(latest)]


def retire_playbooks(conn: Connection, run_id: int, playbook_ids: Iterable[str], day: dt.date, reason: str) -> None:
    """Record playbooks retired by a run's learning loop (once each)."""
    done = retired_playbooks(conn, run_id)
    rows = [{"run_id": run_id, "playbook_id": p, "status": "retired", "changed_on": day, "reason": reason}
            for p in playbook_ids if p not in done]  # fmt: skip
    if rows:
        conn.execute(insert(playbook_status), rows)


def retired_playbooks(conn: Connection, run_id: int) -> dict[str, dt.date]:
    """Playbook -> the day a run retired it."""
    t = playbook_status.c
    rows = conn.execute(select(t.playbook_id, t.changed_on).where(t.run_id == run_id, t.status == "retired"))
    return {p: as_date(d) for p, d in rows}


def write_snapshot(conn: Connection, run_id: int, s: PortfolioSnapshot) -> None:
    """Store a run's portfolio snapshot of a day."""
    d = asdict(s)
    d["top_playbooks"] = json.dumps(list(s.top_playbooks))
    conn.execute(insert(portfolio_snapshots).values(run_id=run_id, **d))


def read_snapshots(conn: Connection, run_id: int) -> list[PortfolioSnapshot]:
    """A run's snapshots, oldest first."""
    t = portfolio_snapshots.c
    out = []
    for m in conn.execute(select(portfolio_snapshots).where(t.run_id == run_id).order_by(t.generated_at)).mappings():
        out.append(PortfolioSnapshot(
            snapshot_id=m["snapshot_id"], total_customers=m["total_customers"],
            customers_at_high_risk=m["customers_at_high_risk"], revenue_at_risk_cents=m["revenue_at_risk_cents"],
            top_leaking_stage=m["top_leaking_stage"], top_playbooks=tuple(json.loads(m["top_playbooks"])),
            generated_at=as_date(m["generated_at"]),
        ))  # fmt: skip
    return out


def latest_run(conn: Connection) -> int | None:
    """The id of the most recent orchestrator run in the store, if any."""
    value = conn.execute(select(sa_func.max(orchestrator_runs.c.run_id))).scalar()
    return int(value) if value is not None else None
