"""Running the orchestrator over a generated world (apply) or a database (recommend only).

The entry points look scenarios and merchants up in the catalog, so they sit above it (as
:mod:`app.simulation` does for conversations), outside :mod:`app.journeys`, which the views import.

Example:
    >>> result = orchestrate_world("churn_spike", "sarah_chen", days=3)
    >>> result.mode, result.days
    ('apply', 3)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from langgraph.types import Command
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine

from app.catalog import Catalog
from app.errors import InvalidArgumentError
from app.health.settings import load_health_settings
from app.journeys.learning import PerformanceRow, PortfolioSnapshot
from app.journeys.observe import TreatedWorldDatabase
from app.journeys.orchestrator import Policy, build_orchestrator, graph_config
from app.journeys.playbooks import load_playbooks
from app.journeys.records import InterventionRecord, read_interventions, read_outcomes, read_snapshots
from app.journeys.runtime import Runtime
from app.journeys.stages import JourneySettings, load_journey_settings
from app.models import MerchantContext
from app.storage.bulk import paused_gc
from app.storage.ops import OpsStore, inserted_id
from app.storage.ops_loop import orchestrator_runs
from app.world.context import resolve_context
from app.world.effects import load_intervention_effects
from app.world.generator import generate_world
from app.world.world import WorldSpec

__all__ = ["Decide", "OrchestrationResult", "orchestrate_world", "orchestrate_database", "MAX_DAYS"]

Decide = Callable[[dict[str, Any]], Any]
"""Called with the gate's pause (``{"type": "approval", "day", "pending"}``); returns the decisions."""
MAX_DAYS = 365


@dataclass(frozen=True)
class OrchestrationResult:
    """A finished run: its rows in the store, summed up."""

    run_id: int
    mode: str
    source: str
    first_day: dt.date
    last_day: dt.date
    days: int
    interventions: dict[str, int]
    measured: int
    customers_kept: int
    revenue_saved_cents: int
    cost_cents: int
    retired: dict[str, dt.date]
    performance: list[PerformanceRow]
    snapshot: PortfolioSnapshot | None
    node_seconds: dict[str, float]
    """Wall time per graph node over the run (measurements, not part of the result's identity)."""
    day_seconds: list[float]
    """Wall time of each day, observe to snapshot."""

    @property
    def roi(self) -> float | None:
        """Revenue saved per unit of cost (None without cost)."""
        return round(self.revenue_saved_cents / self.cost_cents, 4) if self.cost_cents else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["roi"] = self.roi
        return json.loads(json.dumps(d, default=str))


