"""Alerts from health: severity from risk, the type from the weakest component, next-best actions.

Rules (``alerts`` in ``data/health.yaml``, docs/health.md "Alerts"):

* risk above a severity's threshold (critical > 0.8 immediate, high > 0.6 within_24h, medium > 0.4
  within_week) raises a risk alert: ``usage_decline`` when usage is the weakest available component
  and below ``usage_decline_below``, ``churn_risk`` otherwise;
* a customer without a risk alert and without any risk factor, subscribed at least
  ``upsell.min_tenure_days``, with an overall score of at least ``upsell.min_overall`` and an
  opportunity gets an ``upsell_opportunity`` alert
  (severity and urgency of the ``upsell`` rule);
* suggested actions: the actions of each risk factor (or opportunity) in order, without repeats,
  at most three; the default actions when none names any.

An alert's id is ``HA-<yyyymmdd>-<customer id>-<type>``: computing a date's alerts again gives the
same ids, so status and feedback recorded against an id stay attached to the alert.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.errors import InvalidArgumentError
from app.health.model import CustomerHealth, Factor
from app.health.settings import HealthSettings

__all__ = ["ALERT_TYPES", "STATUSES", "AlertKind", "classify", "alert_id", "parse_alert_id", "suggested_actions"]

ALERT_TYPES = ("churn_risk", "usage_decline", "upsell_opportunity")
STATUSES = ("open", "acknowledged", "in_progress", "resolved")
"""Alert statuses in their only order: an alert moves forward, never back."""
MAX_ACTIONS = 3


@dataclass(frozen=True)
class AlertKind:
    """What alert a customer's health raises: type, severity, urgency and its score."""

    alert_type: str
    severity: str
    urgency: str
    score: float
    """Risk for a risk alert; the overall score for an upsell opportunity."""


def classify(h: CustomerHealth, s: HealthSettings) -> AlertKind | None:
    """The alert a customer's health raises at its date, or None."""
    rule = s.alerts.severity_of(h.risk)
    if rule is not None:
        avail = h.available()
        weakest = min(avail, key=lambda k: (avail[k], k)) if avail else None
        kind = "usage_decline" if weakest == "usage" and avail["usage"] < s.alerts.usage_decline_below else "churn_risk"
        return AlertKind(kind, rule.name, rule.urgency, h.risk)
    up = s.alerts.upsell
    if h.overall >= up.min_overall and (h.tenure_days or 0) >= up.min_tenure_days and h.opportunities and not h.risk_factors:
        return AlertKind("upsell_opportunity", up.severity, up.urgency, h.overall)
    return None


def suggested_actions(kind: str, factors: list[Factor], opportunities: list[Factor], s: HealthSettings) -> list[str]:
    """Next-best actions of an alert: from its opportunities (upsell) or risk factors, first three."""
    names = [f.name for f in (opportunities if kind == "upsell_opportunity" else factors)]
    out: list[str] = []
    for name in names:
        for action in s.alerts.actions.get(name, []):
            if action not in out:
                out.append(action)
    return (out or list(s.alerts.default_actions))[:MAX_ACTIONS]


def alert_id(day: dt.date, customer_id: str, alert_type: str) -> str:
    """The deterministic id of a customer's alert of a type on a date."""
    return f"HA-{day:%Y%m%d}-{customer_id}-{alert_type}"


def parse_alert_id(value: str) -> tuple[dt.date, str, str]:
    """(date, customer id, type) of an alert id; a malformed id is refused naming the format."""
    parts = value.split("-")
    kind = parts[-1] if len(parts) >= 4 else ""
    if len(parts) < 4 or parts[0] != "HA" or kind not in ALERT_TYPES:
        raise InvalidArgumentError(
            f"alert id {value!r} is not of the form HA-<yyyymmdd>-<customer id>-<type> (types: {', '.join(ALERT_TYPES)});"
            " copy it from the alerts view"
        )
    try:
        day = dt.datetime.strptime(parts[1], "%Y%m%d").date()
    except ValueError:
        raise InvalidArgumentError(f"alert id {value!r}: {parts[1]!r} is not a date (yyyymmdd)") from None
    return day, "-".join(parts[2:-1]), kind
