"""Health of every scored customer at a date, computed in memory from the source tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Connection

from app.health.inputs import gather_inputs, source_coverage
from app.health.model import CustomerHealth, score_customer
from app.health.settings import HealthSettings, load_health_settings

__all__ = ["score_all", "entry_price"]


def entry_price(prices: list[int]) -> int | None:
    """The cheapest of the active plan prices when a pricier one exists, else None."""
    distinct = sorted(set(prices))
    return distinct[0] if len(distinct) > 1 else None


def score_all(conn: Connection, day: dt.date, settings: HealthSettings | None = None) -> list[CustomerHealth]:
    """Every scored customer's health at ``day``, ordered by customer id."""
    s = settings or load_health_settings()
    cov = source_coverage(conn)
    inputs = gather_inputs(conn, day, s)
    entry = entry_price([sub.price_cents for rec in inputs.values() for sub in rec.active_subscriptions()])
    return [score_customer(inputs[cid], s, cov, entry) for cid in sorted(inputs)]
