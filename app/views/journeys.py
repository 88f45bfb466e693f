"""Customer journeys as registered views: ``journey_overview`` (stages, the flows between them over
the last window and the stage leaking most customers), ``customer_journey`` (one customer's stage,
forecast, matching playbooks and the interventions on record) and ``churn_forecast`` (the customers
with the most revenue at risk).

The model lives in :mod:`app.journeys` (docs/closed_loop.md): stages from :mod:`app.journeys.stages`,
forecasts from :mod:`app.journeys.forecast`, playbook matching from :mod:`app.journeys.matching`.
Views that read the operations store (interventions, retired playbooks, the performance that
matching learns from) are never cached.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import Field

from app.errors import DataUnavailableError
from app.journeys import records
from app.journeys.forecast import ANCHORS, MODEL_TYPE
from app.journeys.learning import Outcome, portfolio_snapshot
from app.journeys.matching import segments_of
from app.journeys.playbooks import JOURNEY_STAGES, load_playbooks
from app.storage import order_queries as oq
from app.views.base import MoneyResult, ViewModel
from app.views.common import ViewContext
from app.views.journey_data import (
    NO_LOOP_STORE,
    LoopState,
    forecasts_at,
    horizon_days,
    in_force,
    loop_state,
    matches,
    positions_at,
    stage_moves,
)
from app.views.registry import ViewSpec
from app.views.retention_ops import DateArgs, day_within

__all__ = [
    "StageCount",
    "StageFlow",
    "JourneyOverview",
    "CustomerJourneyArgs",
    "CustomerJourney",
    "ChurnForecastArgs",
    "ChurnForecast",
    "JOURNEY_OVERVIEW",
    "CUSTOMER_JOURNEY",
    "CHURN_FORECAST",
    "loop_of",
]

LiveStage = Literal["onboarding", "engagement", "support", "retention", "churn_risk"]


def loop_of(ctx: ViewContext, day: dt.date, run_id: int | None = None) -> LoopState:
    """The operations store's performance log and retired playbooks (empty without a store)."""
    if ctx.ops is None:
        return LoopState(None, [], {})
    state: LoopState = ctx.ops.read(lambda c: loop_state(c, day, run_id))
    return state


# --------------------------------------------------------------------------- journey_overview


class StageCount(ViewModel):
    stage: str
    customers: int
    share: float = Field(description="customers / customers known at the date")


class StageFlow(ViewModel):
    from_stage: str
    to_stage: str
    customers: int


class JourneyOverview(MoneyResult):
    """Where the customers are at ``date`` and how they moved over the last window."""

    view: ClassVar[str] = "journey_overview"
    date: dt.date
    customers: int = Field(description="customers known at the date (with a subscription or an order)")
    stages: list[StageCount] = Field(description="every journey stage in journey order")
    customers_at_high_risk: int = Field(description="customers whose risk bucket is high (a high or critical alert)")
    window_start: dt.date | None = Field(description="the date the flows start from (date - the forecast horizon)")
    flows: list[StageFlow] = Field(description="customers who changed stage between window_start and date, most first")
    top_leaking_stage: str | None = Field(description="the stage that lost most customers to churned over the window")
    leaked_customers: int | None = Field(description="customers the top leaking stage lost to churned")

    def to_text(self) -> str:
        stages = ", ".join(f"{s.stage} {s.customers} ({s.share:.1%})" for s in self.stages)
        lines = [f"Customer journeys on {self.date}: {self.customers} customers; {stages}; "
                 f"{self.customers_at_high_risk} at high risk"]  # fmt: skip
        if self.window_start is None:
            lines.append(f"Flows: not available: {self.unavailable.get('flows', 'no data before the window')}")
        else:
            flows = "; ".join(f"{f.from_stage} -> {f.to_stage} {f.customers}" for f in self.flows[:8]) or "none"
            lines.append(f"Flows since {self.window_start}: {flows}")
            leak = (f"{self.top_leaking_stage} ({self.leaked_customers} customers lost to churned)"
                    if self.top_leaking_stage else "none (no customer churned over the window)")  # fmt: skip
            lines.append(f"Top leaking stage: {leak}")
        return "\n".join(lines)


