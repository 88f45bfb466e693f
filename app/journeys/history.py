"""What the forecast and signal models are fitted on: each customer's health risk, who left, and the
journey stages, at past dates (the anchors ``d - H``, ``d - 2H``, ... of :mod:`app.journeys.forecast`).

Both fits read the same dates, and only these three things of them, so they ask a :class:`History`.
:class:`SourceHistory` computes each from the database and remembers it; the orchestrator keeps its
own (:class:`app.journeys.runtime.RunHistory`): the dates before its first day scored once at setup
(:func:`risks_at`), the later ones kept from the days it observed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Protocol

from sqlalchemy.engine import Connection

from app.health.frame import HealthSet
from app.health.inputs import SubscriptionFact, gather_inputs_at, source_coverage
from app.health.score import risks_of
from app.health.settings import HealthSettings
from app.health.store import Memo, health_at, health_dates
from app.health.truth import leavers, leavers_at
from app.journeys.stages import JourneyPosition, JourneySettings, first_days, journey_positions
from app.storage.bulk import paused_gc

__all__ = ["History", "SourceHistory", "RunHistory", "risks_at", "anchors"]

_GATHERED = 4
"""Dates whose inputs :func:`risks_at` gathers together."""


def anchors(day: dt.date, horizon_days: int, count: int) -> list[dt.date]:
    """The ``count`` anchors of a fit at ``day``: ``day - H``, ``day - 2H``, ..."""
    return [day - dt.timedelta(days=k * horizon_days) for k in range(1, count + 1)]


class History(Protocol):
    """Past dates as the fits read them."""

    def risks(self, day: dt.date) -> Mapping[str, float]:
        """Each customer scored at ``day`` -> their health risk."""

    def leavers(self, day: dt.date) -> Collection[str]:
        """The customers scored at ``day`` who left within the horizon after it."""

    def stages(self, day: dt.date) -> Mapping[str, str]:
        """Every customer's journey stage at ``day``."""


class SourceHistory:
    """A :class:`History` computed from the database, each date once.

    ``memo`` remembers the health of each date (a provider's ``source_memo``, shared with the views).
    """

    def __init__(self, conn: Connection, s: HealthSettings, memo: Memo | None = None,
                 settings: JourneySettings | None = None) -> None:  # fmt: skip
        self.conn, self.s, self.memo, self.settings = conn, s, memo, settings
        self._left: dict[dt.date, Collection[str]] = {}

    def _health(self, day: dt.date) -> HealthSet:
        return health_at(self.conn, day, self.s, self.memo)

    def risks(self, day: dt.date) -> Mapping[str, float]:
        health = self._health(day)
        return {r.customer_id: r.risk for r in health.worst(health.size())}

    def leavers(self, day: dt.date) -> Collection[str]:
        if day not in self._left:
            self._left[day] = leavers(self.conn, list(self.risks(day)), day, self.s)
        return self._left[day]

    def stages(self, day: dt.date) -> Mapping[str, str]:
        positions = journey_positions(self.conn, day, self.settings, self._health(day), self.s)
        return {c: p.stage for c, p in positions.items()}


def risks_at(conn: Connection, days: list[dt.date], s: HealthSettings,
             subscriptions: Mapping[str, list[SubscriptionFact]] | None = None) -> dict[dt.date, dict[str, float]]:  # fmt: skip
    """Each customer's health risk at each of ``days``, as :func:`~app.health.store.health_at` scores it,
    their inputs gathered together and nothing kept but the risk: what the fits read of many dates.
    ``subscriptions``: as :func:`~app.health.inputs.gather_inputs_at` takes them."""
    stored = health_dates(conn)
    out: dict[dt.date, dict[str, float]] = {}
    for day in [d for d in days if d in stored]:
        health = health_at(conn, day, s)
        out[day] = {r.customer_id: r.risk for r in health.worst(health.size())}
    todo = [d for d in days if d not in stored]
    cov = source_coverage(conn)
    with paused_gc():
        for at in range(0, len(todo), _GATHERED):  # a few dates at a time: their inputs are large
            for day, inputs in gather_inputs_at(conn, todo[at:at + _GATHERED], s, subscriptions).items():
                out[day] = risks_of(inputs, s, cov)
    return out


