"""Matching customers to playbooks: which playbook, if any, each customer should get today.

A playbook is eligible for a customer when it is active (and not retired by a learning loop), its
stage is the customer's stage, the customer's segment is among its segments and their health risk
is at least its threshold (:meth:`~app.journeys.playbooks.Playbook.applies_to`). Among the eligible
ones the customer gets the playbook with the best expected net value:

* **expected cost**: the playbook's ``avg_cost_estimate``;
* **expected value**: the measured average value of the playbook's runs in the customer's segment
  once it has ``learned_after`` of them; else of its runs in all segments once it has that many;
  else its declared value (the middle of ``expected_value_range``) times the customer's churn
  probability - what it is worth if the customer would leave, times the chance they do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.journeys.forecast import Forecasts
from app.journeys.learning import PerformanceRow
from app.journeys.playbooks import Playbook, Playbooks
from app.journeys.stages import JourneyPosition
from app.storage.schema import customers

__all__ = ["LEARNED_AFTER", "Candidate", "candidates", "segments_of"]

LEARNED_AFTER = 10
"""Measured runs of a playbook in a segment after which its measured value replaces the declared one."""


@dataclass(frozen=True)
class Candidate:
    """The playbook a customer should get, with what it is expected to cost and bring."""

    customer_id: str
    segment: str
    stage: str
    risk: float
    playbook: Playbook
    churn_probability: float
    revenue_at_risk_cents: int
    expected_cost_cents: int
    expected_value_cents: int
    signals: tuple[str, ...]
    """What triggered it: the stage rule that placed the customer (the runtime adds their heaviest signals)."""

    @property
    def expected_roi(self) -> float | None:
        return self.expected_value_cents / self.expected_cost_cents if self.expected_cost_cents else None


def segments_of(conn: Connection, customer_ids: Iterable[str] | None = None) -> dict[str, str]:
    """Customer -> segment (the customer's ``segment_hint``); all customers when ``customer_ids`` is None."""
    q = sa.select(customers.c.customer_id, customers.c.segment_hint)
    rows = conn.execute(q).all()
    wanted = None if customer_ids is None else set(customer_ids)
    return {str(c): str(s) for c, s in rows if wanted is None or c in wanted}


def candidates(positions: dict[str, JourneyPosition], forecasts: Forecasts, segments: dict[str, str],
               playbooks: Playbooks, *, exclude: Iterable[str] = frozenset(), retired: Iterable[str] = frozenset(),
               performance: Iterable[PerformanceRow] = (), learned_after: int = LEARNED_AFTER) -> list[Candidate]:  # fmt: skip
    """The best playbook for every customer who has one, most expected value first (ties: customer id).

    ``exclude``: customers not to consider (e.g. an intervention still running); ``retired``:
    playbooks a learning loop retired; ``performance``: the latest performance rows.
    """
    skip, gone = set(exclude), set(retired)
    usable = [p for p in playbooks.playbooks if p.status == "active" and p.playbook_id not in gone]
    rows = list(performance)
    learned: dict[tuple[str, str], float] = {(r.playbook_id, r.segment): r.avg_value_cents for r in rows
                                             if r.runs >= learned_after}  # fmt: skip
    pooled: dict[str, list[float]] = {}
    for r in rows:
        total = pooled.setdefault(r.playbook_id, [0.0, 0.0])
        total[0] += r.avg_value_cents * r.runs
        total[1] += r.runs
    for pid, (value, runs) in pooled.items():
        if runs >= learned_after:
            learned.setdefault((pid, ""), value / runs)
    out = []
    for cid, pos in positions.items():
        f = forecasts.forecasts.get(cid)
        if cid in skip or f is None or pos.risk is None:
            continue
        segment = segments.get(cid, "")
        best: Candidate | None = None
        for p in usable:
            if not p.applies_to(pos.stage, segment, pos.risk):
                continue
            cost = round(p.avg_cost_estimate * 100)
            prior = (p.expected_value_range[0] + p.expected_value_range[1]) / 2 * 100 * f.churn_probability
            value = round(learned.get((p.playbook_id, segment), learned.get((p.playbook_id, ""), prior)))
            if best is None or value - cost > best.expected_value_cents - best.expected_cost_cents:
                best = Candidate(cid, segment, pos.stage, pos.risk, p, f.churn_probability, f.revenue_at_risk_cents,
                                 cost, value, (pos.reason,))  # fmt: skip
        if best is not None:
            out.append(best)
    return sorted(out, key=lambda c: (-(c.expected_value_cents - c.expected_cost_cents), c.customer_id))