def journey_overview(ctx: ViewContext, args: DateArgs) -> JourneyOverview:
    day = day_within(ctx.as_of, ctx.data_start, args.date)
    now = positions_at(ctx.conn, day, ctx.memo)
    total = len(now)
    counts = {s: 0 for s in JOURNEY_STAGES}
    for p in now.values():
        counts[p.stage] += 1
    start = day - dt.timedelta(days=horizon_days())
    unavailable: dict[str, str] = {}
    flows: list[StageFlow] = []
    leaking, leaked, window = None, None, None
    if ctx.data_start is not None and start < ctx.data_start:
        unavailable["flows"] = f"the data starts on {ctx.data_start}, after {start}"
    else:
        window = start
        moves = stage_moves(positions_at(ctx.conn, start, ctx.memo), now)
        flows = sorted((StageFlow(from_stage=a, to_stage=b, customers=n) for a, nxt in moves.items()
                        for b, n in nxt.items() if a != b),
                       key=lambda f: (-f.customers, JOURNEY_STAGES.index(f.from_stage), JOURNEY_STAGES.index(f.to_stage)))  # fmt: skip
        # the leak rule is the portfolio snapshot's (learning.portfolio_snapshot), not a second copy
        leaking = portfolio_snapshot(day, {}, {}, {}, moves, [], load_playbooks()).top_leaking_stage
        leaked = moves[leaking]["churned"] if leaking else None
    return JourneyOverview(
        as_of=ctx.as_of, currency=ctx.currency, date=day, customers=total,
        stages=[StageCount(stage=s, customers=n, share=round(n / total, 4) if total else 0.0) for s, n in counts.items()],
        customers_at_high_risk=sum(p.risk_bucket == "high" for p in now.values()),
        window_start=window, flows=flows, top_leaking_stage=leaking, leaked_customers=leaked, unavailable=unavailable,
    )  # fmt: skip


# --------------------------------------------------------------------------- customer_journey


class CustomerJourneyArgs(DateArgs):
    customer_id: str = Field(min_length=1, max_length=32, description="The customer (e.g. C000123).")


class ForecastView(ViewModel):
    churn_probability: float = Field(description="of leaving within the horizon")
    predicted_path: list[str] = Field(description="the likeliest next stage and the one after it")
    forecast_confidence: float
    recovery_probability: float
    revenue_at_risk: float = Field(description="churn probability x a year of the customer's current spending")


class PlaybookMatch(ViewModel):
    playbook_id: str
    name: str
    actions: list[str]
    approval_required: bool
    best: bool = Field(description="the one matching recommends (the best expected net value)")
    expected_cost: float | None = Field(description="for the best match")
    expected_value: float | None = Field(description="for the best match")


class OutcomeView(ViewModel):
    outcome: str
    kept: bool
    revenue_saved: float
    cost: float
    measured_at: dt.date


class InterventionView(ViewModel):
    intervention_id: str
    run_id: int | None
    playbook_id: str
    status: str
    generated_at: dt.date
    lands_on: dt.date
    executed_action: list[str] | None
    outcome: OutcomeView | None = Field(description="null: not measured yet")


class CustomerJourney(MoneyResult):
    """One customer's journey at ``date``."""

    view: ClassVar[str] = "customer_journey"
    date: dt.date
    customer_id: str
    name: str
    segment: str | None
    stage: str
    reason: str
    risk: float | None
    risk_bucket: str | None
    tenure_days: int
    forecast: ForecastView | None = Field(description="null for a churned customer")
    playbooks: list[PlaybookMatch] = Field(description="active, not retired playbooks that apply to the customer today")
    interventions: list[InterventionView] = Field(description="interventions on record in the operations store")

    def to_text(self) -> str:
        risk = f"risk {self.risk:.2f} ({self.risk_bucket})" if self.risk is not None else "not scored"
        lines = [f"Journey of {self.name} ({self.customer_id}, {self.segment or 'no segment'}) on {self.date}: "
                 f"{self.stage} - {self.reason}; {risk}; tenure {self.tenure_days} days"]  # fmt: skip
        if self.forecast:
            f = self.forecast
            lines.append(f"Forecast: {f.churn_probability:.1%} churn within the horizon, next {' -> '.join(f.predicted_path)} "
                         f"({f.forecast_confidence:.0%}), revenue at risk {self.money(f.revenue_at_risk)}")  # fmt: skip
        pb = "; ".join(f"{p.playbook_id} {p.name}{' (best: cost ' + self.money(p.expected_cost) + ', value ' + self.money(p.expected_value) + ')' if p.best else ''}"
                       f"{' needs approval' if p.approval_required else ''}" for p in self.playbooks)  # fmt: skip
        lines.append(f"Matching playbooks: {pb or 'none'}")
        for iv in self.interventions:
            o = iv.outcome
            done = (f"{o.outcome}, saved {self.money(o.revenue_saved)} for {self.money(o.cost)}" if o
                    else "not measured yet")  # fmt: skip
            lines.append(f"  {iv.intervention_id} {iv.status}, lands {iv.lands_on}: {done}")
        if not self.interventions:
            lines.append(f"Interventions: {self._or_missing('interventions', 'none on record')}")
        return "\n".join(lines)


def _outcomes_by_id(ops, run_ids: set[int | None]) -> dict[str, Outcome]:
    return {o.intervention_id: o for r in sorted(run_ids, key=lambda r: -1 if r is None else r)
            for o in records.read_outcomes(ops, r)}  # fmt: skip


