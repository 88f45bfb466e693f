"""The operations store: where actions write, with its own migrations and an audit trail.

Source tables (a generated world or an imported export) are never written by an action. Actions
write here instead: a writable SQLite file or PostgreSQL schema named by the user, or, for a
generated world, the DataAgent's embedded database (the ``ops_`` tables beside the world's).

Every action call leaves one row in ``ops_action_audit`` (what, arguments, when, result, status,
duration, approval), also when it fails or is declined. A succeeded call is unique per
(action, day, idempotency key): the effect and its audit row commit in one transaction, so a
retried call finds the first one and never runs twice.

Example:
    >>> store = OpsStore.in_memory()
    >>> store.version == OPS_MIGRATIONS[-1].version
    True
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy.engine import URL, Connection, CursorResult, Engine
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ProviderError
from app.storage.loader import memory_engine
from app.storage.migrations import version_table
from app.storage.ops_core import CORE_TABLES
from app.storage.ops_experiments import calibration_history, simulation_runs
from app.storage.ops_keys import api_keys
from app.storage.ops_loop import (
    intervention_outcomes,
    interventions,
    journey_state_log,
    orchestrator_runs,
    playbook_performance_log,
    playbook_status,
    portfolio_snapshots,
)
from app.storage.ops_meta import ops_metadata
from app.storage.ops_privacy import PRIVACY_TABLES
from app.storage.url import connection_error, make_engine, mask_url

__all__ = [
    "OpsStore",
    "AuditRow",
    "inserted_id",
    "ops_metadata",
    "action_audit",
    "notes",
    "customer_priority",
    "customer_priority_runs",
    "runs_log",
    "alert_status",
    "alert_feedback",
    "OPS_MIGRATIONS",
]

ops_schema_version = version_table("ops_schema_version", ops_metadata)

action_audit = Table(
    "ops_action_audit",
    ops_metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(64), nullable=False),
    Column("day", Date, nullable=False, doc="the business date the action was taken for"),
    Column("idempotency_key", Text, nullable=False),
    Column("arguments", Text, nullable=False, doc="JSON"),
    Column("status", String(16), nullable=False, doc="succeeded | failed | declined | duplicate"),
    Column("approval", String(16), nullable=False, doc="not_required | approved | declined"),
    Column("actor", String(64), nullable=False, doc="who asked: cj, cli, mcp, a library caller"),
    Column("conversation", String(200), nullable=True),
    Column("result", Text, nullable=True, doc="JSON of the result (succeeded and duplicate)"),
    Column("error", Text, nullable=True),
    Column("requested_at", DateTime, nullable=False, doc="the caller's clock (simulation clock in a generated world)"),
    Column("duration_ms", Integer, nullable=False),
    Column("original_audit_id", Integer, nullable=True, doc="for a duplicate: the call that did the work"),
)
# The database itself allows one succeeded execution per (action, day, key), even for concurrent
# callers; failed, declined and duplicate calls may repeat.
_succeeded = action_audit.c.status == "succeeded"
Index(
    "ops_action_audit_once",
    action_audit.c.action,
    action_audit.c.day,
    action_audit.c.idempotency_key,
    unique=True,
    sqlite_where=_succeeded,
    postgresql_where=_succeeded,
)

notes = Table(
    "ops_notes",
    ops_metadata,
    Column("note_id", Integer, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("customer_id", String(32), nullable=True),
    Column("note", Text, nullable=False),
    Column("follow_up_on", Date, nullable=True),
    Column("created_by", String(64), nullable=False),
)

customer_priority = Table(
    "customer_priority",
    ops_metadata,
    Column("run_date", Date, primary_key=True),
    Column("customer_id", String(32), primary_key=True),
    Column("retention_status", String(16), nullable=False, doc="ACTIVE | AT_RISK | INACTIVE"),
    Column("churn_risk_level", String(8), nullable=False, doc="HIGH | MEDIUM | LOW"),
    Column("churn_risk_score", Integer, nullable=False, doc="0-70"),
    Column("is_frequency_drop", Boolean, nullable=False),
    Column("is_status_inconsistent", Boolean, nullable=False),
    Column("is_value_drop", Boolean, nullable=False),
    Column("priority_tier", String(2), nullable=False, doc="P1 | P2 | P3"),
    Column("priority_score", Float, nullable=False, doc="0-100, one decimal"),
    Column("priority_reason", Text, nullable=False),
    Column("days_since_last_order", Integer, nullable=False),
    Column("last_order_date", Date, nullable=False),
    Column("total_revenue_cents", BigInteger, nullable=False, doc="minor units, net of refunds"),
    Column("total_orders", Integer, nullable=False),
    Column("avg_order_value_cents", BigInteger, nullable=False, doc="minor units, rounded"),
    Column("value_proxy_cents", BigInteger, nullable=False, doc="paid amounts of the last 365 days, minor units"),
    Column("currency", String(3), nullable=False),
    Column("recommended_action", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("customer_priority_queue", "run_date", "priority_tier", "priority_score"),
)
"""The P1/P2/P3 queue of each run date (written by ``build_priority_queue``; the source tables never)."""

customer_priority_runs = Table(
    "customer_priority_runs",
    ops_metadata,
    Column("run_date", Date, primary_key=True),
    Column("population", Integer, nullable=False),
    Column("p1_count", Integer, nullable=False),
    Column("p2_count", Integer, nullable=False),
    Column("p3_count", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("built_at", DateTime, nullable=False),
)
"""One row per built run date: tells an empty tier from a queue never built."""


runs_log = Table(
    "ops_runs_log",
    ops_metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("run_date", Date, nullable=False, doc="the alert date the run acted on"),
    Column("idempotency_key", String(200), nullable=False, doc="sent with every webhook POST of this run date"),
    Column("status", String(16), nullable=False, doc="running | success | failed | skipped"),
    Column("started_at", DateTime, nullable=False, doc="the caller's clock"),
    Column("finished_at", DateTime, nullable=True),
    Column("actor", String(64), nullable=False),
    Column("host", String(255), nullable=False, doc="with pid: tells a live run from one killed mid-way"),
    Column("pid", Integer, nullable=False),
    Column("severity", String(16), nullable=True),
    Column("alert_flag", Boolean, nullable=True),
    Column("current_value", Float, nullable=True),
    Column("baseline_value", Float, nullable=True),
    Column("delta_relative_pct", Float, nullable=True),
    Column("sample_size", Integer, nullable=True),
    Column("escalation", Boolean, nullable=True, doc="CRITICAL: mention the channel, highest ticket priority"),
    Column("p1_count", Integer, nullable=True),
    Column("p2_count", Integer, nullable=True),
    Column("p3_count", Integer, nullable=True),
    Column("total_exported", Integer, nullable=True),
    Column("brief_path", Text, nullable=True),
    Column("export_p1_path", Text, nullable=True),
    Column("export_p2_path", Text, nullable=True),
    Column("export_p3_path", Text, nullable=True),
    Column("webhook_status", String(16), nullable=True, doc="shadow | delivered | failed (null: nothing to send)"),
    Column("webhook_attempts", Integer, nullable=True),
    Column("response_status", Integer, nullable=True),
    Column("outbox_path", Text, nullable=True),
    Column("error_message", Text, nullable=True),
    Column("execution_time_ms", Integer, nullable=True),
)
Index("ops_runs_log_by_date", runs_log.c.run_date, runs_log.c.run_id)


alert_status = Table(
    "ops_alert_status",
    ops_metadata,
    Column("alert_id", String(80), primary_key=True, doc="HA-<yyyymmdd>-<customer id>-<type>"),
    Column("day", Date, nullable=False, doc="the alert's date"),
    Column("customer_id", String(32), nullable=False),
    Column("alert_type", String(24), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("status", String(16), nullable=False, doc="acknowledged | in_progress | resolved (no row: open)"),
    Column("assignee", String(120), nullable=True),
    Column("updated_at", DateTime, nullable=False, doc="the caller's clock"),
    Column("updated_by", String(64), nullable=False),
    Index("ops_alert_status_by_day", "day", "status"),
)
"""Where a health alert stands (an alert without a row is open)."""

alert_feedback = Table(
    "ops_alert_feedback",
    ops_metadata,
    Column("alert_id", String(80), primary_key=True),
    Column("day", Date, nullable=False),
    Column("customer_id", String(32), nullable=False),
    Column("alert_type", String(24), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("alert_accuracy", String(20), nullable=True, doc="accurate | somewhat_accurate | inaccurate"),
    Column("alert_relevance", String(20), nullable=True, doc="very_relevant | relevant | not_relevant"),
    Column("action_effectiveness", String(20), nullable=True, doc="very_effective | effective | not_effective"),
    Column("priority_rating", Integer, nullable=True, doc="1 (lowest) - 5 (highest)"),
    Column("comment", Text, nullable=True),
    Column("recorded_at", DateTime, nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Index("ops_alert_feedback_by_type", "alert_type", "severity"),
)
"""The latest feedback on each health alert (a later call replaces the fields it gives)."""


@dataclass(frozen=True)
class _Migration:
    version: int
    description: str
    tables: tuple[Table, ...]


OPS_MIGRATIONS: tuple[_Migration, ...] = (
    _Migration(1, "action audit trail and notes", (action_audit, notes)),
    _Migration(
        2, "retention priority queue: customer_priority and its run dates", (customer_priority, customer_priority_runs)
    ),
    _Migration(3, "retention playbook run log", (runs_log,)),
    _Migration(4, "health alert status and feedback", (alert_status, alert_feedback)),
    _Migration(
        5,
        "closed loop: orchestrator runs, journey state log, interventions, outcomes, playbook performance, "
        "playbook status, portfolio snapshots",
        (orchestrator_runs, journey_state_log, interventions, intervention_outcomes, playbook_performance_log,
         playbook_status, portfolio_snapshots),
    ),
    _Migration(6, "simulated experiments: simulation runs and calibration history", (simulation_runs, calibration_history)),
    _Migration(7, "universal core: entities, interventions, exposures, outcomes, segments, import runs, lineage", CORE_TABLES),
    _Migration(8, "privacy requests: access, deletion, correction, portability", PRIVACY_TABLES),
    _Migration(9, "API keys of the MCP HTTP transport", (api_keys,)),
)
"""Append-only: a new table or column is a new migration, never an edit of an applied one."""


@dataclass(frozen=True)
class AuditRow:
    """One audited action call."""

    audit_id: int
    action: str
    day: dt.date
    idempotency_key: str
    arguments: dict[str, Any]
    status: str
    approval: str
    actor: str
    conversation: str | None
    result: Any
    error: str | None
    requested_at: dt.datetime
    duration_ms: int
    original_audit_id: int | None


class OpsStore:
    """A writable operations store over one engine; :meth:`setup` applies its migrations.

    Args:
        engine: a writable engine; never the read-only source connection of a production provider.
        display: how to name the store in messages (a masked URL).
    """

    def __init__(self, engine: Engine, display: str = "embedded") -> None:
        self.engine = engine
        self.display = display
        self.setup()

    @classmethod
    def from_url(cls, url: str | URL) -> OpsStore:
        """Open (and migrate) the store at ``url``: a SQLite path/URL or a PostgreSQL URL."""
        engine = make_engine(url, read_only=False)
        try:
            return cls(engine, mask_url(url))
        except SQLAlchemyError as exc:
            raise connection_error(exc, url) from None

    @classmethod
    def in_memory(cls) -> OpsStore:
        """A private in-memory store (tests, one-off runs)."""
        return cls(memory_engine(), "in-memory")

    @property
    def version(self) -> int:
        """The highest applied migration."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(ops_schema_version.c.version))).scalar() or 0)

    def setup(self) -> None:
        """Apply the migrations not applied yet (idempotent)."""
        try:
            with self.engine.begin() as conn:
                ops_schema_version.create(conn, checkfirst=True)
                done = set(conn.execute(select(ops_schema_version.c.version)).scalars())
                for m in OPS_MIGRATIONS:
                    if m.version in done:
                        continue
                    for table in m.tables:
                        table.create(conn, checkfirst=True)
                    conn.execute(
                        insert(ops_schema_version).values(
                            version=m.version, description=m.description, applied_at=dt.datetime.now(dt.UTC)
                        )
                    )
        except SQLAlchemyError as exc:
            raise ProviderError(f"operations store {self.display}: cannot set up its tables ({exc.__class__.__name__}: "
                                f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}); give a writable database") from None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction on the store: an action's effect and its audit row commit together."""
        with self.engine.begin() as conn:
            yield conn

    def find_done(self, conn: Connection, action: str, day: dt.date, key: str) -> AuditRow | None:
        """The succeeded call of ``action`` for ``day`` and ``key``, if any."""
        row = conn.execute(
            select(action_audit)
            .where(
                action_audit.c.action == action,
                action_audit.c.day == day,
                action_audit.c.idempotency_key == key,
                action_audit.c.status == "succeeded",
            )
            .order_by(action_audit.c.audit_id)
            .limit(1)
        ).mappings().first()
        return _audit_row(row) if row else None

    def write_audit(self, conn: Connection, **values: Any) -> int:
        """Insert one audit row; returns its id."""
        values["arguments"] = json.dumps(values["arguments"], sort_keys=True)
        if values.get("result") is not None:
            values["result"] = json.dumps(values["result"], sort_keys=True, default=str)
        return inserted_id(conn.execute(insert(action_audit).values(**values)))

    def audit(self, action: str | None = None, status: str | None = None) -> list[AuditRow]:
        """Audit rows, oldest first, optionally of one action or status."""
        stmt = select(action_audit).order_by(action_audit.c.audit_id)
        if action:
            stmt = stmt.where(action_audit.c.action == action)
        if status:
            stmt = stmt.where(action_audit.c.status == status)
        with self.engine.connect() as conn:
            return [_audit_row(r) for r in conn.execute(stmt).mappings()]

    def read(self, query: Callable[[Connection], Any]) -> Any:
        """Run a read-only query function on a connection of the store."""
        with self.engine.connect() as conn:
            return query(conn)


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the one row an INSERT added."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every ops table has an integer primary key
        raise ProviderError("the operations store did not return the new row's id")
    return int(key[0])


def _audit_row(row: Any) -> AuditRow:
    day = row["day"]
    at = row["requested_at"]
    return AuditRow(
        audit_id=row["audit_id"],
        action=row["action"],
        day=day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)),
        idempotency_key=row["idempotency_key"],
        arguments=json.loads(row["arguments"]),
        status=row["status"],
        approval=row["approval"],
        actor=row["actor"],
        conversation=row["conversation"],
        result=json.loads(row["result"]) if row["result"] is not None else None,
        error=row["error"],
        requested_at=at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at)),
        duration_ms=row["duration_ms"],
        original_audit_id=row["original_audit_id"],
    )
