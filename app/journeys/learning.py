"""The learning loop's arithmetic: intervention outcomes -> playbook performance -> retirement, and
the portfolio snapshot (seed 000's ``outcomes``, ``playbook_performance_log`` and
``portfolio_snapshots``).

Money is in minor units throughout. Definitions:

* an outcome's **playbook_success**: the customer was kept (would have cancelled within the
  horizon and did not), or the revenue saved exceeds the cost;
* per playbook x segment: **runs**, **success_rate** = successes / runs, **avg_cost**,
  **avg_value** (mean revenue saved), **roi_ratio** = avg_value / avg_cost (None without cost),
  **override_rate** = runs a human overrode / runs;
* a playbook is **retired** when, over all its segments, it has at least ``min_runs`` runs and
  even the upper end of its value's one-sided 95% interval per unit of cost is below ``roi_floor``
  (:func:`to_retire`);
* the snapshot: customers not churned, those at high risk, the revenue at risk (sum of the
  forecasts'), the **top leaking stage** (the stage that lost most customers to ``churned`` over
  the last transition window; ties: the earlier stage of the journey) and the top playbooks by
  ROI (active ones with runs, best first).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from app.journeys.playbooks import JOURNEY_STAGES, Playbooks

RETIRE_Z = 1.645
"""One-sided 95%: a playbook is retired only when its value is clearly below the floor."""
LEARNED_AFTER = 10
"""Measured runs after which a playbook's measured value replaces its declared one."""

__all__ = ["RETIRE_Z", "LEARNED_AFTER", "Run", "value_per_risk", "Outcome", "PerformanceRow", "performance", "to_retire", "PortfolioSnapshot", "portfolio_snapshot"]


@dataclass(frozen=True)
class Outcome:
    """What one intervention did, measured after the horizon against the untreated world."""

    intervention_id: str
    customer_id: str
    playbook_id: str
    segment: str
    outcome: str
    resolution_time_days: int | None
    churn_risk_delta: float | None
    revenue_saved_cents: int
    cost_cents: int
    kept: bool
    human_override: bool
    measured_at: dt.date

    @property
    def playbook_success(self) -> bool:
        return self.kept or self.revenue_saved_cents > self.cost_cents


@dataclass(frozen=True)
class Run:
    """One measured run as the value estimate sees it: the churn probability it was decided on and
    the revenue it saved."""

    playbook_id: str
    segment: str
    churn_probability: float
    revenue_saved_cents: int


def value_per_risk(runs: list[Run], learned_after: int = LEARNED_AFTER, z: float = RETIRE_Z,
                   ) -> dict[tuple[str, str], float]:  # fmt: skip
    """What a playbook saves per unit of the customer's churn probability, optimistically: the upper
    end of the one-sided interval (mean + ``z`` x standard error) of ``saved / churn probability``
    over its runs, per (playbook, segment) with at least ``learned_after`` runs and per
    (playbook, ``""``) over all its segments.

    Why per unit of churn probability: a customer twice as likely to leave has twice as much to
    save, so the estimate carries over to customers at other risks. Why optimistic: a playbook whose
    few wins have not shown yet keeps being tried until its interval says it does not pay
    (:func:`to_retire`), instead of being dropped for a noisy early mean.
    """
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in runs:
        ratio = r.revenue_saved_cents / max(r.churn_probability, 0.01)
        groups[(r.playbook_id, r.segment)].append(ratio)
        groups[(r.playbook_id, "")].append(ratio)
    out = {}
    for key, values in sorted(groups.items()):
        n = len(values)
        if n < learned_after:
            continue
        mean = sum(values) / n
        sd = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5 if n > 1 else 0.0
        out[key] = round(mean + z * sd / n**0.5, 2)
    return out


@dataclass(frozen=True)
class PerformanceRow:
    """One playbook in one segment (``playbook_performance_log``)."""

    playbook_id: str
    segment: str
    runs: int
    success_rate: float
    avg_cost_cents: float
    avg_value_cents: float
    roi_ratio: float | None
    override_rate: float
    last_updated: dt.date


