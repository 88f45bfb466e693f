"""Journey forecasts at a date, calibrated on the data's own past, and their accuracy.

Model ``empirical-1`` uses only what is known at the date ``d`` (horizon ``H`` = the health
model's ``monitoring.horizon_days``, 30):

* **Churn probability.** At each anchor ``d - H``, ``d - 2H``, ``d - 3H`` (as far as the data
  reaches) every scored customer's health risk falls in a band of width 0.1; a band's churn rate
  is the share of its customers who left within ``H`` days of the anchor
  (:func:`app.health.truth.leavers`), pooled over the anchors, shrunk toward the overall rate by
  ``PRIOR_WEIGHT`` pseudo-customers (``(left + k x overall) / (n + k)``) and made non-decreasing in
  risk (pool adjacent violators). A customer's probability at ``d`` is the rate of the band their
  risk at ``d`` falls in.
* **Next stage.** The stage transitions from ``d - H`` to ``d`` (:mod:`app.journeys.stages`) give
  ``P(next | current)``; ``predicted_path`` is the likeliest next stage and the likeliest after
  it, ``forecast_confidence`` the first step's probability, ``recovery_probability`` the
  probability of being in ``onboarding``, ``engagement`` or ``retention`` next.
* **Revenue at risk** = churn probability x the customer's charged revenue of the last
  ``H`` days x 365 / ``H`` (a year of their current spending), in minor units.

:func:`forecast_accuracy` scores a date's forecasts against what happened next (a generated
world holds its future): the Brier score, the same for the overall-rate forecast (everyone gets
the base rate) and a reliability table.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.health.settings import HealthSettings, load_health_settings
from app.health.store import Memo, health_at
from app.health.truth import leavers
from app.journeys.history import History, SourceHistory, anchors
from app.journeys.stages import JourneyPosition, journey_positions
from app.storage import order_queries as oq
from app.storage.schema import orders

__all__ = ["MODEL_TYPE", "JourneyForecast", "Forecasts", "ForecastModel", "fit_forecast_model", "apply_forecast_model",
           "forecast", "ReliabilityBin", "ForecastAccuracy", "forecast_accuracy", "new_memo"]  # fmt: skip

MODEL_TYPE = "empirical-1"
PRIOR_WEIGHT = 5.0
"""Pseudo-customers at the overall rate added to each risk band (a thin band stays near the base)."""
HEALTHY_STAGES = ("onboarding", "engagement", "retention")
_BANDS = 10
ANCHORS = 3
"""Past dates (``d - H``, ``d - 2H``, ...) whose next ``H`` days calibrate the risk bands."""


@dataclass(frozen=True)
class JourneyForecast:
    """One customer's forecast (seed 000's ``journey_forecasts``)."""

    forecast_id: str
    customer_id: str
    current_stage: str
    predicted_path: tuple[str, ...]
    forecast_confidence: float
    churn_probability: float
    recovery_probability: float
    revenue_at_risk_cents: int
    generated_at: dt.date
    model_type: str = MODEL_TYPE


@dataclass(frozen=True)
class Forecasts:
    """A date's forecasts with what they were calibrated on."""

    day: dt.date
    horizon_days: int
    base_rate: float
    band_rates: tuple[float, ...]
    transitions: dict[str, dict[str, float]]
    forecasts: dict[str, JourneyForecast]


def _has_data(conn: Connection, day: dt.date) -> bool:
    """Whether the data reaches back to ``day`` (an order on or before it)."""
    return conn.execute(sa.select(orders.c.order_id).where(orders.c.ordered_on <= day).limit(1)).first() is not None


