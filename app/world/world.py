"""The generated world: table rows plus the dates that frame them, and snapshots at a date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.models import MerchantContext, Persona, Scenario

if TYPE_CHECKING:
    from app.world.fates import Fates
    from app.world.response import Intervention

__all__ = ["WorldSpec", "World", "Rows", "snapshot", "end_of_day"]

Rows = dict[str, list[dict[str, Any]]]
"""Table name -> rows (dicts keyed by the schema's column names)."""


def end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after ``day``: timestamps strictly before it belong to ``day`` or earlier."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())


@dataclass(frozen=True)
class WorldSpec:
    """Everything a world is a deterministic function of.

    Attributes:
        scenario: the business situation (rates by phase, timeline, expected ranges).
        persona: the merchant (plans, baseline size and rates).
        context: business stage and stress level.
        seed: random seed; the same spec always yields the same rows.
        subscribers: override of the persona's baseline subscriber count (for scaled worlds).
        history_days: simulated days up to and including ``as_of``.
        horizon_days: days simulated after ``as_of`` so the clock can advance without rewriting.
    """

    scenario: Scenario
    persona: Persona
    context: MerchantContext
    seed: int = 0
    subscribers: int | None = None
    history_days: int = 150
    horizon_days: int = 30


@dataclass
class World:
    """Rows of every table for ``[start, horizon]``; ``as_of`` is the scenario's today."""

    spec: WorldSpec
    start: dt.date
    as_of: dt.date
    horizon: dt.date
    tables: Rows = field(default_factory=dict)
    fates: Fates | None = None
    """Each subscriber's hazard inputs (:mod:`app.world.fates`); kept by generated worlds only."""
    interventions: tuple[Intervention, ...] = ()
    """What :func:`app.world.response.respond` applied to make this world (none: as generated)."""

    def snapshot(self, as_of: dt.date | None = None) -> Rows:
        """The tables as a database exported at the end of ``as_of`` would hold them."""
        return snapshot(self.tables, as_of or self.as_of)


def snapshot(tables: Rows, as_of: dt.date) -> Rows:
    """Drop rows created after ``as_of`` and blank out facts that were not yet known then.

    This is the as-of contract in executable form: every view at ``as_of`` must give the same
    answer over ``tables`` and over ``snapshot(tables, as_of)``.
    """
    cutoff = end_of_day(as_of)

    def known(ts: dt.datetime | None) -> dt.datetime | None:
        return ts if ts is not None and ts < cutoff else None

    out: Rows = {"merchants": [dict(r) for r in tables.get("merchants", [])]}
    out["customers"] = [dict(r) for r in tables.get("customers", []) if r["created_on"] <= as_of]
    subs = []
    for r in tables.get("subscriptions", []):
        if r["started_on"] > as_of:
            continue
        r = dict(r)
        if r["cancelled_on"] is not None and r["cancelled_on"] > as_of:
            r["cancelled_on"] = None
            r["cancel_reason"] = None
        subs.append(r)
    out["subscriptions"] = subs
    out["orders"] = [dict(r) for r in tables.get("orders", []) if r["ordered_on"] <= as_of]
    out["refunds"] = [dict(r) for r in tables.get("refunds", []) if r["refunded_on"] <= as_of]
    tickets = []
    for r in tables.get("support_tickets", []):
        if r["created_at"] >= cutoff:
            continue
        r = dict(r)
        r["first_response_at"] = known(r["first_response_at"])
        r["resolved_at"] = known(r["resolved_at"])
        if r["resolved_at"] is None:
            r["csat_rating"] = None
            r["status"] = "pending" if r["first_response_at"] is not None else "open"
        else:
            r["status"] = "resolved"
        tickets.append(r)
    out["support_tickets"] = tickets
    out["marketing_daily"] = [dict(r) for r in tables.get("marketing_daily", []) if r["day"] <= as_of]
    out["customer_signals"] = [dict(r) for r in tables.get("customer_signals", []) if r["detected_on"] <= as_of]
    out["timeline_events"] = [
        dict(r) for r in tables.get("timeline_events", []) if r["day"] <= as_of or r["kind"] == "planned"
    ]
    return out
