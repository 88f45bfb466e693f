"""Test oracle for customer health: docs/health.md's formulas in plain Python over raw rows.

Written from the documentation, not from ``app.health`` (nothing here imports it), so that it can
judge the model and the health signatures of the scenarios. One pass per table, no shared state.
The constants are the shipped ``data/health.yaml`` (model health-3) as docs/health.md states them.

Windows: dates in ``(d - N, d]``; timestamps in ``[end_of_day(d - N), end_of_day(d))``; "by the date"
means before ``end_of_day(d)``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from app.world.world import Rows, end_of_day

WEIGHTS = {"usage": 0.15, "engagement": 0.50, "support": 0.15, "financial": 0.10, "relationship": 0.10}
SEVERITIES = (("critical", 0.8), ("high", 0.6), ("medium", 0.4))  # risk strictly above -> severity
CHARGED = ("paid", "refunded")
LAPSED_DAYS, ACTIVE_DAYS, WINDOW = 90, 30, 90
ENGAGEMENT_DAYS, ONSET, LATER, HALF_LIFE = 60, 0.98, 0.30, 30
UPSELL_OVERALL, UPSELL_TENURE, FULL_TENURE = 0.9, 180, 365
RECENT_DAYS, STALE_SHARE = 30, 0.5  # complaints and failed payments older than 30 days weigh half
FLOOR = 0.05  # the harmonic mean counts a component below this as this


def _r4(x: float) -> float:
    return round(max(0.0, min(1.0, x)), 4)


def _in(day: dt.date, d: dt.date, days: int) -> bool:
    return d - dt.timedelta(days=days) < day <= d


def _grouped(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["customer_id"], []).append(r)
    return out


def _support(tickets: list[dict[str, Any]], d: dt.date) -> tuple[float, int]:
    """(support value, trouble count) of the tickets created in the window."""
    end, start = end_of_day(d), end_of_day(d - dt.timedelta(days=WINDOW))
    value, troubles = 1.0, 0
    for t in tickets:
        if not start <= t["created_at"] < end:
            continue
        resolved = t["resolved_at"] is not None and t["resolved_at"] < end
        first = t["first_response_at"] if t["first_response_at"] is not None and t["first_response_at"] < end else end
        hours = round((first - t["created_at"]).total_seconds() / 3600, 2)
        recent = (d - t["created_at"].date()).days < RECENT_DAYS
        for hit, factor in (
            (t["sentiment"] == "negative", 0.65 if recent else 1 - STALE_SHARE * 0.35),
            (not resolved, 0.85),
            (resolved and t["csat_rating"] is not None and t["csat_rating"] <= 2, 0.7),
            (hours > 24, 0.9),
        ):
            if hit:
                value, troubles = value * factor, troubles + 1
    return _r4(value), troubles


def health(rows: Rows, d: dt.date) -> dict[str, dict[str, Any]]:
    """customer id -> {components, overall, risk, severity} of every customer scored at ``d``."""
    subs = {c: sorted((s for s in ss if s["started_on"] <= d), key=lambda s: (s["started_on"], s["subscription_id"]))
            for c, ss in _grouped(rows["subscriptions"]).items()}  # fmt: skip
    subs = {c: ss for c, ss in subs.items() if ss}
    orders = _grouped([o for o in rows["orders"] if o["ordered_on"] <= d])
    signals = _grouped(rows["customer_signals"])
    tickets = _grouped(rows["support_tickets"])
    refunds = Counter(r["customer_id"] for r in rows["refunds"] if _in(r["refunded_on"], d, WINDOW))
    has_signals, has_tickets = bool(rows["customer_signals"]), bool(rows["support_tickets"])

    def active(s: dict[str, Any]) -> bool:
        return s["cancelled_on"] is None or s["cancelled_on"] > d

    def last_charged(cid: str) -> dt.date | None:
        days = [o["ordered_on"] for o in orders.get(cid, []) if o["status"] in CHARGED]
        return max(days) if days else None

    scored = [c for c, ss in subs.items() if any(active(s) for s in ss)]
    scored += [c for c in orders if c not in subs and (last := last_charged(c)) is not None
               and (d - last).days < LAPSED_DAYS]  # fmt: skip
    prices = sorted({s["monthly_price_cents"] for c in scored for s in subs.get(c, []) if active(s)})
    entry = prices[0] if len(prices) > 1 else None

    out: dict[str, dict[str, Any]] = {}
    for cid in sorted(scored):
        own_orders, own_signals = orders.get(cid, []), signals.get(cid, [])
        last = last_charged(cid)
        delivered = sum(1 for o in own_orders if o["status"] in CHARGED and _in(o["ordered_on"], d, WINDOW))
        failed = sum(1 for o in own_orders if o["status"] == "failed" and _in(o["ordered_on"], d, WINDOW))
        recent_failed = sum(1 for o in own_orders if o["status"] == "failed" and _in(o["ordered_on"], d, RECENT_DAYS))
        skipped = sum(1 for s in own_signals if s["signal_type"] == "skipped_box" and _in(s["detected_on"], d, WINDOW))
        drops = sorted((s["detected_on"], s["strength"]) for s in own_signals
                       if s["signal_type"] == "engagement_drop" and _in(s["detected_on"], d, ENGAGEMENT_DAYS))  # fmt: skip
        factors = 0
        comp: dict[str, float | None] = dict.fromkeys(WEIGHTS)
        if last is not None or skipped:
            age = None if last is None else (d - last).days
            recency = 0.0 if age is None else 1.0 if age <= ACTIVE_DAYS else max(0.0, 1 - (age - ACTIVE_DAYS) / (LAPSED_DAYS - ACTIVE_DAYS))
            factors += recency < 1 and age is not None
            cycles = delivered + skipped
            comp["usage"] = _r4(recency if not has_signals or not cycles else 0.5 * recency + 0.5 * delivered / cycles)
            factors += bool(has_signals and cycles and skipped)
        if has_signals:
            value = 1.0
            for i, (when, _strength) in enumerate(drops):
                value *= 1 - (ONSET if i == 0 else LATER) * 0.5 ** ((d - when).days / HALF_LIFE)
            comp["engagement"], factors = _r4(value), factors + bool(drops)
        if has_tickets:
            comp["support"], troubles = _support(tickets.get(cid, []), d)
            factors += troubles
        if last is not None or failed:
            older = failed - recent_failed
            comp["financial"] = _r4(0.6**recent_failed * (1 - STALE_SHARE * 0.4) ** older * 0.85 ** refunds.get(cid, 0))
            factors += failed + refunds.get(cid, 0)
        tenure = None
        if cid in subs:
            own = subs[cid]
            tenure = (d - own[0]["started_on"]).days
            value = 0.5 + 0.5 * min(1.0, tenure / FULL_TENURE)
            live = [s for s in own if active(s)]
            current = live[-1] if live else own[-1]
            earlier = [s["monthly_price_cents"] for s in own if s["started_on"] < current["started_on"]]
            if earlier and current["monthly_price_cents"] < max(earlier):
                value, factors = value * 0.7, factors + 1
            if any(s["cancelled_on"] is not None and s["cancelled_on"] <= d for s in own):
                value, factors = value * 0.8, factors + 1
            factors += tenure < 30
            comp["relationship"] = _r4(value)
        avail = {k: v for k, v in comp.items() if v is not None}
        if not avail:
            overall = 1.0
        else:
            overall = _r4(sum(WEIGHTS[k] for k in avail) / sum(WEIGHTS[k] / max(v, FLOOR) for k, v in avail.items()))
        risk = round(1 - overall, 4)
        severity = next((name for name, above in SEVERITIES if risk > above), None)
        if severity is None and overall >= UPSELL_OVERALL and (tenure or 0) >= UPSELL_TENURE and not factors:
            on_entry = entry is not None and cid in subs and any(active(s) for s in subs[cid]) and \
                [s for s in subs[cid] if active(s)][-1]["monthly_price_cents"] <= entry  # fmt: skip
            if (tenure or 0) >= FULL_TENURE or on_entry:
                severity = "low"  # an upsell opportunity
        out[cid] = {"components": comp, "overall": overall, "risk": risk, "severity": severity}
    return out


def health_overview(rows: Rows, as_of: dt.date, date: dt.date | str | None = None) -> dict[str, Any]:
    """The parts of the ``health_overview`` view the scenario signatures use: the customers scored
    and the day's alerts per severity (``movement.alerts_now``)."""
    day = dt.date.fromisoformat(date) if isinstance(date, str) else (date or as_of)
    scored = health(rows, day)
    counts = Counter(h["severity"] for h in scored.values() if h["severity"])
    now = {sev: counts.get(sev, 0) for sev in ("critical", "high", "medium", "low")}
    return {"scored": len(scored), "movement": {"alerts_now": now}}