def _check_days(days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidArgumentError(f"days must be between 1 and {MAX_DAYS}, got {days}")


def orchestrate_world(scenario: str, merchant: str, *, days: int = 90, seed: int = 0, policy: Policy = "policy",
                      store: OpsStore | None = None, decide: Decide | None = None,
                      catalog: Catalog | None = None, subscribers: int | None = None,
                      settings: JourneySettings | None = None) -> OrchestrationResult:  # fmt: skip
    """Orchestrate the last ``days`` days up to the scenario's today in a generated world, applying
    the interventions; they are measured over the following ``horizon_days`` (the world runs on).

    ``policy="human"`` pauses at the gate and calls ``decide`` with the pending interventions.
    ``settings``: the journey settings (default: ``data/journeys.yaml``).

    Raises:
        InvalidArgumentError: unknown scenario or merchant, bad ``days``, or ``human`` without ``decide``.
    """
    _check_days(days)
    if policy == "human" and decide is None:
        raise InvalidArgumentError("policy 'human' needs a decide callback (or use policy 'policy')")
    settings = settings or load_journey_settings()
    catalog = catalog or Catalog.default()
    sc, persona = catalog.scenarios.get(scenario), catalog.personas.get(merchant)
    spec = WorldSpec(sc, persona, resolve_context(persona, sc, MerchantContext()), seed=seed,
                     subscribers=subscribers, history_days=max(150, days + 60),
                     horizon_days=settings.orchestrator.horizon_days)  # fmt: skip
    world = generate_world(spec)
    effects = load_intervention_effects()
    db = TreatedWorldDatabase(world, effects)
    first = world.as_of - dt.timedelta(days=days - 1)
    source = f"world {sc.id} / {persona.id} / seed {seed}" + (f" / {subscribers} subscribers" if subscribers else "")
    return _run(store or OpsStore.in_memory(), db.engine, db, source, first, world.as_of, policy, decide, settings)


def orchestrate_database(engine: Engine, latest: dt.date, display: str, *, days: int = 30,
                         store: OpsStore | None = None, settings: JourneySettings | None = None,
                         ) -> OrchestrationResult:  # fmt: skip
    """Recommend interventions over the last ``days`` days of a database up to ``latest`` (nothing is
    applied or measured: there is no world to apply to)."""
    _check_days(days)
    first = latest - dt.timedelta(days=days - 1)
    return _run(store or OpsStore.in_memory(), engine, None, display, first, latest, "policy", None,
                settings or load_journey_settings())


def _run(store: OpsStore, source: Engine, db: TreatedWorldDatabase | None, display: str, first: dt.date,
         last: dt.date, policy: Policy, decide: Decide | None, settings: JourneySettings) -> OrchestrationResult:  # fmt: skip
    with store.transaction() as conn:
        run_id = inserted_id(conn.execute(insert(orchestrator_runs).values(
            source=display, mode="apply" if db is not None else "recommend", policy=policy, first_day=first,
            last_day=last, status="running", started_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        )))  # fmt: skip
    runtime = Runtime(store=store, run_id=run_id, source=source, settings=settings, health=load_health_settings(),
                      playbooks=load_playbooks(), effects=load_intervention_effects(), db=db, first_day=first)  # fmt: skip
    days = (last - first).days + 1
    runtime.prepare(last)
    graph = build_orchestrator(runtime, policy)
    config = graph_config(f"orchestrator-{run_id}", days)
    status = "failed"
    with paused_gc():  # the day's health sets are acyclic and the memo keeps them: no collection walks them
        try:
            payload: Any = {"day": first.isoformat(), "last_day": last.isoformat(), "days_done": 0}
            while True:
                graph.invoke(payload, config)
                snap = graph.get_state(config)
                if not snap.next:
                    break
                pause = snap.tasks[0].interrupts[0].value if snap.tasks and snap.tasks[0].interrupts else None
                if pause is None or decide is None:  # pragma: no cover - the graph pauses only at the gate
                    raise InvalidArgumentError("the orchestrator paused without a way to decide; use policy 'policy'")
                payload = Command(resume=decide(pause))
            runtime.close(last)
            status = "finished"
        finally:
            with store.transaction() as conn:
                conn.execute(update(orchestrator_runs).where(orchestrator_runs.c.run_id == run_id).values(
                    status=status, current_day=last if status == "finished" else None,
                    finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)))  # fmt: skip
    result = _result(store, run_id, db is not None, display, first, last, runtime)
    with store.transaction() as conn:
        conn.execute(update(orchestrator_runs).where(orchestrator_runs.c.run_id == run_id).values(
            summary=json.dumps(result.to_dict(), sort_keys=True)))  # fmt: skip
    return result


def _result(store: OpsStore, run_id: int, applies: bool, display: str, first: dt.date, last: dt.date,
            runtime: Runtime) -> OrchestrationResult:  # fmt: skip
    records: list[InterventionRecord] = store.read(lambda c: read_interventions(c, run_id))
    outcomes = store.read(lambda c: read_outcomes(c, run_id))
    snaps = store.read(lambda c: read_snapshots(c, run_id))
    by_status: dict[str, int] = {}
    for r in records:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    return OrchestrationResult(
        run_id=run_id, mode="apply" if applies else "recommend", source=display, first_day=first, last_day=last,
        days=(last - first).days + 1, interventions=dict(sorted(by_status.items())), measured=len(outcomes),
        customers_kept=sum(o.kept for o in outcomes), revenue_saved_cents=sum(o.revenue_saved_cents for o in outcomes),
        cost_cents=sum(o.cost_cents for o in outcomes), retired=dict(runtime.retired),
        performance=runtime.performance, snapshot=snaps[-1] if snaps else None,
        node_seconds={k: round(v, 4) for k, v in runtime.seconds.items()},
        day_seconds=[round(v, 4) for v in runtime.day_seconds],
    )  # fmt: skip