def customer_journey(ctx: ViewContext, args: CustomerJourneyArgs) -> CustomerJourney:
    day = day_within(ctx.as_of, ctx.data_start, args.date)
    pos = positions_at(ctx.conn, day, ctx.memo).get(args.customer_id)
    if pos is None:
        raise DataUnavailableError(f"no customer {args.customer_id!r} on {day}; find ids with get_churn_forecast "
                                   "or get_customer_list")  # fmt: skip
    state = loop_of(ctx, day)
    segment = segments_of(ctx.conn, [pos.customer_id]).get(pos.customer_id)
    f = forecasts_at(ctx.conn, day, ctx.memo).forecasts.get(pos.customer_id)
    found, _ = matches(ctx.conn, day, ctx.memo, state, only={pos.customer_id})
    best = found[0] if found else None
    playbooks = [PlaybookMatch(
        playbook_id=p.playbook_id, name=p.name, actions=list(p.default_actions), approval_required=p.approval_required,
        best=best is not None and best.playbook.playbook_id == p.playbook_id,
        expected_cost=ctx.major(best.expected_cost_cents) if best and best.playbook.playbook_id == p.playbook_id else None,
        expected_value=ctx.major(best.expected_value_cents) if best and best.playbook.playbook_id == p.playbook_id else None,
    ) for p in in_force(load_playbooks(), state.retired)
        if pos.risk is not None and segment is not None and p.applies_to(pos.stage, segment, pos.risk)]  # fmt: skip
    ivs: list[InterventionView] = []
    unavailable = {} if ctx.ops is not None else {"interventions": NO_LOOP_STORE}
    if ctx.ops is not None:
        def read(c):
            mine = records.read_interventions(c, customer_id=pos.customer_id)
            return mine, _outcomes_by_id(c, {r.run_id for r in mine})

        mine, outcomes = ctx.ops.read(read)
        for r in mine:
            o = outcomes.get(r.intervention_id)
            ivs.append(InterventionView(
                intervention_id=r.intervention_id, run_id=r.run_id, playbook_id=r.playbook_id, status=r.status,
                generated_at=r.generated_at, lands_on=r.lands_on,
                executed_action=list(r.executed_action) if r.executed_action is not None else None,
                outcome=OutcomeView(outcome=o.outcome, kept=o.kept, revenue_saved=ctx.major(o.revenue_saved_cents),
                                    cost=ctx.major(o.cost_cents), measured_at=o.measured_at) if o else None,
            ))  # fmt: skip
    return CustomerJourney(
        as_of=ctx.as_of, currency=ctx.currency, date=day, customer_id=pos.customer_id,
        name=oq.customer_names(ctx.conn, [pos.customer_id]).get(pos.customer_id, pos.customer_id), segment=segment,
        stage=pos.stage, reason=pos.reason, risk=pos.risk, risk_bucket=pos.risk_bucket, tenure_days=pos.tenure_days,
        forecast=ForecastView(churn_probability=f.churn_probability, predicted_path=list(f.predicted_path),
                              forecast_confidence=f.forecast_confidence, recovery_probability=f.recovery_probability,
                              revenue_at_risk=ctx.major(f.revenue_at_risk_cents)) if f else None,
        playbooks=playbooks, interventions=ivs, unavailable=unavailable,
    )  # fmt: skip


# --------------------------------------------------------------------------- churn_forecast


class ChurnForecastArgs(DateArgs):
    journey_stage: LiveStage | None = Field(default=None, description="Only customers in this stage (onboarding, "
                                            "engagement, support, retention, churn_risk); default: every stage.")  # fmt: skip
    limit: int = Field(default=10, ge=1, le=200, description="How many customers to list (1-200), most revenue at risk first.")


class ForecastRow(ViewModel):
    customer_id: str
    name: str
    segment: str | None
    stage: str
    churn_probability: float
    revenue_at_risk: float
    predicted_path: list[str]
    playbook_id: str | None = Field(description="the playbook matching recommends for the customer today (null: none)")
    playbook_needs_approval: bool | None


