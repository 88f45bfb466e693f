"""Playbooks and what they achieved, as registered views: ``playbooks`` (the catalogue with each
playbook's status and the customers it would take today), ``playbook_performance`` (the learning
loop's log: runs, success rate, cost, value, ROI per playbook and segment, and the retired ones) and
``portfolio_snapshot`` (customers, those at high risk, revenue at risk, the leaking stage, the best
playbooks).

Each reads the operations store (the orchestrator's runs, the outcomes measured outside them), so
none is cached. The arithmetic is :mod:`app.journeys.learning`'s; docs/closed_loop.md defines it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import ClassVar, Literal

from pydantic import Field

from app.errors import DataUnavailableError
from app.journeys import records
from app.journeys.learning import PortfolioSnapshot, portfolio_snapshot
from app.journeys.playbooks import load_playbooks
from app.views.base import MoneyResult, ViewArgs, ViewModel
from app.views.common import ViewContext
from app.views.journey_data import (
    NO_LOOP_STORE,
    forecasts_at,
    horizon_days,
    matches,
    positions_at,
    run_ids,
    stage_moves,
)
from app.views.journeys import loop_of
from app.views.registry import ViewSpec
from app.views.retention_ops import DateArgs, day_within

__all__ = [
    "PlaybookItem",
    "Recommendation",
    "PlaybookCatalogue",
    "PerformanceArgs",
    "PerformanceView",
    "PlaybookPerformance",
    "SnapshotView",
    "PLAYBOOKS",
    "PLAYBOOK_PERFORMANCE",
    "PORTFOLIO_SNAPSHOT",
]


# --------------------------------------------------------------------------- playbooks


class SegmentCount(ViewModel):
    segment: str
    customers: int


class PlaybookItem(ViewModel):
    playbook_id: str
    name: str
    journey_stage: str
    eligible_segments: list[str]
    risk_threshold: float
    actions: list[str]
    approval_required: bool
    avg_cost_estimate: float = Field(description="per customer, in the merchant's currency")
    expected_value_range: tuple[float, float]
    status: str = Field(description="active | draft | retired (the file's status, or retired by the latest run)")
    retired_on: dt.date | None = Field(description="the day the latest orchestrator run retired it")
    eligible_customers: int = Field(description="customers for whom matching recommends this playbook today")
    by_segment: list[SegmentCount] = Field(description="those customers by segment")
    expected_cost: float = Field(description="sum over those customers")
    expected_value: float = Field(description="sum over those customers")


class Recommendation(ViewModel):
    playbook_id: str
    name: str
    segment: str
    customers: int = Field(description="customers of the segment matching gives this playbook today")
    expected_value: float
    expected_cost: float
    approval_required: bool


class PlaybookCatalogue(MoneyResult):
    """Every playbook with its status and the customers matching gives it at ``date``."""

    view: ClassVar[str] = "playbooks"
    date: dt.date
    run_id: int | None = Field(description="the orchestrator run whose retirements and performance apply (null: none)")
    playbooks: list[PlaybookItem]
    recommended: list[Recommendation] = Field(description="playbook x segment with customers today, most expected net "
                                              "value (value - cost) first")  # fmt: skip

    def to_text(self) -> str:
        head = (f"Playbooks on {self.date}" + (f" (retirements of orchestrator run #{self.run_id})" if self.run_id else "")
                + ":")  # fmt: skip
        lines = [head]
        for p in self.playbooks:
            status = f"retired on {p.retired_on}" if p.retired_on else p.status
            segs = ", ".join(f"{s.segment} {s.customers}" for s in p.by_segment) or "none"
            lines.append(f"  {p.playbook_id} {p.name} ({p.journey_stage}, {status}{', needs approval' if p.approval_required else ''}): "
                         f"{' + '.join(p.actions)}; {p.eligible_customers} customers today ({segs}), expected value "
                         f"{self.money(p.expected_value)} for {self.money(p.expected_cost)}")  # fmt: skip
        lines.append("Recommended, most expected net value first: " + ("; ".join(
            f"{r.playbook_id} for {r.segment} ({r.customers} customers, value {self.money(r.expected_value)} for "
            f"{self.money(r.expected_cost)}{', needs approval' if r.approval_required else ''})" for r in self.recommended[:5])
            or "none (no customer matches a playbook today)"))  # fmt: skip
        return "\n".join(lines)


def playbook_catalogue(ctx: ViewContext, args: DateArgs) -> PlaybookCatalogue:
    day = day_within(ctx.as_of, ctx.data_start, args.date)
    state = loop_of(ctx, day)
    found, _ = matches(ctx.conn, day, ctx.memo, state)
    taken: dict[str, Counter[str]] = defaultdict(Counter)
    cost: dict[str, int] = defaultdict(int)
    value: dict[str, int] = defaultdict(int)
    pairs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # customers, value, cost
    for c in found:
        taken[c.playbook.playbook_id][c.segment] += 1
        cost[c.playbook.playbook_id] += c.expected_cost_cents
        value[c.playbook.playbook_id] += c.expected_value_cents
        pair = pairs[(c.playbook.playbook_id, c.segment)]
        pair[0], pair[1], pair[2] = pair[0] + 1, pair[1] + c.expected_value_cents, pair[2] + c.expected_cost_cents
    books = {p.playbook_id: p for p in load_playbooks().playbooks}
    recommended = [Recommendation(playbook_id=pid, name=books[pid].name, segment=seg, customers=n,
                                  expected_value=ctx.major(v), expected_cost=ctx.major(k),
                                  approval_required=books[pid].approval_required)
                   for (pid, seg), (n, v, k) in sorted(pairs.items(), key=lambda x: (x[1][2] - x[1][1], x[0]))]  # fmt: skip
    items = []
    for p in load_playbooks().playbooks:
        pid = p.playbook_id
        items.append(PlaybookItem(
            playbook_id=pid, name=p.name, journey_stage=p.journey_stage, eligible_segments=list(p.eligible_segments),
            risk_threshold=p.risk_threshold, actions=list(p.default_actions), approval_required=p.approval_required,
            avg_cost_estimate=p.avg_cost_estimate, expected_value_range=p.expected_value_range,
            status="retired" if pid in state.retired else p.status, retired_on=state.retired.get(pid),
            eligible_customers=sum(taken[pid].values()),
            by_segment=[SegmentCount(segment=s, customers=n) for s, n in sorted(taken[pid].items(), key=lambda x: (-x[1], x[0]))],
            expected_cost=ctx.major(cost[pid]), expected_value=ctx.major(value[pid]),
        ))  # fmt: skip
    return PlaybookCatalogue(as_of=ctx.as_of, currency=ctx.currency, date=day, run_id=state.run_id, playbooks=items,
                             recommended=recommended)  # fmt: skip


# --------------------------------------------------------------------------- playbook_performance


class PerformanceArgs(ViewArgs):
    run_id: int | None = Field(default=None, ge=1, description="The orchestrator run; default: the latest one, "
                               "else the outcomes measured outside runs (interventions CJ launched).")  # fmt: skip


class PerformanceView(ViewModel):
    playbook_id: str
    segment: str
    runs: int
    success_rate: float
    avg_cost: float
    avg_value: float = Field(description="mean revenue saved against the untreated world")
    roi_ratio: float | None = Field(description="avg_value / avg_cost (null without cost)")
    override_rate: float
    last_updated: dt.date


class PlaybookPerformance(MoneyResult):
    """The performance log: per playbook and segment, what its measured interventions achieved."""

    view: ClassVar[str] = "playbook_performance"
    source: Literal["run", "outside_runs"] = Field(description="an orchestrator run's log, or the outcomes measured "
                                                   "outside runs")  # fmt: skip
    run_id: int | None
    measured_runs: int = Field(description="interventions measured (sum of runs)")
    total_cost: float
    total_value: float
    roi_ratio: float | None = Field(description="total value / total cost")
    rows: list[PerformanceView]
    retired: dict[str, dt.date] = Field(description="playbook -> the day the run retired it")

    def to_text(self) -> str:
        where = f"orchestrator run #{self.run_id}" if self.source == "run" else "outcomes measured outside runs"
        roi = f"{self.roi_ratio:.2f}" if self.roi_ratio is not None else "n/a"
        lines = [f"Playbook performance ({where}): {self.measured_runs} measured interventions, value "
                 f"{self.money(self.total_value)} for {self.money(self.total_cost)}, ROI {roi}"]  # fmt: skip
        for r in self.rows:
            rr = f"{r.roi_ratio:.2f}" if r.roi_ratio is not None else "n/a"
            lines.append(f"  {r.playbook_id} {r.segment}: {r.runs} runs, success {r.success_rate:.0%}, cost "
                         f"{self.money(r.avg_cost)}, value {self.money(r.avg_value)}, ROI {rr}, overridden {r.override_rate:.0%}")  # fmt: skip
        if not self.rows:
            lines.append(f"  ({self._or_missing('rows', 'no measured intervention yet')})")
        lines.append("Retired: " + (", ".join(f"{p} on {d}" for p, d in sorted(self.retired.items())) or "none"))
        return "\n".join(lines)


def playbook_performance(ctx: ViewContext, args: PerformanceArgs) -> PlaybookPerformance:
    if args.run_id is not None:
        known: list[int] = ctx.ops.read(run_ids) if ctx.ops is not None else []
        if args.run_id not in known:
            listed = ", ".join(f"#{r}" for r in known) or "none yet (the journey orchestrator writes them)"
            raise DataUnavailableError(f"no orchestrator run #{args.run_id}; runs in the store: {listed}; leave run_id "
                                       "out for the latest run")  # fmt: skip
    state = loop_of(ctx, ctx.as_of, args.run_id)
    runs = sum(r.runs for r in state.rows)
    cost = sum(r.avg_cost_cents * r.runs for r in state.rows)
    value = sum(r.avg_value_cents * r.runs for r in state.rows)
    return PlaybookPerformance(
        as_of=ctx.as_of, currency=ctx.currency, source="run" if state.run_id is not None else "outside_runs",
        run_id=state.run_id, measured_runs=runs, total_cost=ctx.major(round(cost)), total_value=ctx.major(round(value)),
        roi_ratio=round(value / cost, 4) if cost else None,
        rows=[PerformanceView(playbook_id=r.playbook_id, segment=r.segment, runs=r.runs, success_rate=r.success_rate,
                              avg_cost=ctx.major(r.avg_cost_cents), avg_value=ctx.major(r.avg_value_cents),
                              roi_ratio=r.roi_ratio, override_rate=r.override_rate, last_updated=r.last_updated)
              for r in state.rows],
        retired=state.retired, unavailable={} if ctx.ops is not None else {"rows": NO_LOOP_STORE},
    )  # fmt: skip


# --------------------------------------------------------------------------- portfolio_snapshot


class SnapshotView(MoneyResult):
    """The portfolio at a date: stored by an orchestrator run, or computed now."""

    view: ClassVar[str] = "portfolio_snapshot"
    date: dt.date
    source: Literal["stored", "computed"] = Field(description="stored: an orchestrator run's snapshot of generated_at; "
                                                  "computed: from the positions, forecasts and stored performance now")  # fmt: skip
    run_id: int | None
    snapshot_id: str
    generated_at: dt.date
    total_customers: int = Field(description="customers not churned")
    customers_at_high_risk: int
    revenue_at_risk: float = Field(description="sum of the forecasts' revenue at risk")
    top_leaking_stage: str | None
    top_playbooks: list[str] = Field(description="active playbooks with the best ROI, best first")

    def to_text(self) -> str:
        how = (f"stored by orchestrator run #{self.run_id} on {self.generated_at}" if self.source == "stored"
               else "computed from today's positions, forecasts and the stored performance")  # fmt: skip
        return (f"Portfolio snapshot {self.snapshot_id} ({how}): {self.total_customers} customers, "
                f"{self.customers_at_high_risk} at high risk, {self.money(self.revenue_at_risk)} revenue at risk; top leaking "
                f"stage {self.top_leaking_stage or 'none'}; best playbooks {', '.join(self.top_playbooks) or 'none measured yet'}")  # fmt: skip


def _stored(ctx: ViewContext, day: dt.date) -> tuple[int, PortfolioSnapshot] | None:
    if ctx.ops is None:
        return None

    def read(c) -> tuple[int, PortfolioSnapshot] | None:
        run = records.latest_run(c)
        if run is None:
            return None
        kept = [s for s in records.read_snapshots(c, run) if s.generated_at <= day]
        return (run, kept[-1]) if kept else None

    found: tuple[int, PortfolioSnapshot] | None = ctx.ops.read(read)
    return found


def portfolio_view(ctx: ViewContext, args: DateArgs) -> SnapshotView:
    day = day_within(ctx.as_of, ctx.data_start, args.date)
    found = _stored(ctx, day)
    if found is not None:
        run, snap = found
        source: Literal["stored", "computed"] = "stored"
    else:
        run, source = None, "computed"
        now = positions_at(ctx.conn, day, ctx.memo)
        start = day - dt.timedelta(days=horizon_days())
        moves = {} if ctx.data_start is not None and start < ctx.data_start else stage_moves(
            positions_at(ctx.conn, start, ctx.memo), now)  # fmt: skip
        f = forecasts_at(ctx.conn, day, ctx.memo)
        snap = portfolio_snapshot(day, {c: p.stage for c, p in now.items()}, {c: p.risk_bucket for c, p in now.items()},
                                  {c: x.revenue_at_risk_cents for c, x in f.forecasts.items()}, moves,
                                  loop_of(ctx, day).rows, load_playbooks())  # fmt: skip
    return SnapshotView(
        as_of=ctx.as_of, currency=ctx.currency, date=day, source=source, run_id=run, snapshot_id=snap.snapshot_id,
        generated_at=snap.generated_at, total_customers=snap.total_customers,
        customers_at_high_risk=snap.customers_at_high_risk, revenue_at_risk=ctx.major(snap.revenue_at_risk_cents),
        top_leaking_stage=snap.top_leaking_stage, top_playbooks=list(snap.top_playbooks),
    )  # fmt: skip


PLAYBOOKS: ViewSpec[DateArgs, PlaybookCatalogue] = ViewSpec(
    name="playbooks",
    args=DateArgs,
    result=PlaybookCatalogue,
    description="The journey playbooks: stage, segments, risk threshold, actions, approval, cost and value estimates, "
    "status (retired by the latest orchestrator run, with the day) and the customers each would take today by segment.",
    tool="get_playbooks",
    guidance="Use it when the merchant asks which playbooks exist, which to run for which segment, or how many "
    "customers one would reach.",
    build=playbook_catalogue,
    cacheable=False,
    examples=({},),
)

PLAYBOOK_PERFORMANCE: ViewSpec[PerformanceArgs, PlaybookPerformance] = ViewSpec(
    name="playbook_performance",
    args=PerformanceArgs,
    result=PlaybookPerformance,
    description="What the playbooks achieved, measured against the untreated world: runs, success rate, average cost "
    "and value, ROI and override rate per playbook and segment, and the playbooks retired for a low ROI.",
    tool="get_playbook_performance",
    guidance="Use it when the merchant asks which playbooks work, what they return per unit cost, or why one was retired.",
    build=playbook_performance,
    cacheable=False,
    examples=({},),
)

PORTFOLIO_SNAPSHOT: ViewSpec[DateArgs, SnapshotView] = ViewSpec(
    name="portfolio_snapshot",
    args=DateArgs,
    result=SnapshotView,
    description="The retention portfolio at a date: customers, those at high risk, revenue at risk, the top leaking "
    "stage and the best playbooks by ROI (the latest orchestrator run's stored snapshot, else computed now).",
    tool="get_portfolio_snapshot",
    guidance="Use it first when planning retention: it sizes the problem before choosing playbooks.",
    build=portfolio_view,
    cacheable=False,
    examples=({},),
)
