"""Interventions of the universal core, their status machine, and exposures within their caps.

Status moves only along :data:`TRANSITIONS`: draft -> approved -> active <-> paused -> completed
(completed is final). Any other move raises :class:`InvalidArgumentError` naming the legal ones;
the update is conditional on the status read, so two concurrent callers cannot both move it.
An exposure needs an active intervention and respects its cap per entity
(``max_exposures_per_entity``) and spacing (``min_days_between_exposures``).

Example:
    >>> import datetime as dt
    >>> from app.storage.ops import OpsStore
    >>> store = OpsStore.in_memory()
    >>> at = dt.datetime(2025, 3, 1)
    >>> with store.transaction() as conn:
    ...     iv = create_intervention(conn, InterventionIn(name="Win back", type="campaign", channels=["email"]), at)
    ...     set_status(conn, iv, "approved", at)
    'approved'
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from app.errors import InvalidArgumentError
from app.storage.ops import inserted_id
from app.storage.ops_core import core_entities, core_exposures, core_interventions

__all__ = ["STATUSES", "TRANSITIONS", "InterventionIn", "create_intervention", "set_status", "record_exposure"]

STATUSES = ("draft", "approved", "active", "paused", "completed")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("approved",),
    "approved": ("active",),
    "active": ("paused", "completed"),
    "paused": ("active", "completed"),
    "completed": (),
}
"""Status -> the statuses it may move to."""

Channel = Literal["email", "sms", "push", "mail", "call", "display"]


class InterventionIn(BaseModel):
    """A new intervention (it starts as a draft)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=255)
    type: Literal["campaign", "trigger", "test", "policy"]
    category: Literal["acquisition", "retention", "upsell", "winback"] | None = None
    channels: list[Channel] = Field(min_length=1)
    primary_channel: Channel | None = None
    content_template: str | None = None
    target_segments: list[str] | None = None
    inclusion_criteria: dict[str, Any] | None = None
    exclusion_criteria: dict[str, Any] | None = None
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    schedule_type: Literal["immediate", "scheduled", "triggered", "recurring"] | None = None
    schedule_details: dict[str, Any] | None = None
    budget_cents: int | None = Field(default=None, ge=0)
    max_exposures_per_entity: int | None = Field(default=None, ge=1)
    min_days_between_exposures: int | None = Field(default=None, ge=0)
    offer_details: dict[str, Any] | None = None
    compliance_flags: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    created_by: str = Field(default="library", min_length=1, max_length=255)

    @model_validator(mode="after")
    def _consistent(self) -> InterventionIn:
        if self.primary_channel is not None and self.primary_channel not in self.channels:
            raise ValueError(f"primary_channel {self.primary_channel!r} is not one of channels {self.channels}")
        if self.start_at and self.end_at and self.end_at < self.start_at:
            raise ValueError("end_at is before start_at")
        return self


def create_intervention(conn: Connection, intervention: InterventionIn, now: dt.datetime) -> int:
    """Insert ``intervention`` as a draft; returns its id."""
    values = intervention.model_dump() | {"status": "draft", "status_changed_at": now, "created_at": now}
    return inserted_id(conn.execute(insert(core_interventions).values(**values)))


def _status(conn: Connection, intervention_id: int) -> str:
    status = conn.execute(
        select(core_interventions.c.status).where(core_interventions.c.intervention_id == intervention_id)
    ).scalar()
    if status is None:
        raise InvalidArgumentError(f"no intervention {intervention_id}")
    return str(status)


def set_status(conn: Connection, intervention_id: int, status: str, now: dt.datetime) -> str:
    """Move an intervention to ``status``; an illegal move raises :class:`InvalidArgumentError` naming the legal ones."""
    if status not in STATUSES:
        raise InvalidArgumentError(f"unknown status {status!r}; statuses: {', '.join(STATUSES)}")
    current = _status(conn, intervention_id)
    legal = TRANSITIONS[current]
    if status not in legal:
        allowed = ", ".join(legal) if legal else "none (completed is final)"
        raise InvalidArgumentError(
            f"intervention {intervention_id} cannot move from {current} to {status}; from {current} it may move to: {allowed}"
        )
    t = core_interventions
    moved = conn.execute(
        update(t).where(t.c.intervention_id == intervention_id, t.c.status == current)
        .values(status=status, status_changed_at=now)
    ).rowcount
    if moved != 1:  # another caller moved it between the read and the update
        raise InvalidArgumentError(f"intervention {intervention_id} changed status meanwhile; read it again")
    return status


def record_exposure(
    conn: Connection, *, entity_id: int, intervention_id: int, channel: str, at: dt.datetime,
    delivery_status: Literal["sent", "delivered", "bounced", "blocked"] = "sent", cost_micros: int | None = None,
    creative_variant: str | None = None, context: dict[str, Any] | None = None,
) -> int:
    """Record that ``entity_id`` was exposed to an active intervention; returns the exposure id.

    The exposure's number, days since the entity's previous exposure to the intervention and its
    exposures to any intervention before are computed here.

    Raises:
        InvalidArgumentError: the intervention is not active, the channel is not one of its channels,
            the entity does not exist, or the cap or spacing would be broken.
    """
    iv = conn.execute(select(core_interventions).where(core_interventions.c.intervention_id == intervention_id)).mappings().first()
    if iv is None:
        raise InvalidArgumentError(f"no intervention {intervention_id}")
    if iv["status"] != "active":
        raise InvalidArgumentError(f"intervention {intervention_id} is {iv['status']}; only an active one exposes entities")
    if channel not in iv["channels"]:
        raise InvalidArgumentError(f"channel {channel!r} is not one of intervention {intervention_id}'s: {', '.join(iv['channels'])}")
    if conn.execute(select(core_entities.c.entity_id).where(core_entities.c.entity_id == entity_id)).first() is None:
        raise InvalidArgumentError(f"no entity {entity_id}")
    e = core_exposures
    mine = (e.c.entity_id == entity_id) & (e.c.intervention_id == intervention_id)
    count, last = conn.execute(select(func.count(), func.max(e.c.exposed_at)).where(mine)).one()
    cap, spacing = iv["max_exposures_per_entity"], iv["min_days_between_exposures"]
    if cap is not None and count >= cap:
        raise InvalidArgumentError(f"entity {entity_id} has had {count} exposure(s) to intervention {intervention_id}, its cap")
    days = (at.date() - last.date()).days if last is not None else None
    if spacing is not None and days is not None and days < spacing:
        raise InvalidArgumentError(
            f"entity {entity_id} was exposed {days} day(s) ago; intervention {intervention_id} needs {spacing} between exposures"
        )
    before = conn.execute(select(func.count()).where(e.c.entity_id == entity_id, e.c.exposed_at < at)).scalar() or 0
    return inserted_id(conn.execute(insert(e).values(
        entity_id=entity_id, intervention_id=intervention_id, channel=channel, exposed_at=at,
        delivery_status=delivery_status, cost_micros=cost_micros, creative_variant=creative_variant, context=context,
        exposure_number=count + 1, days_since_last_exposure=days, total_previous_exposures=before,
    )))