class RunHistory:
    """The orchestrator's :class:`History` over one run (first day to last, refits every
    ``refit_every`` days from the first): every date a refit reads is scored once.

    :meth:`prepare` scores the dates before the first day at setup, all together and keeping only the
    risks (no intervention has landed then, so they are final); :meth:`observed` keeps the risks of a
    run day a later refit reads, from the health the day computed anyway. Stages at ``d - H`` come
    from the days observed, or for dates before the first day from their kept risks. Leavers look
    forward: those of a date whose horizon ends by the first day are final at setup too (the first
    intervention lands the day after), the others are counted at each refit (:meth:`reader`), once
    for both fits.
    """

    def __init__(self, s: HealthSettings, settings: JourneySettings, first: dt.date, last: dt.date,
                 refit_every: int, anchor_count: int) -> None:  # fmt: skip
        self.s, self.settings, self.first, self.anchor_count = s, settings, first, anchor_count
        h = s.monitoring.horizon_days
        refits = [first + dt.timedelta(days=d) for d in range(0, (last - first).days + 1, refit_every)]
        self.needed_until: dict[dt.date, dt.date] = {}
        """Each date whose risks a refit reads -> the last refit that reads them."""
        self.stages_until: dict[dt.date, dt.date] = {}
        """Each date whose stages a refit reads (its own, and ``H`` days before) -> the last such refit."""
        for r in refits:
            for a in anchors(r, h, anchor_count):
                self.needed_until[a] = max(self.needed_until.get(a, r), r)
            for a in (r - dt.timedelta(days=h), r):
                self.stages_until[a] = max(self.stages_until.get(a, r), r)
        self.before = sorted(a for a in self.needed_until if a < first)
        self._risks: dict[dt.date, Mapping[str, float]] = {}
        self._stages: dict[dt.date, Mapping[str, str]] = {}
        self._left: dict[dt.date, Collection[str]] = {}
        """Leavers of the dates whose horizon ends by the first day (final at setup)."""

    def prepare(self, conn: Connection) -> None:
        """Score the dates before the first day that the refits read, and count the leavers of those
        whose horizon ends by then (at setup)."""
        if not self.before:
            return
        self._risks.update(risks_at(conn, self.before, self.s))
        h = dt.timedelta(days=self.s.monitoring.horizon_days)
        self._left.update(leavers_at(conn, {d: self._risks[d] for d in self.before if d + h <= self.first}, self.s))
        order, start = first_days(conn, self.before[-1])
        for day in [d for d in self.before if d in self.stages_until]:
            began = {c: d for c, d in order.items() if d <= day} | {c: d for c, d in start.items() if d <= day}
            positions = journey_positions(conn, day, self.settings, health_settings=self.s, first=began,
                                          risks=self._risks[day])  # fmt: skip
            self._stages[day] = {c: p.stage for c, p in positions.items()}

    def observed(self, day: dt.date, risks: Mapping[str, float], positions: Mapping[str, JourneyPosition]) -> None:
        """Keep what a refit (this day's or a later one) reads of an observed day: risks and stages."""
        if day in self.needed_until:
            self._risks[day] = risks
        if day in self.stages_until:
            self._stages[day] = {c: p.stage for c, p in positions.items()}

    def forget(self, day: dt.date) -> None:
        """Drop the dates no refit after ``day`` reads."""
        for a in [a for a, until in self.needed_until.items() if until <= day]:
            self._risks.pop(a, None)
            self._left.pop(a, None)
        for a in [a for a, until in self.stages_until.items() if until <= day]:
            self._stages.pop(a, None)

    def reader(self, conn: Connection, day: dt.date) -> History:
        """The history as the fits of the refit at ``day`` read it (leavers counted on ``conn`` now, at
        every anchor together)."""
        return _RunReader(self, conn, day)


class _RunReader:
    def __init__(self, run: RunHistory, conn: Connection, day: dt.date) -> None:
        self.run, self.conn = run, conn
        self.anchors = [a for a in anchors(day, run.s.monitoring.horizon_days, run.anchor_count)
                        if a in run._risks and a not in run._left]  # fmt: skip
        self._left: dict[dt.date, Collection[str]] = dict(run._left)

    def risks(self, day: dt.date) -> Mapping[str, float]:
        return self.run._risks[day] if day in self.run._risks else SourceHistory(self.conn, self.run.s).risks(day)

    def leavers(self, day: dt.date) -> Collection[str]:
        if day not in self._left:
            days = self.anchors if day in self.anchors else [day]
            self._left.update(leavers_at(self.conn, {d: self.risks(d) for d in days}, self.run.s))
        return self._left[day]

    def stages(self, day: dt.date) -> Mapping[str, str]:
        return self.run._stages[day]
