"""The scripted merchant's feedback on a health alert: which alert CJ showed, and what the merchant
says about it (docs/health.md, "The alert_triage workflow").

The merchant knows the world it is simulated in. The alert is the one of the customer CJ talked
about last (by name or id in CJ's replies; the riskiest alert when CJ named none, as CJ's own
default). Its accuracy follows the world's truth (:func:`app.health.truth.customer_left`): the
customer left within the horizon -> "accurate", else what the persona says of a customer who
stayed. Where the future cannot be checked (a database, or a date whose horizon the world has not
simulated) the persona's ``unknown`` wording stands in. Priority comes from the severity and the
accuracy, shifted by persona.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from app.formats.merchant_script import AlertFeedbackStyle
from app.views import DataProvider
from app.views.health_alerts import AlertItem, AlertList

__all__ = ["AlertFeedback", "SEVERITY_PRIORITY", "ACCURACY_PENALTY", "alert_feedback", "priority_of"]

SEVERITY_PRIORITY = {"critical": 5, "high": 4, "medium": 3, "low": 2}
ACCURACY_PENALTY = {"accurate": 0, "somewhat accurate": 1, "inaccurate": 2}
_RISK_SEVERITIES = ["critical", "high", "medium"]
_SCAN_LIMIT = 500  # the alerts view's largest page: every risk alert CJ can have named


@dataclass(frozen=True)
class AlertFeedback:
    """The merchant's feedback on one alert, and why."""

    alert_id: str
    customer_id: str
    severity: str
    left: bool | None
    """Whether the customer left within the horizon; None when the future cannot be checked."""
    accuracy: str
    """As spoken: accurate, somewhat accurate or inaccurate."""
    priority: int


def priority_of(severity: str, accuracy: str, shift: int) -> int:
    """The priority (1-5) a merchant gives an alert of ``severity`` it judges ``accuracy``."""
    return max(1, min(5, SEVERITY_PRIORITY.get(severity, 3) - ACCURACY_PENALTY[accuracy] + shift))


def _alert_shown(provider: DataProvider, replies: Sequence[str]) -> AlertItem | None:
    """The alert item of the customer CJ named last (the riskiest when none), or None without alerts."""
    view = provider.get_view("alerts", severity=_RISK_SEVERITIES, limit=_SCAN_LIMIT)
    items = view.alerts if isinstance(view, AlertList) else []
    for reply in reversed(replies):
        named = [(pos, i) for i, item in enumerate(items)
                 for pos in (reply.find(item.name), reply.find(item.customer_id)) if pos >= 0]  # fmt: skip
        if named:
            return items[min(named)[1]]
    return items[0] if items else None


def _truth(provider: DataProvider, customer_id: str, day: dt.date) -> bool | None:
    from app.health.truth import customer_left
    from app.providers.data_agent import DataAgent

    if not isinstance(provider, DataAgent):  # a database: no future to check
        return None
    return customer_left(provider, customer_id, day)


def alert_feedback(
    provider: DataProvider | None, replies: Sequence[str], style: AlertFeedbackStyle
) -> AlertFeedback | None:
    """The feedback a merchant of ``style`` gives on the alert CJ showed in ``replies`` (None when the
    provider has no risk alert, or no provider is known)."""
    if provider is None:
        return None
    item = _alert_shown(provider, replies)
    if item is None:
        return None
    day = provider.default_as_of()
    left = _truth(provider, item.customer_id, day)
    accuracy = style.unknown if left is None else "accurate" if left else style.stayed
    return AlertFeedback(
        alert_id=item.alert.alert_id,
        customer_id=item.customer_id,
        severity=item.alert.severity,
        left=left,
        accuracy=accuracy,
        priority=priority_of(item.alert.severity, accuracy, style.priority_shift),
    )
