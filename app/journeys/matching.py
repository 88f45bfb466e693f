"""Matching customers to playbooks: which playbook, if any, each customer should get today.

A playbook is eligible for a customer when it is active (and not retired by a learning loop), its
stage is the customer's stage, the customer's segment is among its segments and their health risk
is at least its threshold (:meth:`~app.journeys.playbooks.Playbook.applies_to`). Among the eligible
ones the customer gets the playbook with the best expected net value:

* **expected cost**: the playbook's ``avg_cost_estimate``;
* **expected value**: the customer's churn probability times the playbook's value per unit of
  churn probability: measured (:func:`~app.journeys.learning.value_per_risk`, optimistic) in the
  customer's segment once it has enough runs there, else over all its segments once it has
  enough, else declared (the middle of ``expected_value_range``: what it is worth if the customer
  would leave).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.journeys.forecast import Forecasts
from app.journeys.playbooks import Playbook, Playbooks
from app.journeys.stages import JourneyPosition
from app.storage.schema import customers

__all__ = ["Candidate", "candidates", "segments_of"]


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


_FEW = 900
"""Up to this many customers are looked up by key in one query (under SQLite's oldest limit of 999
bound parameters); more are read with everyone and picked out."""


def segments_of(conn: Connection, customer_ids: Iterable[str] | None = None) -> dict[str, str]:
    """Customer -> segment (the customer's ``segment_hint``); all customers when ``customer_ids`` is None."""
    q = sa.select(customers.c.customer_id, customers.c.segment_hint)
    wanted = None if customer_ids is None else set(customer_ids)
    if wanted is not None and len(wanted) <= _FEW:
        q = q.where(customers.c.customer_id.in_(sorted(wanted)))
    return {str(c): str(s) for c, s in conn.execute(q) if wanted is None or c in wanted}


def candidates(positions: dict[str, JourneyPosition], forecasts: Forecasts, segments: dict[str, str],
               playbooks: Playbooks, *, exclude: Iterable[str] = frozenset(), retired: Iterable[str] = frozenset(),
               learned: Mapping[tuple[str, str], float] | None = None) -> list[Candidate]:  # fmt: skip
    """The best playbook for every customer who has one, most expected value first (ties: customer id).

    ``exclude``: customers not to consider (e.g. an intervention still running); ``retired``:
    playbooks a learning loop retired; ``learned``: measured value per unit of churn probability
    by (playbook, segment) and (playbook, ``""``) (:func:`~app.journeys.learning.value_per_risk`).
    """
    skip, gone = set(exclude), set(retired)
    usable: dict[str, list[Playbook]] = {}  # by stage, in file order: most customers' stage has none
    for p in playbooks.playbooks:
        if p.status == "active" and p.playbook_id not in gone:
            usable.setdefault(p.journey_stage, []).append(p)
    learned = learned or {}
    out = []
    for cid, pos in positions.items():
        mine = usable.get(pos.stage)
        if not mine:
            continue
        f = forecasts.forecasts.get(cid)
        if cid in skip or f is None or pos.risk is None:
            continue
        segment = segments.get(cid, "")
        best: Candidate | None = None
        for p in mine:
            if not p.applies_to(pos.stage, segment, pos.risk):
                continue
            cost = round(p.avg_cost_estimate * 100)
            per_risk = learned.get((p.playbook_id, segment), learned.get(
                (p.playbook_id, ""), (p.expected_value_range[0] + p.expected_value_range[1]) / 2 * 100))  # fmt: skip
            value = round(per_risk * f.churn_probability)
            if best is None or value - cost > best.expected_value_cents - best.expected_cost_cents:
                best = Candidate(cid, segment, pos.stage, pos.risk, p, f.churn_probability, f.revenue_at_risk_cents,
                                 cost, value, (pos.reason,))  # fmt: skip
        if best is not None:
            out.append(best)
    return sorted(out, key=lambda c: (-(c.expected_value_cents - c.expected_cost_cents), c.customer_id))
