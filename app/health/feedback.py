"""Alert status and feedback in the operations store, and the feedback summaries.

Status moves forward only: open -> acknowledged -> in_progress -> resolved (a step may be skipped;
asking for the current status again changes nothing, so a retry is harmless). Feedback follows the
seed's four types; the latest feedback on an alert replaces the fields it gives.

Summaries per (alert type, severity): how many alerts got feedback, the precision CSMs report
(accurate = 1, somewhat_accurate = 0.5, inaccurate = 0, over the alerts rated), the relevant share,
the effective share and the mean priority rating.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from app.errors import InvalidArgumentError
from app.health.alerts import STATUSES
from app.storage.ops import alert_feedback, alert_status

__all__ = [
    "Accuracy",
    "Relevance",
    "Effectiveness",
    "AlertRef",
    "StatusChange",
    "FeedbackRecord",
    "FeedbackSummary",
    "set_status",
    "statuses",
    "record_feedback",
    "feedback_summary",
]

Accuracy = Literal["accurate", "somewhat_accurate", "inaccurate"]
Relevance = Literal["very_relevant", "relevant", "not_relevant"]
Effectiveness = Literal["very_effective", "effective", "not_effective"]
_ACCURACY_CREDIT = {"accurate": 1.0, "somewhat_accurate": 0.5, "inaccurate": 0.0}


class AlertRef(BaseModel):
    """Which alert: its id and what it was when raised."""

    alert_id: str
    day: dt.date
    customer_id: str
    alert_type: str
    severity: str


class StatusChange(BaseModel):
    """The outcome of a status change."""

    alert_id: str
    previous_status: str
    status: str
    assignee: str | None
    changed: bool = Field(description="False when the alert already had this status and assignee")

    def to_text(self) -> str:
        who = f", assigned to {self.assignee}" if self.assignee else ""
        if not self.changed:
            return f"Alert {self.alert_id} is {self.status}{who} already; nothing changed."
        return f"Alert {self.alert_id}: {self.previous_status} -> {self.status}{who}."


class FeedbackRecord(BaseModel):
    """The feedback now stored for an alert."""

    alert_id: str
    alert_type: str
    severity: str
    alert_accuracy: Accuracy | None = None
    alert_relevance: Relevance | None = None
    action_effectiveness: Effectiveness | None = None
    priority_rating: int | None = None
    comment: str | None = None
    replaced: bool = Field(description="True when earlier feedback on the alert was updated")

    def to_text(self) -> str:
        given = [f"{k} {v}" for k in ("alert_accuracy", "alert_relevance", "action_effectiveness", "priority_rating")
                 if (v := getattr(self, k)) is not None]  # fmt: skip
        verb = "updated" if self.replaced else "recorded"
        return f"Feedback on {self.alert_id} ({self.severity} {self.alert_type}) {verb}: " + ", ".join(given) + "."


class FeedbackSummary(BaseModel):
    """Feedback on the alerts of one type and severity."""

    alert_type: str
    severity: str
    alerts_with_feedback: int
    rated_accuracy: int
    precision: float | None = Field(description="accurate 1, somewhat 0.5, inaccurate 0, over the rated alerts")
    relevant_share: float | None
    effective_share: float | None
    mean_priority: float | None


def statuses(conn: Connection, ids: Iterable[str] | None = None, day: dt.date | None = None) -> dict[str, tuple[str, str | None]]:
    """alert id -> (status, assignee) of the alerts with a stored status (of a day, or given ids)."""
    a = alert_status.c
    stmt = select(a.alert_id, a.status, a.assignee)
    params = {}
    if ids is not None:
        stmt = stmt.where(a.alert_id.in_(bindparam("ids", expanding=True)))
        params["ids"] = sorted(set(ids))
        if not params["ids"]:
            return {}
    if day is not None:
        stmt = stmt.where(a.day == day)
    return {str(i): (str(st), who) for i, st, who in conn.execute(stmt, params)}


def set_status(conn: Connection, ref: AlertRef, status: str, assignee: str | None, *, now: dt.datetime,
               actor: str) -> StatusChange:  # fmt: skip
    """Move an alert to ``status`` (and assign it when ``assignee`` is given).

    Raises:
        InvalidArgumentError: an unknown status, or one before the alert's current status.
    """
    if status not in STATUSES[1:]:
        raise InvalidArgumentError(f"status {status!r} is not one of {', '.join(STATUSES[1:])}")
    current = statuses(conn, [ref.alert_id]).get(ref.alert_id)
    before, who = current if current else ("open", None)
    if STATUSES.index(status) < STATUSES.index(before):
        raise InvalidArgumentError(
            f"alert {ref.alert_id} is {before} already; statuses move forward only ({' -> '.join(STATUSES)})"
        )
    new_assignee = assignee if assignee is not None else who
    changed = (status, new_assignee) != (before, who)
    values = {"status": status, "assignee": new_assignee, "updated_at": now, "updated_by": actor}
    if current is None:
        conn.execute(alert_status.insert().values(**ref.model_dump(), **values))
    elif changed:
        conn.execute(update(alert_status).where(alert_status.c.alert_id == ref.alert_id).values(**values))
    return StatusChange(alert_id=ref.alert_id, previous_status=before, status=status, assignee=new_assignee,
                        changed=changed)  # fmt: skip


_FEEDBACK_FIELDS = ("alert_accuracy", "alert_relevance", "action_effectiveness", "priority_rating", "comment")


def record_feedback(conn: Connection, ref: AlertRef, given: dict[str, object], *, now: dt.datetime,
                    actor: str) -> FeedbackRecord:  # fmt: skip
    """Store the given feedback fields of an alert (keeping the others of earlier feedback).

    Raises:
        InvalidArgumentError: none of the four feedback types given.
    """
    fields = {k: v for k, v in given.items() if k in _FEEDBACK_FIELDS and v is not None}
    if not set(fields) - {"comment"}:
        raise InvalidArgumentError(
            "give at least one feedback: alert_accuracy, alert_relevance, action_effectiveness or priority_rating"
        )
    f = alert_feedback.c
    old = conn.execute(select(alert_feedback).where(f.alert_id == ref.alert_id)).mappings().first()
    stamp = {"recorded_at": now, "recorded_by": actor}
    if old is None:
        conn.execute(alert_feedback.insert().values(**ref.model_dump(), **fields, **stamp))
        merged = fields
    else:
        conn.execute(update(alert_feedback).where(f.alert_id == ref.alert_id).values(**fields, **stamp))
        merged = {k: old[k] for k in _FEEDBACK_FIELDS} | fields
    return FeedbackRecord(alert_id=ref.alert_id, alert_type=ref.alert_type, severity=ref.severity,
                          replaced=old is not None, **merged)  # fmt: skip


def _share(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def feedback_summary(conn: Connection) -> list[FeedbackSummary]:
    """Feedback per (alert type, severity), in type then severity order of the stored rows."""
    f = alert_feedback.c
    groups: dict[tuple[str, str], list] = {}
    for row in conn.execute(
        select(f.alert_type, f.severity, f.alert_accuracy, f.alert_relevance, f.action_effectiveness, f.priority_rating)
        .order_by(f.alert_type, f.severity, f.alert_id)
    ):  # fmt: skip
        groups.setdefault((str(row[0]), str(row[1])), []).append(row)
    out = []
    for (kind, severity), rows in sorted(groups.items()):
        rated = [r[2] for r in rows if r[2] is not None]
        relevance = [r[3] for r in rows if r[3] is not None]
        effect = [r[4] for r in rows if r[4] is not None]
        priority = [int(r[5]) for r in rows if r[5] is not None]
        out.append(FeedbackSummary(
            alert_type=kind,
            severity=severity,
            alerts_with_feedback=len(rows),
            rated_accuracy=len(rated),
            precision=round(sum(_ACCURACY_CREDIT[a] for a in rated) / len(rated), 4) if rated else None,
            relevant_share=_share(sum(v != "not_relevant" for v in relevance), len(relevance)),
            effective_share=_share(sum(v != "not_effective" for v in effect), len(effect)),
            mean_priority=round(sum(priority) / len(priority), 2) if priority else None,
        ))  # fmt: skip
    return out
