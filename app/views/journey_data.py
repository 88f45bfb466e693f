"""What the journey views and the intervention actions share: a date's positions and forecasts
(computed once per provider and data), the playbooks in force (the file's, less those the latest
orchestrator run retired), the performance log a view or a match reads, and the stage flows.

Nothing here is registered; :mod:`app.views.journeys`, :mod:`app.views.journey_playbooks` and
:mod:`app.views.interventions` declare the capabilities.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.health.settings import load_health_settings
from app.health.store import Memo, health_at
from app.journeys import records
from app.journeys.forecast import Forecasts, forecast
from app.journeys.learning import PerformanceRow, Run, performance, value_per_risk
from app.journeys.matching import Candidate, candidates, segments_of
from app.journeys.playbooks import Playbook, Playbooks, load_playbooks
from app.journeys.stages import JourneyPosition, journey_positions
from app.storage.ops_loop import orchestrator_runs

__all__ = [
    "NO_LOOP_STORE",
    "positions_at",
    "forecasts_at",
    "horizon_days",
    "stage_moves",
    "LoopState",
    "loop_state",
    "in_force",
    "matches",
    "run_ids",
]

T = TypeVar("T")

NO_LOOP_STORE = "no operations store (interventions and their outcomes are kept only where actions can write)"


def _remember(memo: Memo | None, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    if memo is None:
        return compute()
    result: T = memo(key, compute)
    return result


def horizon_days() -> int:
    """The forecasts' horizon and the flows' window (the health model's ``monitoring.horizon_days``)."""
    return load_health_settings().monitoring.horizon_days


def positions_at(conn: Connection, day: dt.date, memo: Memo | None) -> dict[str, JourneyPosition]:
    """Every customer's journey stage at ``day`` (remembered in ``memo``, a provider's ``source_memo``)."""
    s = load_health_settings()
    return _remember(memo, ("journey_positions", day), lambda: journey_positions(
        conn, day, health=health_at(conn, day, s, memo), health_settings=s))  # fmt: skip


def forecasts_at(conn: Connection, day: dt.date, memo: Memo | None) -> Forecasts:
    """The forecasts of ``day`` (remembered in ``memo``)."""
    return _remember(memo, ("journey_forecasts", day), lambda: forecast(conn, day, load_health_settings(), memo))


def stage_moves(before: dict[str, JourneyPosition], after: dict[str, JourneyPosition]) -> dict[str, dict[str, int]]:
    """Stage -> next stage -> customers, for the customers known at both dates."""
    counts: dict[str, Counter[str]] = {}
    for cid, p in before.items():
        if cid in after:
            counts.setdefault(p.stage, Counter())[after[cid].stage] += 1
    return {s: dict(sorted(c.items())) for s, c in sorted(counts.items())}


@dataclass(frozen=True)
class LoopState:
    """What the operations store says about the playbooks: the run whose log is read (None: the
    outcomes measured outside any run), that log, the playbooks the run retired (with the day) and
    the measured value per unit of churn probability matching uses (:func:`~app.journeys.learning.value_per_risk`)."""

    run_id: int | None
    rows: list[PerformanceRow]
    retired: dict[str, dt.date]
    learned: dict[tuple[str, str], float] = field(default_factory=dict)


def _learned(ops: Connection, run: int | None) -> dict[tuple[str, str], float]:
    """The value estimate of a run's measured outcomes (or of those outside runs), each with the churn
    probability its intervention was decided on, as the orchestrator's learning step forms it."""
    outcomes = records.read_outcomes(ops, run)
    if not outcomes:
        return {}
    decided = {r.intervention_id: r.confidence for r in records.read_interventions(ops, run, launched_by_cj=run is None)}
    return value_per_risk([Run(o.playbook_id, o.segment, decided[o.intervention_id], o.revenue_saved_cents)
                           for o in outcomes if o.outcome != "not_run" and o.intervention_id in decided])  # fmt: skip


def loop_state(ops: Connection, day: dt.date, run_id: int | None = None) -> LoopState:
    """The performance log of ``run_id`` (default: the latest orchestrator run; without any run, the
    performance of the outcomes measured outside runs, as of ``day``), its retired playbooks and
    value estimate."""
    run = run_id if run_id is not None else records.latest_run(ops)
    if run is None:
        outside = records.read_outcomes(ops, None)
        return LoopState(None, performance(outside, day) if outside else [], {}, _learned(ops, None))
    return LoopState(run, records.latest_performance(ops, run), records.retired_playbooks(ops, run), _learned(ops, run))


def in_force(playbooks: Playbooks, retired: dict[str, dt.date]) -> list[Playbook]:
    """Active playbooks not retired."""
    return [p for p in playbooks.playbooks if p.status == "active" and p.playbook_id not in retired]


def matches(conn: Connection, day: dt.date, memo: Memo | None, state: LoopState,
            only: set[str] | None = None) -> tuple[list[Candidate], dict[str, str]]:  # fmt: skip
    """The best playbook of each eligible customer at ``day`` (of ``only`` when given) and the customers'
    segments."""
    positions = positions_at(conn, day, memo)
    if only is not None:
        positions = {c: p for c, p in positions.items() if c in only}
    segments = segments_of(conn, list(positions))
    found = candidates(positions, forecasts_at(conn, day, memo), segments, load_playbooks(),
                       retired=frozenset(state.retired), learned=state.learned)  # fmt: skip
    return found, segments


def run_ids(ops: Connection) -> list[int]:
    """The orchestrator runs in the store, oldest first."""
    return [int(r) for r in ops.execute(select(orchestrator_runs.c.run_id).order_by(orchestrator_runs.c.run_id)).scalars()]