class ChurnForecast(MoneyResult):
    """Churn forecasts at ``date``: who is likeliest to leave and what it would cost."""

    view: ClassVar[str] = "churn_forecast"
    date: dt.date
    model_type: str
    horizon_days: int = Field(description="the forecasts are of leaving within this many days")
    calibration_days: int = Field(description="the probabilities are calibrated on what happened over this many past days")
    base_rate: float = Field(description="the share of scored customers who left within the horizon in the calibration")
    journey_stage: str | None
    customers: int = Field(description="customers forecast (in the stage, when one is asked for)")
    expected_leavers: float = Field(description="sum of their churn probabilities")
    revenue_at_risk: float = Field(description="sum of their revenue at risk")
    top: list[ForecastRow] = Field(description="the customers with the most revenue at risk")

    def to_text(self) -> str:
        where = f" in {self.journey_stage}" if self.journey_stage else ""
        lines = [
            f"Churn forecast on {self.date} (model {self.model_type}, leaving within {self.horizon_days} days; probabilities "
            f"calibrated on the past {self.calibration_days} days, base rate {self.base_rate:.1%}): {self.customers} "
            f"customers{where}, {self.expected_leavers:.1f} expected to leave, {self.money(self.revenue_at_risk)} revenue at risk",
        ]  # fmt: skip
        for r in self.top:
            pb = f"; playbook {r.playbook_id}{' (needs approval)' if r.playbook_needs_approval else ''}" if r.playbook_id else ""
            lines.append(f"  {r.name} ({r.customer_id}, {r.segment}, {r.stage}): {r.churn_probability:.1%}, "
                         f"{self.money(r.revenue_at_risk)} at risk, next {' -> '.join(r.predicted_path)}{pb}")  # fmt: skip
        return "\n".join(lines if self.top else [*lines, "  (none)"])


def churn_forecast(ctx: ViewContext, args: ChurnForecastArgs) -> ChurnForecast:
    day = day_within(ctx.as_of, ctx.data_start, args.date)
    f = forecasts_at(ctx.conn, day, ctx.memo)
    rows = [x for x in f.forecasts.values() if args.journey_stage is None or x.current_stage == args.journey_stage]
    top = sorted(rows, key=lambda x: (-x.revenue_at_risk_cents, -x.churn_probability, x.customer_id))[: args.limit]
    ids = [x.customer_id for x in top]
    found, segments = matches(ctx.conn, day, ctx.memo, loop_of(ctx, day), only=set(ids))
    best = {c.customer_id: c.playbook for c in found}
    names = oq.customer_names(ctx.conn, ids) if ids else {}
    return ChurnForecast(
        as_of=ctx.as_of, currency=ctx.currency, date=day, model_type=MODEL_TYPE, horizon_days=f.horizon_days,
        calibration_days=ANCHORS * f.horizon_days, base_rate=f.base_rate, journey_stage=args.journey_stage, customers=len(rows),
        expected_leavers=round(sum(x.churn_probability for x in rows), 2),
        revenue_at_risk=ctx.major(sum(x.revenue_at_risk_cents for x in rows)),
        top=[ForecastRow(
            customer_id=x.customer_id, name=names.get(x.customer_id, x.customer_id), segment=segments.get(x.customer_id),
            stage=x.current_stage, churn_probability=x.churn_probability, revenue_at_risk=ctx.major(x.revenue_at_risk_cents),
            predicted_path=list(x.predicted_path),
            playbook_id=best[x.customer_id].playbook_id if x.customer_id in best else None,
            playbook_needs_approval=best[x.customer_id].approval_required if x.customer_id in best else None,
        ) for x in top],
    )  # fmt: skip


JOURNEY_OVERVIEW: ViewSpec[DateArgs, JourneyOverview] = ViewSpec(
    name="journey_overview",
    args=DateArgs,
    result=JourneyOverview,
    description="Customer journeys at a date: customers per stage (onboarding, engagement, support, retention, "
    "churn_risk, churned), the flows between stages over the last 30 days and the stage leaking most customers to churned.",
    tool="get_journey_overview",
    guidance="Use it when the merchant asks where customers are in their journey or where the journey leaks.",
    build=journey_overview,
    examples=({},),
)

CUSTOMER_JOURNEY: ViewSpec[CustomerJourneyArgs, CustomerJourney] = ViewSpec(
    name="customer_journey",
    args=CustomerJourneyArgs,
    result=CustomerJourney,
    description="One customer's journey at a date: stage and why, risk, tenure, churn forecast (path, probability, "
    "revenue at risk), the playbooks that apply today and the interventions on record with their measured outcomes.",
    tool="get_customer_journey",
    guidance="Use it when the merchant asks about one customer's journey, which playbook fits them or what was done for them.",
    build=customer_journey,
    cacheable=False,
    examples=({"customer_id": "C000042"},),
)

CHURN_FORECAST: ViewSpec[ChurnForecastArgs, ChurnForecast] = ViewSpec(
    name="churn_forecast",
    args=ChurnForecastArgs,
    result=ChurnForecast,
    description="Churn forecasts at a date (model, base rate, probabilities calibrated on the past 90 days): the "
    "customers with the most revenue at risk, each with the playbook matching recommends.",
    tool="get_churn_forecast",
    guidance="Use it when the merchant asks who is likely to leave, how much revenue is at risk or whom to save first.",
    build=churn_forecast,
    cacheable=False,
    examples=({}, {"journey_stage": "churn_risk", "limit": 5}),
)