def performance(outcomes: list[Outcome], day: dt.date) -> list[PerformanceRow]:
    """Performance per playbook x segment over ``outcomes``, sorted by playbook and segment."""
    groups: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[(o.playbook_id, o.segment)].append(o)
    rows = []
    for (pid, seg), runs in sorted(groups.items()):
        n = len(runs)
        cost = sum(o.cost_cents for o in runs) / n
        value = sum(o.revenue_saved_cents for o in runs) / n
        rows.append(PerformanceRow(
            playbook_id=pid, segment=seg, runs=n,
            success_rate=round(sum(o.playbook_success for o in runs) / n, 4),
            avg_cost_cents=round(cost, 2), avg_value_cents=round(value, 2),
            roi_ratio=round(value / cost, 4) if cost else None,
            override_rate=round(sum(o.human_override for o in runs) / n, 4),
            last_updated=day,
        ))  # fmt: skip
    return rows


def to_retire(outcomes: list[Outcome], roi_floor: float, min_runs: int, z: float = RETIRE_Z) -> list[str]:
    """Playbooks to retire: at least ``min_runs`` runs over all segments, and even the upper end of
    their mean value's one-sided interval (mean + ``z`` x standard error) per unit of mean cost is
    below ``roi_floor``.

    Why an interval: a retention action's value is rare large wins (a kept customer) among many
    zeros, so a cheap action that works can show no win in its first runs; judging on the point
    estimate would retire it by bad luck. ``z=0`` judges on the point estimate.
    """
    values: dict[str, list[int]] = defaultdict(list)
    costs: dict[str, int] = defaultdict(int)
    for o in outcomes:
        values[o.playbook_id].append(o.revenue_saved_cents)
        costs[o.playbook_id] += o.cost_cents
    out = []
    for pid, v in sorted(values.items()):
        n = len(v)
        if n < min_runs or costs[pid] <= 0:
            continue
        mean = sum(v) / n
        sd = (sum((x - mean) ** 2 for x in v) / (n - 1)) ** 0.5 if n > 1 else 0.0
        if (mean + z * sd / n**0.5) / (costs[pid] / n) < roi_floor:
            out.append(pid)
    return out


@dataclass(frozen=True)
class PortfolioSnapshot:
    """The portfolio at a date (``portfolio_snapshots``)."""

    snapshot_id: str
    total_customers: int
    customers_at_high_risk: int
    revenue_at_risk_cents: int
    top_leaking_stage: str | None
    top_playbooks: tuple[str, ...]
    generated_at: dt.date


def portfolio_snapshot(day: dt.date, stages: dict[str, str], buckets: dict[str, str | None],
                       revenue_at_risk: dict[str, int], moves: dict[str, dict[str, int]],
                       rows: list[PerformanceRow], playbooks: Playbooks, top: int = 2) -> PortfolioSnapshot:  # fmt: skip
    """The snapshot of ``day``.

    ``stages`` and ``buckets``: each customer's stage and risk bucket at the date; ``revenue_at_risk``:
    the forecasts'; ``moves``: stage -> next stage -> customers over the last window; ``rows``: the
    performance log.
    """
    leaks = {s: n.get("churned", 0) for s, n in moves.items() if s != "churned" and n.get("churned", 0)}
    leaking = min(leaks, key=lambda s: (-leaks[s], JOURNEY_STAGES.index(s))) if leaks else None
    active = {p.playbook_id for p in playbooks.playbooks if p.status == "active"}
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in rows:
        if r.playbook_id in active:
            totals[r.playbook_id][0] += r.avg_value_cents * r.runs
            totals[r.playbook_id][1] += r.avg_cost_cents * r.runs
    ranked = sorted((p for p in totals if totals[p][1] > 0), key=lambda p: (-totals[p][0] / totals[p][1], p))
    live = [c for c, s in stages.items() if s != "churned"]
    return PortfolioSnapshot(
        snapshot_id=f"PS_{day:%Y_%m_%d}",
        total_customers=len(live),
        customers_at_high_risk=sum(buckets.get(c) == "high" for c in live),
        revenue_at_risk_cents=sum(revenue_at_risk.get(c, 0) for c in live),
        top_leaking_stage=leaking,
        top_playbooks=tuple(ranked[:top]),
        generated_at=day,
    )