def _monotone(rates: list[float], weights: list[float]) -> list[float]:
    """The weighted least-squares non-decreasing fit (pool adjacent violators): more risk never
    forecasts less churn, however noisy a thin band was."""
    blocks: list[list[float]] = []  # [weighted sum, weight, count of bands]
    for r, w in zip(rates, weights, strict=True):
        blocks.append([r * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            top = blocks.pop()
            blocks[-1] = [blocks[-1][0] + top[0], blocks[-1][1] + top[1], blocks[-1][2] + top[2]]
    return [b[0] / b[1] for b in blocks for _ in range(int(b[2]))]


def _band(risk: float) -> int:
    return min(_BANDS - 1, int(risk * _BANDS))


def _recent_revenue(conn: Connection, day: dt.date, days: int) -> dict[str, int]:
    o = orders.c
    q = (sa.select(o.customer_id, sa.func.sum(o.amount_cents))
         .where(o.ordered_on > day - dt.timedelta(days=days), o.ordered_on <= day, o.status.in_(oq.CHARGED))
         .group_by(o.customer_id))  # fmt: skip
    return {str(c): int(v or 0) for c, v in conn.execute(q)}


def _transitions(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, dict[str, float]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for cid, stage in before.items():
        if cid in after:
            counts[stage][after[cid]] += 1
    return {s: {t: n / sum(c.values()) for t, n in sorted(c.items())} for s, c in counts.items()}


def _likeliest(transitions: dict[str, dict[str, float]], stage: str) -> tuple[str, float]:
    nxt = transitions.get(stage)
    if not nxt:
        return stage, 0.0
    best = max(sorted(nxt), key=lambda s: nxt[s])  # ties: the alphabetically first stage
    return best, nxt[best]


def new_memo() -> Memo:
    """A memo for :func:`~app.health.store.health_at`: each date's health is computed once."""
    seen: dict[Hashable, Any] = {}

    def remember(key: Hashable, compute: Callable[[], Any]) -> Any:
        if key not in seen:
            seen[key] = compute()
        return seen[key]

    return remember


@dataclass(frozen=True)
class ForecastModel:
    """What a date's forecasts are calibrated on: the risk bands' churn rates and the stage
    transitions of the last horizon. Fitted at ``day``; applies to later dates until refitted."""

    day: dt.date
    horizon_days: int
    base_rate: float
    band_rates: tuple[float, ...]
    transitions: dict[str, dict[str, float]]

    def churn_probability(self, risk: float) -> float:
        return self.band_rates[_band(risk)]


def fit_forecast_model(conn: Connection, day: dt.date, s: HealthSettings | None = None,
                       memo: Memo | None = None, history: History | None = None) -> ForecastModel:  # fmt: skip
    """Calibrate the forecasts of ``day`` on the data up to ``day`` (anchors and transitions).

    ``history``: where the anchors' risks, leavers and stages come from (default: computed from
    ``conn``, each date's health remembered in ``memo``)."""
    s = s or load_health_settings()
    history = history or SourceHistory(conn, s, memo)
    h = s.monitoring.horizon_days
    n, out = [0] * _BANDS, [0] * _BANDS
    for k, anchor in enumerate(anchors(day, h, ANCHORS), start=1):  # pooled: a small shop has few leavers per window
        if k > 1 and not _has_data(conn, anchor):
            break
        left = history.leavers(anchor)
        for cid, risk in history.risks(anchor).items():
            n[_band(risk)] += 1
            out[_band(risk)] += cid in left
    base = sum(out) / sum(n) if sum(n) else 0.0
    rates = _monotone([(out[b] + PRIOR_WEIGHT * base) / (n[b] + PRIOR_WEIGHT) for b in range(_BANDS)],
                      [n[b] + PRIOR_WEIGHT for b in range(_BANDS)])  # fmt: skip
    transitions = _transitions(history.stages(day - dt.timedelta(days=h)), history.stages(day))
    return ForecastModel(day, h, round(base, 4), tuple(round(r, 4) for r in rates), transitions)


def apply_forecast_model(model: ForecastModel, conn: Connection, day: dt.date,
                         positions: dict[str, JourneyPosition]) -> dict[str, JourneyForecast]:  # fmt: skip
    """Forecasts of every customer not churned among ``positions`` (the journey positions at ``day``)."""
    h = model.horizon_days
    revenue = _recent_revenue(conn, day, h)
    paths: dict[str, tuple[tuple[str, str], float, float]] = {}  # per stage: path, confidence, recovery
    for stage in {p.stage for p in positions.values()}:
        first, confidence = _likeliest(model.transitions, stage)
        paths[stage] = ((first, _likeliest(model.transitions, first)[0]), round(confidence, 4),
                        round(sum(model.transitions.get(stage, {}).get(t, 0.0) for t in HEALTHY_STAGES), 4))  # fmt: skip
    stamp = f"JF-{day:%Y%m%d}-"
    forecasts = {}
    for cid, p in positions.items():
        if p.stage == "churned" or p.risk is None:
            continue
        path, confidence, recovery = paths[p.stage]
        churn = model.churn_probability(p.risk)  # the revenue at risk follows the probability shown
        forecasts[cid] = JourneyForecast(stamp + cid, cid, p.stage, path, confidence, churn, recovery,
                                         round(churn * revenue.get(cid, 0) * 365 / h), day)  # fmt: skip
    return forecasts


def forecast(conn: Connection, day: dt.date, s: HealthSettings | None = None,
             memo: Memo | None = None) -> Forecasts:  # fmt: skip
    """Forecasts of every customer not churned at ``day``, from data up to ``day`` only.

    ``memo`` remembers each date's health (a provider's ``source_memo``, or a fresh one).
    """
    s = s or load_health_settings()
    memo = memo or new_memo()
    model = fit_forecast_model(conn, day, s, memo)
    now = journey_positions(conn, day, health=health_at(conn, day, s, memo), health_settings=s)
    return Forecasts(day, model.horizon_days, model.base_rate, model.band_rates, model.transitions,
                     apply_forecast_model(model, conn, day, now))  # fmt: skip


@dataclass(frozen=True)
class ReliabilityBin:
    """Forecasts whose probability fell in ``[low, high)``: how many, their mean, what happened."""

    low: float
    high: float
    count: int
    mean_forecast: float | None
    observed_rate: float | None


@dataclass(frozen=True)
class ForecastAccuracy:
    """A date's churn forecasts against the next horizon."""

    day: dt.date
    customers: int
    leavers: int
    brier: float
    brier_base_rate: float
    reliability: tuple[ReliabilityBin, ...]

    @property
    def skill(self) -> float | None:
        """1 - brier / brier of the base-rate forecast (above 0: better than the base rate)."""
        return None if self.brier_base_rate == 0 else round(1 - self.brier / self.brier_base_rate, 4)


def forecast_accuracy(conn: Connection, day: dt.date, s: HealthSettings | None = None,
                      bins: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)) -> ForecastAccuracy:  # fmt: skip
    """Score ``day``'s forecasts against the rows after it (the connection must hold them)."""
    s = s or load_health_settings()
    memo = new_memo()
    f = forecast(conn, day, s, memo)
    health = health_at(conn, day, s, memo)
    rows = [r for r in health.worst(health.size()) if r.customer_id in f.forecasts]
    left = set(leavers(conn, [r.customer_id for r in rows], day, s))
    pairs = [(f.forecasts[r.customer_id].churn_probability, r.customer_id in left) for r in rows]
    brier = sum((p - y) ** 2 for p, y in pairs) / len(pairs) if pairs else 0.0
    brier_base = sum((f.base_rate - y) ** 2 for _, y in pairs) / len(pairs) if pairs else 0.0
    table = []
    for low, high in pairwise(bins):
        inside = [(p, y) for p, y in pairs if low <= p < high or (high == bins[-1] and p == high)]
        table.append(ReliabilityBin(low, high, len(inside),
                                    round(sum(p for p, _ in inside) / len(inside), 4) if inside else None,
                                    round(sum(y for _, y in inside) / len(inside), 4) if inside else None))  # fmt: skip
    return ForecastAccuracy(day, len(pairs), len(left), round(brier, 4), round(brier_base, 4), tuple(table))
