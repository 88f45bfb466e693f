"""Alert rules of the daily briefing: thresholds on headline trends and support load."""

from __future__ import annotations

from dataclasses import dataclass

from app.formatting import hours, rate_pct
from app.views.base import Alert, Trend

__all__ = ["AlertThresholds", "briefing_alerts"]


@dataclass(frozen=True)
class AlertThresholds:
    """When a briefing raises a warning or a critical alert (ratios compare to the previous 30 days)."""

    churn_ratio_warning: float = 1.2
    churn_ratio_critical: float = 1.5
    mrr_drop_warning_pct: float = -2.0
    mrr_drop_critical_pct: float = -5.0
    new_subscribers_drop_warning_pct: float = -25.0
    revenue_drop_warning_pct: float = -10.0
    revenue_drop_critical_pct: float = -20.0
    csat_warning: float = 4.0
    csat_critical: float = 3.7
    ticket_spike_ratio: float = 2.5
    first_response_warning_hours: float = 3.0
    first_response_critical_hours: float = 6.0
    urgent_open_warning: int = 3
    urgent_open_critical: int = 10


def briefing_alerts(
    *,
    mrr: Trend,
    churn_rate: Trend,
    new_subscribers: Trend,
    csat: Trend,
    revenue: Trend | None = None,
    tickets_3d_per_day: float,
    tickets_baseline_per_day: float,
    first_response_hours: float | None,
    urgent_open: int,
    thresholds: AlertThresholds = AlertThresholds(),
) -> list[Alert]:
    """Alerts for one briefing, most severe first."""
    t = thresholds
    alerts: list[Alert] = []

    def add(severity: str, metric: str, message: str) -> None:
        alerts.append(Alert(severity=severity, metric=metric, message=message))

    if churn_rate.current is not None and churn_rate.previous:
        ratio = churn_rate.current / churn_rate.previous
        if ratio >= t.churn_ratio_warning:
            add(
                "critical" if ratio >= t.churn_ratio_critical else "warning",
                "churn_rate",
                f"Churn is {rate_pct(churn_rate.current)} over 30 days, {ratio:.1f}x the previous "
                f"{rate_pct(churn_rate.previous)}",
            )
    if mrr.change_pct is not None and mrr.change_pct <= t.mrr_drop_warning_pct:
        add(
            "critical" if mrr.change_pct <= t.mrr_drop_critical_pct else "warning",
            "mrr",
            f"MRR is down {abs(mrr.change_pct):.1f}% over 30 days",
        )
    if new_subscribers.change_pct is not None and new_subscribers.change_pct <= t.new_subscribers_drop_warning_pct:
        add("warning", "new_subscribers", f"New subscribers are down {abs(new_subscribers.change_pct):.1f}% vs the previous 30 days")
    if revenue is not None and revenue.change_pct is not None and revenue.change_pct <= t.revenue_drop_warning_pct:
        add(
            "critical" if revenue.change_pct <= t.revenue_drop_critical_pct else "warning",
            "revenue",
            f"Revenue is down {abs(revenue.change_pct):.1f}% vs the previous 30 days",
        )
    if csat.current is not None and csat.current < t.csat_warning:
        add(
            "critical" if csat.current < t.csat_critical else "warning",
            "csat",
            f"CSAT is {csat.current:.2f} over 30 days",
        )
    if tickets_baseline_per_day > 0 and tickets_3d_per_day >= t.ticket_spike_ratio * tickets_baseline_per_day:
        ratio = tickets_3d_per_day / tickets_baseline_per_day
        add(
            "critical",
            "tickets",
            f"Ticket spike: {tickets_3d_per_day:.1f} tickets/day over the last 3 days, {ratio:.1f}x the usual "
            f"{tickets_baseline_per_day:.1f}/day",
        )
    if first_response_hours is not None and first_response_hours > t.first_response_warning_hours:
        add(
            "critical" if first_response_hours > t.first_response_critical_hours else "warning",
            "first_response",
            f"First response takes {hours(first_response_hours)} on average (7d)",
        )
    if urgent_open >= t.urgent_open_warning:
        add(
            "critical" if urgent_open >= t.urgent_open_critical else "warning",
            "urgent_tickets",
            f"{urgent_open} urgent tickets are open",
        )
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(alerts, key=lambda a: order[a.severity])
