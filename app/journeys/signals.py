"""Journey signals: the behavioural signals of the data, weighted by what they foretold (seed 000's
``signals`` with ``normalized_strength``, ``risk_weight`` and ``segment_adjustment``).

The source's ``customer_signals`` rows are read, never written; each becomes a :class:`JourneySignal`:

* **normalized_strength**: the strength rescaled within its type to [0, 1] (min to max of that
  type in the data up to the date), so types measured on different scales compare;
* **risk_weight**: how much more often customers with a signal of that type in the ``H`` days
  before an anchor left within ``H`` days after it than all scored customers did (``H``: the health
  model's horizon, 30; anchors ``d - H`` and ``d - 2H``), shrunk toward 1 by ``PRIOR_WEIGHT``
  pseudo-customers: 1 means the type foretold nothing;
* **segment_adjustment**: the same ratio for the customer's segment;
* **journey_stage**: the customer's stage at the date, when known.

A signal's **weight** = normalized strength x risk weight x segment adjustment ranks what triggered
an intervention. Weights are learned from the data's own past like the forecasts
(:mod:`app.journeys.forecast`), never from a generated world's internals.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.health.settings import HealthSettings, load_health_settings
from app.health.store import Memo
from app.journeys.forecast import PRIOR_WEIGHT
from app.journeys.history import History, SourceHistory, anchors
from app.journeys.matching import segments_of
from app.storage import queries as q
from app.storage.schema import customer_signals

__all__ = ["JourneySignal", "SignalModel", "fit_signal_model", "journey_signals", "strongest"]

ANCHORS = 2


@dataclass(frozen=True)
class SignalModel:
    """Risk weights per signal type and adjustments per segment, learned at ``day``."""

    day: dt.date
    base_rate: float
    risk_weights: dict[str, float]
    segment_adjustments: dict[str, float]


@dataclass(frozen=True)
class JourneySignal:
    """One signal with its weights."""

    signal_id: str
    customer_id: str
    signal_type: str
    signal_strength: float
    detected_at: dt.date
    journey_stage: str | None
    normalized_strength: float
    risk_weight: float
    segment_adjustment: float
    source: str = "automated"

    @property
    def weight(self) -> float:
        return round(self.normalized_strength * self.risk_weight * self.segment_adjustment, 4)


def _signals(conn: Connection, since: dt.date, until: dt.date,
             customer_ids: Collection[str] | None = None) -> list[tuple[str, str, str, float, dt.date]]:  # fmt: skip
    s = customer_signals.c
    stmt = (sa.select(s.signal_id, s.customer_id, s.signal_type, s.strength, s.detected_on)
            .where(s.detected_on > since, s.detected_on <= until).order_by(s.detected_on, s.signal_id))  # fmt: skip
    if customer_ids is not None:
        stmt = stmt.where(s.customer_id.in_(sorted(customer_ids)))
    return [(str(i), str(c), str(t), float(v), q.as_date(d)) for i, c, t, v, d in conn.execute(stmt)]


def _kinds(conn: Connection, since: dt.date, until: dt.date) -> dict[str, set[str]]:
    """Each customer with a signal in ``(since, until]`` -> the types of their signals there (one
    distinct pair per row read: a fit reads the types only)."""
    s = customer_signals.c
    out: dict[str, set[str]] = defaultdict(set)
    for cid, kind in q.driver_rows(conn, sa.select(s.customer_id, s.signal_type).distinct()
                                   .where(s.detected_on > since, s.detected_on <= until)):  # fmt: skip
        out[str(cid)].add(str(kind))
    return out


def _ratio(left: int, n: int, base: float) -> float:
    """Leave rate of a group over the base rate, shrunk toward 1 by ``PRIOR_WEIGHT`` pseudo-customers."""
    if base <= 0:
        return 1.0
    return round((left + PRIOR_WEIGHT * base) / (n + PRIOR_WEIGHT) / base, 4)


def fit_signal_model(conn: Connection, day: dt.date, s: HealthSettings | None = None,
                     memo: Memo | None = None, history: History | None = None,
                     segments: Mapping[str, str] | None = None) -> SignalModel:  # fmt: skip
    """Learn the weights at ``day`` from the data up to ``day`` (``history``: as
    :func:`~app.journeys.forecast.fit_forecast_model` reads it; ``segments``: every customer's
    :func:`~app.journeys.matching.segments_of` when the caller keeps them)."""
    s = s or load_health_settings()
    history = history or SourceHistory(conn, s, memo)
    h = s.monitoring.horizon_days
    n = left = 0
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_segment: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    segments = segments if segments is not None else segments_of(conn)
    for anchor in anchors(day, h, ANCHORS):
        scored = history.risks(anchor)
        if not scored:
            continue
        gone = history.leavers(anchor)
        types = _kinds(conn, anchor - dt.timedelta(days=h), anchor)
        for cid in scored:
            out = cid in gone
            n += 1
            left += out
            for kind in types.get(cid, ()):
                by_type[kind][0] += 1
                by_type[kind][1] += out
            seg = by_segment[segments.get(cid, "")]
            seg[0] += 1
            seg[1] += out
    base = left / n if n else 0.0
    return SignalModel(day, round(base, 4), {t: _ratio(v[1], v[0], base) for t, v in sorted(by_type.items())},
                       {g: _ratio(v[1], v[0], base) for g, v in sorted(by_segment.items())})  # fmt: skip


def journey_signals(conn: Connection, day: dt.date, model: SignalModel, *, days: int = 30,
                    stages: Mapping[str, str] | None = None,
                    segments: Mapping[str, str] | None = None,
                    customer_ids: Collection[str] | None = None) -> dict[str, list[JourneySignal]]:  # fmt: skip
    """Each customer's (of ``customer_ids``, when given) signals of the last ``days`` days up to
    ``day``, heaviest first."""
    s = customer_signals.c
    bounds = {str(t): (float(lo), float(hi)) for t, lo, hi in conn.execute(
        sa.select(s.signal_type, sa.func.min(s.strength), sa.func.max(s.strength))
        .where(s.detected_on <= day).group_by(s.signal_type))}  # fmt: skip
    segments = segments if segments is not None else segments_of(conn)
    out: dict[str, list[JourneySignal]] = defaultdict(list)
    for sid, cid, kind, strength, when in _signals(conn, day - dt.timedelta(days=days), day, customer_ids):
        lo, hi = bounds[kind]
        out[cid].append(JourneySignal(
            signal_id=sid, customer_id=cid, signal_type=kind, signal_strength=strength, detected_at=when,
            journey_stage=(stages or {}).get(cid), normalized_strength=round((strength - lo) / (hi - lo), 4) if hi > lo else 1.0,
            risk_weight=model.risk_weights.get(kind, 1.0),
            segment_adjustment=model.segment_adjustments.get(segments.get(cid, ""), 1.0),
        ))  # fmt: skip
    for found in out.values():
        found.sort(key=lambda x: (-x.weight, x.signal_id))
    return dict(out)


def strongest(signals: list[JourneySignal], n: int = 3) -> tuple[str, ...]:
    """The ids of the ``n`` heaviest signals (the list is heaviest first)."""
    return tuple(x.signal_id for x in signals[:n])
