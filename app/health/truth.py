"""Alerts measured against a generated world's own future: did the customer leave within
``monitoring.horizon_days`` after the alert's date?

A generated world holds its near future (DESIGN.md section 9, the closed loop), so the truth of every
alert is known: a subscriber *leaves* when a subscription of theirs is cancelled in
``(date, date + horizon]`` and none stays active; a customer without subscriptions (orders-only)
leaves when no charged order falls in ``(date + horizon - lapsed_days, date + horizon]`` (they are
INACTIVE at the horizon).

Per severity: precision (alerts of that severity whose customer left / its alerts), recall at or
above it (leavers with a risk alert of that severity or worse / all scored leavers) and the mean
lead time (days from the date to the cancellation, over the alerts proved right). Upsell
opportunities are measured by the share of customers who stayed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.errors import InvalidArgumentError
from app.formatting import rate_pct
from app.health.frame import rows_from
from app.health.inputs import remembered
from app.health.score import score_all
from app.health.settings import HealthSettings, load_health_settings
from app.storage import order_queries as oq
from app.storage import queries as q
from app.storage.schema import orders, subscriptions

if TYPE_CHECKING:
    from app.agents.data_agent import DataAgent

__all__ = ["SeverityAccuracy", "AccuracyReport", "leavers", "leavers_at", "measure", "measure_world", "customer_left"]

RISK_SEVERITIES = ("critical", "high", "medium")


class SeverityAccuracy(BaseModel):
    severity: str
    alerts: int
    right: int = Field(description="alerts whose customer left within the horizon")
    precision: float | None
    recall_at_or_above: float | None = Field(description="leavers with a risk alert this severe or worse / leavers")
    mean_lead_days: float | None


class AccuracyReport(BaseModel):
    """How a date's alerts fared against what happened next."""

    date: dt.date
    horizon_days: int
    model_version: str
    scored: int
    leavers: int
    severities: list[SeverityAccuracy]
    upsell_alerts: int
    upsell_stayed: float | None = Field(description="share of upsell opportunities whose customer stayed")

    def of(self, severity: str) -> SeverityAccuracy:
        return next(s for s in self.severities if s.severity == severity)

    def to_text(self) -> str:
        lines = [f"Alerts of {self.date} against the next {self.horizon_days} days ({self.model_version}): "
                 f"{self.scored} scored, {self.leavers} left"]  # fmt: skip
        for s in self.severities:
            lead = "n/a" if s.mean_lead_days is None else f"{s.mean_lead_days:.1f} days"
            lines.append(f"  {s.severity}: {s.alerts} alerts, {s.right} right, precision {rate_pct(s.precision)}, "
                         f"recall at or above {rate_pct(s.recall_at_or_above)}, lead {lead}")  # fmt: skip
        stayed = rate_pct(self.upsell_stayed, 0)
        lines.append(f"  upsell_opportunity: {self.upsell_alerts} alerts, {stayed} stayed")
        return "\n".join(lines)


def leavers(conn: Connection, customer_ids: Iterable[str], day: dt.date, s: HealthSettings) -> dict[str, int]:
    """Customer (of those scored at ``day``) -> days from ``day`` to their leaving, for those who left
    within the horizon."""
    return leavers_at(conn, {day: customer_ids}, s)[day]


