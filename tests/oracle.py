"""Test oracle: the metric contract (DESIGN section 4) in plain Python over snapshot rows.

Deliberately naive -- one linear scan per number, no shared state, no cleverness -- so that it is
obviously correct and can judge the SQL views. It reads ``world.snapshot(as_of)`` rows (or full
world tables: every function filters by date itself).

Conventions (the views promise the same):
* windows are half-open ``(as_of - N days, as_of]``; for timestamps that is
  ``[end_of_day(as_of - N), end_of_day(as_of))``; N comes from ``TIME_RANGES``;
* money is reported in dollars (cents / 100, 2 decimals), rates as fractions with 4 decimals,
  hours and CSAT with 2 decimals;
* a trend is ``{current, previous, change_pct, direction}`` where previous is the same metric for
  the window (or point in time) N days earlier; ``change_pct = (current - previous) / |previous|
  x 100`` from the reported values, 1 decimal, ``None`` if previous is 0/None; direction is
  ``flat`` within +-1%, else ``up``/``down`` (by the sign of current when previous is 0);
* ``top_cancel_reasons`` lists the 5 most frequent reasons (count desc, then reason);
* ``open`` and ``urgent`` are plain counts at ``as_of`` (urgent = open tickets of priority urgent).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from app.world.world import Rows, end_of_day
from tests.oracle_health import health_overview

TIME_RANGES = {"24h": 1, "3d": 3, "7d": 7, "30d": 30, "60d": 60, "90d": 90}
RISK_WEIGHTS = {"failed_payment": 0.6, "negative_ticket": 0.5, "engagement_drop": 0.4, "skipped_box": 0.35}
RISK_THRESHOLD = 0.6
RISK_LOOKBACK_DAYS = 60
TOP_CANCEL_REASONS = 5


def days_of(time_range: str) -> int:
    return TIME_RANGES[time_range]


def in_window(day: dt.date, as_of: dt.date, days: int) -> bool:
    return as_of - dt.timedelta(days=days) < day <= as_of


def ts_in_window(ts: dt.datetime | None, as_of: dt.date, days: int) -> bool:
    return ts is not None and end_of_day(as_of - dt.timedelta(days=days)) <= ts < end_of_day(as_of)


def dollars(cents: float | None) -> float | None:
    return None if cents is None else round(cents / 100, 2)


def trend(current: float | None, previous: float | None) -> dict[str, Any]:
    if current is None or previous is None:
        change, direction = None, "flat"
    elif previous == 0:
        change = None
        direction = "up" if current > 0 else "down" if current < 0 else "flat"
    else:
        change = round((current - previous) / abs(previous) * 100, 1)
        direction = "flat" if abs(change) <= 1 else "up" if change > 0 else "down"
    return {"current": current, "previous": previous, "change_pct": change, "direction": direction}


# ---------------------------------------------------------------- subscriptions


def is_active(sub: dict[str, Any], day: dt.date) -> bool:
    return sub["started_on"] <= day and (sub["cancelled_on"] is None or sub["cancelled_on"] > day)


def active_count(rows: Rows, day: dt.date) -> int:
    return sum(1 for s in rows["subscriptions"] if is_active(s, day))


def mrr_cents(rows: Rows, day: dt.date) -> int:
    return sum(s["monthly_price_cents"] for s in rows["subscriptions"] if is_active(s, day))


def new_subscribers(rows: Rows, as_of: dt.date, days: int) -> int:
    return sum(1 for s in rows["subscriptions"] if in_window(s["started_on"], as_of, days))


def cancellations(rows: Rows, as_of: dt.date, days: int) -> int:
    return sum(
        1 for s in rows["subscriptions"] if s["cancelled_on"] is not None and in_window(s["cancelled_on"], as_of, days)
    )


def churn_rate(rows: Rows, as_of: dt.date, days: int) -> float | None:
    base = active_count(rows, as_of - dt.timedelta(days=days))
    return None if base == 0 else round(cancellations(rows, as_of, days) / base, 4)


def cancel_reason_counts(rows: Rows, as_of: dt.date, days: int) -> list[dict[str, Any]]:
    counts = Counter(
        s["cancel_reason"]
        for s in rows["subscriptions"]
        if s["cancelled_on"] is not None and in_window(s["cancelled_on"], as_of, days)
    )
    return [{"reason": r, "count": n} for r, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def marketing_spend_cents(rows: Rows, as_of: dt.date, days: int) -> int:
    return sum(m["spend_cents"] for m in rows["marketing_daily"] if in_window(m["day"], as_of, days))


def cac_cents(rows: Rows, as_of: dt.date, days: int) -> float | None:
    new = new_subscribers(rows, as_of, days)
    return None if new == 0 else marketing_spend_cents(rows, as_of, days) / new


def revenue_cents(rows: Rows, as_of: dt.date, days: int) -> int:
    return sum(
        o["amount_cents"] for o in rows["orders"] if o["status"] == "paid" and in_window(o["ordered_on"], as_of, days)
    )


def financial_metrics(rows: Rows, as_of: dt.date, time_range: str = "30d") -> dict[str, Any]:
    n = days_of(time_range)
    before = as_of - dt.timedelta(days=n)

    def arpu(day: dt.date) -> float | None:
        count = active_count(rows, day)
        return None if count == 0 else round(mrr_cents(rows, day) / count / 100, 2)

    def cac(day: dt.date) -> float | None:
        value = cac_cents(rows, day, n)
        return None if value is None else round(value / 100, 2)

    def net(day: dt.date) -> int:
        return new_subscribers(rows, day, n) - cancellations(rows, day, n)

    return {
        "mrr": trend(dollars(mrr_cents(rows, as_of)), dollars(mrr_cents(rows, before))),
        "active_subscribers": trend(active_count(rows, as_of), active_count(rows, before)),
        "churn_rate": trend(churn_rate(rows, as_of, n), churn_rate(rows, before, n)),
        "new_subscribers": trend(new_subscribers(rows, as_of, n), new_subscribers(rows, before, n)),
        "cancellations": trend(cancellations(rows, as_of, n), cancellations(rows, before, n)),
        "net_growth": trend(net(as_of), net(before)),
        "cac": trend(cac(as_of), cac(before)),
        "arpu": trend(arpu(as_of), arpu(before)),
        "marketing_spend": trend(
            dollars(marketing_spend_cents(rows, as_of, n)), dollars(marketing_spend_cents(rows, before, n))
        ),
        "revenue": trend(dollars(revenue_cents(rows, as_of, n)), dollars(revenue_cents(rows, before, n))),
        "top_cancel_reasons": cancel_reason_counts(rows, as_of, n)[:TOP_CANCEL_REASONS],
    }


# ---------------------------------------------------------------- tickets


def _tickets(rows: Rows, category: str | None) -> list[dict[str, Any]]:
    return [t for t in rows["support_tickets"] if category is None or t["category"] == category]


def tickets_created(rows: Rows, as_of: dt.date, days: int, category: str | None = None) -> int:
    return sum(1 for t in _tickets(rows, category) if ts_in_window(t["created_at"], as_of, days))


def open_tickets(rows: Rows, day: dt.date, category: str | None = None) -> int:
    cutoff = end_of_day(day)
    return sum(
        1
        for t in _tickets(rows, category)
        if t["created_at"] < cutoff and (t["resolved_at"] is None or t["resolved_at"] >= cutoff)
    )


def urgent_tickets(rows: Rows, day: dt.date, category: str | None = None) -> int:
    """Open tickets (see :func:`open_tickets`) with priority urgent."""
    cutoff = end_of_day(day)
    return sum(
        1
        for t in _tickets(rows, category)
        if t["priority"] == "urgent"
        and t["created_at"] < cutoff
        and (t["resolved_at"] is None or t["resolved_at"] >= cutoff)
    )


def avg_first_response_hours(rows: Rows, as_of: dt.date, days: int, category: str | None = None) -> float | None:
    hours = [
        (t["first_response_at"] - t["created_at"]).total_seconds() / 3600
        for t in _tickets(rows, category)
        if ts_in_window(t["first_response_at"], as_of, days)
    ]
    return round(sum(hours) / len(hours), 2) if hours else None


def avg_resolution_hours(rows: Rows, as_of: dt.date, days: int, category: str | None = None) -> float | None:
    hours = [
        (t["resolved_at"] - t["created_at"]).total_seconds() / 3600
        for t in _tickets(rows, category)
        if ts_in_window(t["resolved_at"], as_of, days)
    ]
    return round(sum(hours) / len(hours), 2) if hours else None


def csat(rows: Rows, as_of: dt.date, days: int, category: str | None = None) -> float | None:
    ratings = [
        t["csat_rating"]
        for t in _tickets(rows, category)
        if t["csat_rating"] is not None and ts_in_window(t["resolved_at"], as_of, days)
    ]
    return round(sum(ratings) / len(ratings), 2) if ratings else None


def category_counts(rows: Rows, as_of: dt.date, days: int, category: str | None = None) -> list[dict[str, Any]]:
    counts = Counter(t["category"] for t in _tickets(rows, category) if ts_in_window(t["created_at"], as_of, days))
    total = sum(counts.values())
    return [
        {"category": c, "count": n, "share": round(n / total, 4)}
        for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def ticket_metrics(rows: Rows, as_of: dt.date, time_range: str = "30d", category: str | None = None) -> dict[str, Any]:
    n = days_of(time_range)
    before = as_of - dt.timedelta(days=n)
    return {
        "created": trend(tickets_created(rows, as_of, n, category), tickets_created(rows, before, n, category)),
        "open": open_tickets(rows, as_of, category),
        "urgent": urgent_tickets(rows, as_of, category),
        "avg_first_response_hours": trend(
            avg_first_response_hours(rows, as_of, n, category), avg_first_response_hours(rows, before, n, category)
        ),
        "avg_resolution_hours": trend(
            avg_resolution_hours(rows, as_of, n, category), avg_resolution_hours(rows, before, n, category)
        ),
        "csat": trend(csat(rows, as_of, n, category), csat(rows, before, n, category)),
        "by_category": category_counts(rows, as_of, n, category),
    }


# ---------------------------------------------------------------- risk


def risk_scores(rows: Rows, as_of: dt.date) -> dict[str, float]:
    """customer_id -> 1 - prod(1 - w[type] x strength) over signals in the 60 days up to as_of."""
    keep: dict[str, float] = {}
    for s in rows["customer_signals"]:
        if in_window(s["detected_on"], as_of, RISK_LOOKBACK_DAYS):
            keep[s["customer_id"]] = keep.get(s["customer_id"], 1.0) * (1 - RISK_WEIGHTS[s["signal_type"]] * s["strength"])
    return {cid: 1 - rest for cid, rest in keep.items()}


def at_risk_customers(rows: Rows, as_of: dt.date) -> set[str]:
    scores = risk_scores(rows, as_of)
    active = {s["customer_id"] for s in rows["subscriptions"] if is_active(s, as_of)}
    return {cid for cid in active if scores.get(cid, 0.0) >= RISK_THRESHOLD}


# ---------------------------------------------------------------- expectations


def at_risk_share(rows: Rows, day: dt.date) -> float | None:
    """Percent of customers with a paid order by ``day`` whose last one is 31-90 days old."""
    last: dict[str, dt.date] = {}
    for o in rows["orders"]:
        if o["status"] in ("paid", "refunded") and o["ordered_on"] <= day:
            last[o["customer_id"]] = max(o["ordered_on"], last.get(o["customer_id"], o["ordered_on"]))
    if not last:
        return None
    at_risk = sum(1 for d in last.values() if 31 <= (day - d).days <= 90)
    return at_risk / len(last) * 100


def get_alert_decision(rows: Rows, as_of: dt.date, date: dt.date | str | None = None) -> dict[str, Any]:
    """The AT_RISK share against its mean over the 7 days before (DESIGN.md section 9)."""
    day = dt.date.fromisoformat(date) if isinstance(date, str) else (date or as_of)
    prior = [s for k in range(7, 0, -1) if (s := at_risk_share(rows, day - dt.timedelta(days=k))) is not None]
    current = at_risk_share(rows, day)
    severity = "INFO"
    if current is not None and len(prior) == 7 and sum(prior):
        baseline = sum(prior) / 7
        delta = round((current - baseline) / baseline * 100, 1)
        severity = "CRITICAL" if delta >= 30 else "WARNING" if delta >= 15 else "INFO"
    return {"alert_date": day, "severity": severity, "alert_flag": severity != "INFO"}


VIEWS = {
    "financial_metrics": financial_metrics,
    "ticket_metrics": ticket_metrics,
    "get_alert_decision": get_alert_decision,
    "health_overview": health_overview,
}


def view(rows: Rows, as_of: dt.date, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return VIEWS[name](rows, as_of, **args)


def resolve(obj: Any, path: list[str]) -> Any:
    for part in path:
        if obj is None:
            return None
        if isinstance(obj, list):
            index = int(part)
            obj = obj[index] if index < len(obj) else None
        else:
            obj = obj[part]
    return obj


def bounded_value(result: dict[str, Any], expectation: Any) -> Any:
    """The value an expectation bounds in its view's ``result``: the metric's, or with ``per`` the
    share metric / per to 4 decimals (None when the divisor is 0 or missing)."""
    value = resolve(result, expectation.metric.split(".")[1:])
    if expectation.per is None:
        return value
    per = resolve(result, expectation.per.split("."))
    return round(value / per, 4) if value is not None and per else None


def metric_value(rows: Rows, as_of: dt.date, metric: str, args: dict[str, Any]) -> Any:
    """Value of ``<view>.<path>`` (an Expectation/MerchantGoal metric) over ``rows``."""
    name, *path = metric.split(".")
    return resolve(view(rows, as_of, name, args), path)


def check(expectation: Any, value: Any, steady: Any = None) -> tuple[bool, str]:
    """Does ``value`` satisfy ``expectation`` (an ``app.models.Expectation``)? Returns (ok, why)."""
    e = expectation
    if value is None:
        return False, "value is None"
    if e.one_of is not None and str(value) not in e.one_of:
        return False, f"{value!r} not in {e.one_of}"
    if e.min is not None and value < e.min:
        return False, f"{value} < min {e.min}"
    if e.max is not None and value > e.max:
        return False, f"{value} > max {e.max}"
    if e.min_ratio_to_steady is not None or e.max_ratio_to_steady is not None:
        if not steady:
            return False, f"steady value is {steady!r}"
        ratio = value / steady
        if e.min_ratio_to_steady is not None and ratio < e.min_ratio_to_steady:
            return False, f"ratio {ratio:.3f} < {e.min_ratio_to_steady}"
        if e.max_ratio_to_steady is not None and ratio > e.max_ratio_to_steady:
            return False, f"ratio {ratio:.3f} > {e.max_ratio_to_steady}"
    return True, "ok"
