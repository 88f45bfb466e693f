"""What the orchestrator's nodes do (:mod:`app.journeys.orchestrator`), over one run's state.

:class:`Runtime` holds what a run needs between days and does not checkpoint: the world and its
database, the health memo, the fitted forecast model, today's positions and forecasts, the running
interventions and the measured outcomes. Every row it writes goes to the operations store under
the run's id.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection, Engine

from app.health.settings import HealthSettings
from app.journeys.forecast import ANCHORS, ForecastModel, Forecasts, apply_forecast_model, fit_forecast_model
from app.journeys.history import RunHistory, risks_at
from app.journeys.learning import (
    Outcome,
    PerformanceRow,
    Run,
    performance,
    portfolio_snapshot,
    to_retire,
    value_per_risk,
)
from app.journeys.matching import Candidate, candidates, segments_of
from app.journeys.measure import measure, window_end
from app.journeys.observe import TreatedWorldDatabase
from app.journeys.playbooks import Playbooks
from app.journeys.records import (
    InterventionRecord,
    append_performance,
    decide_intervention,
    insert_interventions,
    insert_outcomes,
    intervention_id,
    retire_playbooks,
    write_snapshot,
)
from app.journeys.signals import JourneySignal, SignalModel, fit_signal_model, journey_signals, strongest
from app.journeys.stages import FirstDays, JourneyPosition, JourneySettings, OrchestratorSettings, journey_positions
from app.storage.bulk import bulk_insert
from app.storage.ops import OpsStore
from app.storage.ops_loop import journey_state_log
from app.world.effects import InterventionEffects
from app.world.response import Intervention

__all__ = ["Runtime"]


@dataclass
class Runtime:
    """One orchestrator run's working state (see the module docstring).

    ``db`` is the treated world's database when the run applies interventions to a generated world;
    ``None`` on a database, where ``source`` is read and interventions are only recommended.
    """

    store: OpsStore
    run_id: int
    source: Engine
    settings: JourneySettings
    health: HealthSettings
    playbooks: Playbooks
    effects: InterventionEffects
    db: TreatedWorldDatabase | None = None
    first_day: dt.date | None = None
    """The run's first day: refits fall on it and every ``refit_every_days`` after it."""
    first_days_of: FirstDays = field(default_factory=FirstDays)
    past: RunHistory | None = None
    """What the refits read of past dates (:meth:`prepare`)."""
    model: ForecastModel | None = None
    signal_model: SignalModel | None = None
    positions: dict[str, JourneyPosition] = field(default_factory=dict)
    forecasts: Forecasts | None = None
    segments: dict[str, str] = field(default_factory=dict)
    history: dict[dt.date, dict[str, str]] = field(default_factory=dict)
    states: dict[str, tuple[str, dt.date]] = field(default_factory=dict)
    proposed: dict[str, InterventionRecord] = field(default_factory=dict)
    busy_until: dict[str, dt.date] = field(default_factory=dict)
    executed: list[InterventionRecord] = field(default_factory=list)
    to_land: dict[dt.date, list[Intervention]] = field(default_factory=lambda: defaultdict(list))
    risk_at_decision: dict[str, float | None] = field(default_factory=dict)
    resolved_on: dict[str, dt.date] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    measured_today: bool = False
    retired: dict[str, dt.date] = field(default_factory=dict)
    performance: list[PerformanceRow] = field(default_factory=list)
    learned: dict[tuple[str, str], float] = field(default_factory=dict)
    day_started: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per node over the run (the interrupt of a human gate included)."""
    day_seconds: list[float] = field(default_factory=list)
    """Wall time of each orchestrated day, observe to snapshot."""

    def prepare(self, last_day: dt.date) -> None:
        """Before the first day: score the earlier dates the run's refits read (:class:`RunHistory`), and
        read every customer's first days and segment (later days read only what is new)."""
        assert self.first_day is not None
        self.past = RunHistory(self.health, self.settings, self.first_day, last_day, self.loop.refit_every_days,
                               ANCHORS)  # fmt: skip
        past, eve = self.past, self.first_day - dt.timedelta(days=1)

        def setup(conn: Connection) -> None:  # what the first day would otherwise read whole
            past.prepare(conn)
            self.first_days_of.at(conn, eve)
            self.segments = segments_of(conn)

        self._read(setup)

    @property
    def applies(self) -> bool:
        """Whether interventions reach a world (else they are only recommended)."""
        return self.db is not None

    @property
    def loop(self) -> OrchestratorSettings:
        return self.settings.orchestrator

    def _read(self, query: Any) -> Any:
        with self.source.connect() as conn:
            return query(conn)

    # observe -----------------------------------------------------------------------------------
    def observe(self, day: dt.date) -> None:
        """Land today's interventions, then place every customer in their journey stage."""
        self.day_started = time.perf_counter()
        if self.db is not None:
            self.db.apply(self.to_land.pop(day, []))

        def read(conn: Connection) -> dict[str, JourneyPosition]:
            # a stage reads only the risk of a customer's health: factors, alerts and actions nobody reads
            risks = risks_at(conn, [day], self.health, self.db.subscriptions if self.db is not None else None)[day]
            positions = journey_positions(conn, day, self.settings, health_settings=self.health,
                                          first=self.first_days_of.at(conn, day), risks=risks)  # fmt: skip
            if self.past is not None:
                self.past.observed(day, risks, positions)
            return positions

        self.positions = self._read(read)
        new = [c for c in self.positions if c not in self.segments]
        if new:
            self.segments.update(self._read(lambda conn: segments_of(conn, new)))
        self.history[day] = {c: p.stage for c, p in self.positions.items()}
        self.history.pop(day - dt.timedelta(days=self.loop.horizon_days + 1), None)
        for r in self.executed:
            p = self.positions.get(r.customer_id)
            if r.intervention_id not in self.resolved_on and r.lands_on <= day and p is not None \
                    and r.journey_stage == "churn_risk" and p.stage not in ("churn_risk", "churned"):
                self.resolved_on[r.intervention_id] = day

    # forecast ----------------------------------------------------------------------------------
    def forecast(self, day: dt.date) -> None:
        """Refit the model when due, forecast today, and log the stage changes."""
        if self.model is None or (day - self.model.day).days >= self.loop.refit_every_days:
            def fit(conn: Connection) -> tuple[ForecastModel, SignalModel]:
                past = self.past.reader(conn, day) if self.past is not None else None
                kept = self.segments or None  # every customer's, read at setup
                return (fit_forecast_model(conn, day, self.health, history=past),
                        fit_signal_model(conn, day, self.health, history=past, segments=kept))  # fmt: skip

            self.model, self.signal_model = self._read(fit)
        model = self.model
        assert model is not None
        today = self._read(lambda conn: apply_forecast_model(model, conn, day, self.positions))
        self.forecasts = Forecasts(day, model.horizon_days, model.base_rate, model.band_rates, model.transitions, today)
        self._log_states(day)

    def _log_states(self, day: dt.date) -> None:
        assert self.forecasts is not None
        entered, exited = [], []
        for cid, p in self.positions.items():
            was = self.states.get(cid)
            if was is not None and was[0] == p.stage:
                continue
            if was is not None:
                exited.append({"c": cid, "e": was[1], "x": day, "d": (day - was[1]).days})
            f = self.forecasts.forecasts.get(cid)
            entered.append({
                "run_id": self.run_id, "customer_id": cid, "state_entered_at": day, "journey_stage": p.stage,
                "previous_stage": was[0] if was else None, "state_exited_at": None, "days_in_state": 0,
                "portfolio_risk_bucket": p.risk_bucket, "predicted_next_stage": f.predicted_path[0] if f else None,
                "forecast_confidence": f.forecast_confidence if f else None,
            })  # fmt: skip
            self.states[cid] = (p.stage, day)
        with self.store.transaction() as conn:
            _close_states(conn, self.run_id, exited)
            bulk_insert(conn, journey_state_log, entered)  # the first day enters every customer

    # match -------------------------------------------------------------------------------------
    def match(self, day: dt.date) -> list[dict[str, Any]]:
        """Today's interventions: the best playbooks within the day's count and budget, recorded."""
        assert self.forecasts is not None
        busy = {c for c, until in self.busy_until.items() if until >= day}
        found = candidates(self.positions, self.forecasts, self.segments, self.playbooks, exclude=busy,
                           retired=self.retired, learned=self.learned)  # fmt: skip
        chosen: list[Candidate] = []
        spent = 0
        budget = round(self.loop.daily_budget * 100)
        room = self._trial_room(day)
        for c in found:
            if len(chosen) >= self.loop.max_launches_per_day:
                break
            pid = c.playbook.playbook_id
            if c.expected_value_cents <= c.expected_cost_cents or spent + c.expected_cost_cents > budget \
                    or room.get(pid, 1) <= 0:
                continue
            chosen.append(c)
            spent += c.expected_cost_cents
            if pid in room:
                room[pid] -= 1
        signals = self._signals(day, [c.customer_id for c in chosen]) if chosen else {}
        latency = round((time.perf_counter() - self.day_started) * 1000)
        gated = self.applies
        records = [InterventionRecord(
            intervention_id=intervention_id(self.run_id, day, c.customer_id, c.playbook.playbook_id),
            run_id=self.run_id, customer_id=c.customer_id, segment=c.segment, journey_stage=c.stage,
            playbook_id=c.playbook.playbook_id, recommended_action=tuple(c.playbook.default_actions),
            confidence=c.churn_probability, expected_cost_cents=c.expected_cost_cents,
            expected_value_cents=c.expected_value_cents, requires_human_approval=c.playbook.approval_required,
            triggered_by_signals=(*c.signals, *strongest(signals.get(c.customer_id, []))),
            evaluation_latency_ms=latency, generated_at=day,
            lands_on=day + dt.timedelta(days=1),
            status=("pending_approval" if c.playbook.approval_required else "launched") if gated else "recommended",
            executed_action=None if c.playbook.approval_required or not gated else tuple(c.playbook.default_actions),
            decided_by=None if c.playbook.approval_required or not gated else "auto",
        ) for c in chosen]  # fmt: skip
        for r, c in zip(records, chosen, strict=True):
            self.risk_at_decision[r.intervention_id] = c.risk
        with self.store.transaction() as conn:
            insert_interventions(conn, records)
        self.proposed = {r.intervention_id: r for r in records}
        return [{"intervention_id": r.intervention_id, "customer_id": r.customer_id, "segment": r.segment,
                 "stage": r.journey_stage, "playbook_id": r.playbook_id, "actions": list(r.recommended_action),
                 "confidence": r.confidence, "expected_cost_cents": r.expected_cost_cents,
                 "expected_value_cents": r.expected_value_cents,
                 "requires_human_approval": r.requires_human_approval} for r in records]  # fmt: skip

    def _trial_room(self, day: dt.date) -> dict[str, int]:
        """Playbooks still on trial (fewer than ``trial_runs`` measured runs) -> how many more may run
        at once: their trial caps what an unproven playbook can cost before its first measurements."""
        cap = self.loop.trial_runs
        measured = Counter(o.playbook_id for o in self.outcomes)
        done = {o.intervention_id for o in self.outcomes}
        running = Counter(r.playbook_id for r in self.executed if r.intervention_id not in done and r.executed_action)
        return {p.playbook_id: cap - running[p.playbook_id] for p in self.playbooks.playbooks
                if measured[p.playbook_id] < cap}  # fmt: skip

    def _signals(self, day: dt.date, customer_ids: list[str]) -> dict[str, list[JourneySignal]]:
        model = self.signal_model
        assert model is not None
        stages = {c: self.positions[c].stage for c in customer_ids}
        return self._read(lambda conn: journey_signals(conn, day, model, stages=stages, segments=self.segments,
                                                       customer_ids=customer_ids))  # fmt: skip

    # gate --------------------------------------------------------------------------------------
    def policy_decisions(self, gated: list[dict[str, Any]]) -> dict[str, Any]:
        """The policy's decisions: approve when expected value / cost reaches ``min_expected_roi``."""
        floor = self.loop.min_expected_roi
        out: dict[str, Any] = {}
        for p in gated:
            roi = p["expected_value_cents"] / p["expected_cost_cents"] if p["expected_cost_cents"] else float("inf")
            out[p["intervention_id"]] = (
                {"decision": "approve", "by": "policy", "note": f"expected ROI {roi:.2f} >= {floor}"} if roi >= floor
                else {"decision": "override", "by": "policy", "note": f"expected ROI {roi:.2f} below {floor}"}
            )  # fmt: skip
        return out

    # execute -----------------------------------------------------------------------------------
    def execute(self, day: dt.date, decisions: dict[str, Any]) -> None:
        """Apply the gate's decisions and schedule what runs to land tomorrow."""
        if not self.applies:
            self.proposed = {}
            return
        with self.store.transaction() as conn:
            for iv_id, r in self.proposed.items():
                d = decisions.get(iv_id)
                if r.requires_human_approval:
                    if d is None:  # the gate never saw it: nothing runs without a decision
                        d = {"decision": "override", "by": "gate", "note": "no decision"}
                    action = d.get("action")
                    r = decide_intervention(conn, iv_id, d["decision"], by=d.get("by", "human"), note=d.get("note"),
                                            action=(action,) if isinstance(action, str) else None)  # fmt: skip
                self._launch(r)
        self.proposed = {}

    def _launch(self, r: InterventionRecord) -> None:
        self.executed.append(r)
        self.busy_until[r.customer_id] = window_end(r, self.loop.horizon_days, dt.date.max)
        for a in r.executed_action or ():
            self.to_land[r.lands_on].append(Intervention(r.customer_id, a, r.lands_on))

    # measure and learn -------------------------------------------------------------------------
    def measure(self, day: dt.date, *, final: bool = False) -> None:
        """Measure the interventions whose window ends today (``final``: every one still open)."""
        self.measured_today = False
        if self.db is None:
            return
        world, h = self.db.world, self.loop.horizon_days
        measured = {o.intervention_id for o in self.outcomes}
        due = [r for r in self.executed if r.intervention_id not in measured
               and (final or window_end(r, h, world.horizon) == day)]  # fmt: skip
        if not due:
            return
        mine = {r.customer_id for r in due}
        history = [r for r in self.executed if r.customer_id in mine]
        lands = {r.intervention_id: r.lands_on for r in due}
        out = []
        for o in measure(world, history, h, effects=self.effects):
            if o.intervention_id not in lands:
                continue
            p = self.positions.get(o.customer_id)
            before = self.risk_at_decision.get(o.intervention_id)
            resolved = self.resolved_on.get(o.intervention_id)
            out.append(replace(
                o,
                churn_risk_delta=None if final or p is None or p.risk is None or before is None
                else round(p.risk - before, 4),
                resolution_time_days=(resolved - lands[o.intervention_id]).days if resolved is not None else None,
            ))  # fmt: skip
        with self.store.transaction() as conn:
            insert_outcomes(conn, self.run_id, out)
        self.outcomes.extend(out)
        self.measured_today = True

    def learn(self, day: dt.date) -> None:
        """Update the performance log and retire playbooks whose measured ROI is below the floor."""
        if not self.measured_today:
            return
        self.performance = performance(self.outcomes, day)
        decided = {r.intervention_id: r.confidence for r in self.executed}
        self.learned = value_per_risk([Run(o.playbook_id, o.segment, decided[o.intervention_id], o.revenue_saved_cents)
                                       for o in self.outcomes if o.outcome != "not_run"])  # fmt: skip
        gone = [p for p in to_retire(self.outcomes, self.loop.roi_floor, self.loop.min_runs) if p not in self.retired]
        with self.store.transaction() as conn:
            append_performance(conn, self.run_id, self.performance)
            if gone:
                retire_playbooks(conn, self.run_id, gone, day,
                                 f"measured value per unit of cost clearly below {self.loop.roi_floor} (one-sided 95%) "
                                 f"after at least {self.loop.min_runs} runs")  # fmt: skip
        for p in gone:
            self.retired[p] = day

    # snapshot ----------------------------------------------------------------------------------
    def snapshot(self, day: dt.date) -> None:
        """The portfolio snapshot of the day."""
        assert self.forecasts is not None
        past = self.history.get(day - dt.timedelta(days=self.loop.horizon_days)) or min(self.history.items())[1]
        moves: dict[str, dict[str, int]] = defaultdict(Counter)
        for cid, stage in self.history[day].items():
            if cid in past:
                moves[past[cid]][stage] += 1
        s = portfolio_snapshot(day, self.history[day], {c: p.risk_bucket for c, p in self.positions.items()},
                               {c: f.revenue_at_risk_cents for c, f in self.forecasts.forecasts.items()},
                               moves, self.performance, self.playbooks)  # fmt: skip
        with self.store.transaction() as conn:
            write_snapshot(conn, self.run_id, s)
        if self.past is not None:
            self.past.forget(day)
        self.day_seconds.append(time.perf_counter() - self.day_started)

    def close(self, last_day: dt.date) -> None:
        """After the last day: measure what is still open (the world runs on), learn, close the state log."""
        if self.db is not None:
            self.measure(last_day, final=True)
            if self.measured_today:
                self.learn(max(o.measured_at for o in self.outcomes))
        open_rows = [{"c": c, "e": e, "x": None, "d": (last_day - e).days + 1} for c, (_, e) in self.states.items()]
        with self.store.transaction() as conn:
            _close_states(conn, self.run_id, open_rows)


def _close_states(conn: Connection, run_id: int, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    t = journey_state_log.c
    stmt = (update(journey_state_log)
            .where(t.run_id == run_id, t.customer_id == bindparam("c"), t.state_entered_at == bindparam("e"))
            .values(state_exited_at=bindparam("x"), days_in_state=bindparam("d")))  # fmt: skip
    conn.execute(stmt, rows)