def leavers_at(conn: Connection, scored: Mapping[dt.date, Iterable[str]], s: HealthSettings) -> dict[dt.date, dict[str, int]]:
    """:func:`leavers` at several dates (date -> the customers scored then), the subscriptions read once."""
    if not scored:
        return {}
    h = dt.timedelta(days=s.monitoring.horizon_days)
    date = remembered(q.as_date)
    sub = subscriptions.c
    subs: dict[str, list[tuple[dt.date, dt.date | None]]] = {}
    for cid, started, cancelled in q.driver_rows(conn, select(sub.customer_id, sub.started_on, sub.cancelled_on)
                                                 .where(sub.started_on <= max(scored) + h)):  # fmt: skip
        subs.setdefault(str(cid), []).append((date(started), None if cancelled is None else date(cancelled)))
    o = orders.c
    result = {}
    for day, customer_ids in scored.items():
        end = day + h
        lapse_from = end - dt.timedelta(days=s.usage.lapsed_days)
        still_buying = {str(c) for (c,) in q.driver_rows(conn, (
            select(o.customer_id).where(o.ordered_on > lapse_from, o.ordered_on <= end, o.status.in_(oq.CHARGED))
            .group_by(o.customer_id)
        ))}  # fmt: skip
        out: dict[str, int] = {}
        for cid in customer_ids:
            own = [(started, c) for started, c in subs.get(cid, ()) if started <= end]
            if own:
                cancels = [c for _, c in own if c is not None and day < c <= end]
                if cancels and not any(c is None or c > end for _, c in own):
                    out[cid] = (max(cancels) - day).days
            elif cid not in still_buying:
                out[cid] = h.days
        result[day] = out
    return result


def measure(conn: Connection, day: dt.date, s: HealthSettings | None = None) -> AccuracyReport:
    """Score ``day`` and measure its alerts against the rows after it (the connection must hold them)."""
    s = s or load_health_settings()
    rows = rows_from(score_all(conn, day, s), s)
    left = leavers(conn, [r.customer_id for r in rows], day, s)
    risky = [r for r in rows if r.alert and r.alert.alert_type != "upsell_opportunity"]
    severities = []
    for i, sev in enumerate(RISK_SEVERITIES):
        mine = [r for r in risky if r.alert and r.alert.severity == sev]
        right = [r for r in mine if r.customer_id in left]
        caught = {r.customer_id for r in risky if r.alert and r.alert.severity in RISK_SEVERITIES[: i + 1]} & set(left)
        severities.append(SeverityAccuracy(
            severity=sev, alerts=len(mine), right=len(right),
            precision=round(len(right) / len(mine), 4) if mine else None,
            recall_at_or_above=round(len(caught) / len(left), 4) if left else None,
            mean_lead_days=round(sum(left[r.customer_id] for r in right) / len(right), 2) if right else None,
        ))  # fmt: skip
    upsell = [r for r in rows if r.alert and r.alert.alert_type == "upsell_opportunity"]
    stayed = sum(r.customer_id not in left for r in upsell)
    return AccuracyReport(date=day, horizon_days=s.monitoring.horizon_days, model_version=s.model_version,
                          scored=len(rows), leavers=len(left), severities=severities, upsell_alerts=len(upsell),
                          upsell_stayed=round(stayed / len(upsell), 4) if upsell else None)  # fmt: skip


def _latest(agent: DataAgent, s: HealthSettings) -> dt.date:
    """The latest date whose horizon the world has simulated."""
    return agent.world.horizon - dt.timedelta(days=s.monitoring.horizon_days)


def customer_left(agent: DataAgent, customer_id: str, day: dt.date, s: HealthSettings | None = None) -> bool | None:
    """Whether a customer scored at ``day`` left within the horizon after it in the world's future (the
    rule of :func:`leavers`); None when the world is not simulated up to ``day`` + the horizon."""
    s = s or load_health_settings()
    if day > _latest(agent, s):
        return None
    with agent.engine.connect() as conn:
        return customer_id in leavers(conn, [customer_id], day, s)


def measure_world(agent: DataAgent, day: dt.date | None = None, s: HealthSettings | None = None) -> AccuracyReport:
    """Measure a generated world's alerts of ``day`` (default: the latest date whose horizon the world
    has simulated) against its future.

    Raises:
        InvalidArgumentError: the horizon after ``day`` reaches past the simulated future, or ``day``
            lies before the world's history.
    """
    s = s or load_health_settings()
    h = dt.timedelta(days=s.monitoring.horizon_days)
    latest = _latest(agent, s)
    day = day or latest
    if day > latest:
        raise InvalidArgumentError(f"--date {day}: the world is simulated up to {agent.world.horizon}, so alerts can be "
                                   f"checked {h.days} days ahead up to {latest}; choose a date on or before it")  # fmt: skip
    agent.check_as_of(day, label="--date")
    with agent.engine.connect() as conn:
        return measure(conn, day, s)
