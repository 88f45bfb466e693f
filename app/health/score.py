"""Health of every scored customer at a date, computed in memory from the source tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy.engine import Connection

from app.health.frame import HealthRow, rows_from
from app.health.inputs import HealthInputs, SourceCoverage, gather_inputs_at, source_coverage
from app.health.model import CustomerHealth, Scorer
from app.health.settings import HealthSettings, load_health_settings
from app.storage.bulk import paused_gc

__all__ = ["score_all", "score_days", "score_inputs", "scorer_for", "entry_price", "shared_by_key", "health_rows", "risks_of"]

T = TypeVar("T")


def entry_price(prices: list[int]) -> int | None:
    """The cheapest of the active plan prices when a pricier one exists, else None."""
    distinct = sorted(set(prices))
    return distinct[0] if len(distinct) > 1 else None


def scorer_for(inputs: dict[str, HealthInputs], s: HealthSettings, cov: SourceCoverage) -> Scorer:
    """The scorer of one date's gathered inputs (the entry price among their active subscriptions)."""
    return Scorer(s, cov, entry_price([sub.price_cents for rec in inputs.values() for sub in rec.active_subscriptions()]))


def score_inputs(inputs: dict[str, HealthInputs], s: HealthSettings, cov: SourceCoverage) -> list[CustomerHealth]:
    """The health of one date's gathered inputs, ordered by customer id."""
    scorer = scorer_for(inputs, s, cov)
    return [scorer.score(inputs[cid]) for cid in sorted(inputs)]


def shared_by_key(inputs: dict[str, HealthInputs], s: HealthSettings, cov: SourceCoverage,
                  make: Callable[[CustomerHealth], T]) -> tuple[list[str], list[T]]:  # fmt: skip
    """(customer ids in order, ``make`` of each one's health), scored and made once per distinct
    :meth:`~app.health.model.Scorer.key` and shared by the customers holding it: customers with
    equal keys have the same health but for their ids, and a date holds about a third as many keys
    as customers. ``make`` receives the health of the first customer holding the key."""
    scorer = scorer_for(inputs, s, cov)
    shared: dict[tuple[Hashable, ...], T] = {}
    ids = sorted(inputs)
    values = []
    for inp in map(inputs.__getitem__, ids):
        key = scorer.key(inp)
        value = shared.get(key)
        if value is None:
            value = shared[key] = make(scorer.score(inp, key))
        values.append(value)
    return ids, values


def health_rows(inputs: dict[str, HealthInputs], s: HealthSettings, cov: SourceCoverage) -> list[HealthRow]:
    """``rows_from(score_inputs(...))``, ordered by customer id, each row made once per distinct key
    (:func:`shared_by_key`) and copied for the other customers holding it."""
    ids, rows = shared_by_key(inputs, s, cov, lambda h: rows_from([h], s)[0])
    return [r if r.customer_id == cid else r.for_customer(cid) for cid, r in zip(ids, rows, strict=True)]


def risks_of(inputs: dict[str, HealthInputs], s: HealthSettings, cov: SourceCoverage) -> dict[str, float]:
    """Each customer's health risk (:meth:`~app.health.model.Scorer.risk`), once per distinct key."""
    scorer = scorer_for(inputs, s, cov)
    shared: dict[tuple[Hashable, ...], float] = {}
    out = {}
    for cid in sorted(inputs):
        inp = inputs[cid]
        key = scorer.key(inp)
        risk = shared.get(key)
        if risk is None:
            risk = shared[key] = scorer.risk(inp, key)
        out[cid] = risk
    return out


def score_days(conn: Connection, days: list[dt.date], settings: HealthSettings | None = None) -> dict[dt.date, list[CustomerHealth]]:
    """:func:`score_all` at several dates, their inputs gathered together."""
    s = settings or load_health_settings()
    cov = source_coverage(conn)
    with paused_gc():
        return {day: score_inputs(inputs, s, cov) for day, inputs in gather_inputs_at(conn, days, s).items()}


def score_all(conn: Connection, day: dt.date, settings: HealthSettings | None = None) -> list[CustomerHealth]:
    """Every scored customer's health at ``day``, ordered by customer id."""
    return score_days(conn, [day], settings)[day]
