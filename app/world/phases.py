"""Scenario phases as the world generator reads them: which phase is in force on a day, and its rates.

:func:`phase_in_force` applies the phase rule of :mod:`app.world.generator`; :class:`Rates`
flattens one phase's multipliers into the tuples the daily loop indexes by ticket category and
cancel reason (in the order of :data:`CATEGORIES` and :data:`REASONS`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.models import CancelReason, Phase, Scenario, TicketCategory
from app.world.behaviour import CANCEL_REASON_WEIGHTS

__all__ = ["CATEGORIES", "REASONS", "phase_in_force", "phase_at_offset", "Rates"]

CATEGORIES: tuple[TicketCategory, ...] = tuple(TicketCategory)
REASONS: tuple[CancelReason, ...] = tuple(CancelReason)


def phase_in_force(scenario: Scenario, day: dt.date) -> Phase | None:
    """The scenario phase in force on ``day`` (``None`` = baseline, all multipliers 1).

    It is the last phase whose ``starts_days_ago`` is at least ``(as_of - day).days``; days after
    ``as_of`` keep the last phase.

    Example:
        >>> from app.scenarios import get_scenario
        >>> s = get_scenario("steady_operations")
        >>> phase_in_force(s, s.as_of) is None or phase_in_force(s, s.as_of).churn > 0
        True
    """
    return phase_at_offset(scenario.modifiers.phases, (scenario.as_of - day).days)


def phase_at_offset(phases: list[Phase], offset: int) -> Phase | None:
    """The phase in force ``offset`` days before ``as_of`` (negative offsets are after it)."""
    found = None
    for phase in phases:
        if phase.starts_days_ago >= offset:
            found = phase
    return found


@dataclass(frozen=True)
class Rates:
    """The phase multipliers of one day, flattened for the inner loop."""

    churn: float
    net_growth: float | None
    acquisition: float
    cac: float
    ticket_volume: float
    ticket_mix: tuple[float, ...]
    first_response: float
    csat_shift: float
    reason_weights: tuple[float, ...]
    failed_payments: float
    skips: float
    visitors: float
    deliverability: float | None

    @classmethod
    def of(cls, phase: Phase | None) -> Rates:
        p = phase or Phase(starts_days_ago=0)
        return cls(
            churn=p.churn,
            net_growth=p.net_growth,
            acquisition=1.0 if p.acquisition is None else p.acquisition,
            cac=p.cac,
            ticket_volume=p.ticket_volume,
            ticket_mix=tuple(p.ticket_mix.get(c, 1.0) for c in CATEGORIES),
            first_response=p.first_response,
            csat_shift=p.csat_shift,
            reason_weights=tuple(CANCEL_REASON_WEIGHTS[r] * p.cancel_reasons.get(r, 1.0) for r in REASONS),
            failed_payments=p.failed_payments,
            skips=p.skips,
            visitors=p.visitors,
            deliverability=p.email_deliverability,
        )
