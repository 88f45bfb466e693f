"""Data views and actions: what CJ can know about a merchant's business and what it can do.

One module per family declares its views (argument model, result model with its text
rendering, the SQL-backed ``build`` function, tool name, description and guidance) and its
actions; this package registers them, in display order, in :mod:`app.views.registry`. Tools,
provider methods, CLI commands and JSON Schemas are derived from those declarations.

Example:
    >>> from app.views import VIEWS, view_spec
    >>> view_spec("ticket_metrics").tool
    'get_ticket_metrics'
"""

from app.views import (
    briefing,
    crisis,
    financial,
    health,
    health_alerts,
    interventions,
    journey_playbooks,
    journeys,
    notes,
    orders,
    profile,
    quality,
    retention_ops,
    retention_playbook,
    segments,
    simulation,
    tickets,
    timeline,
)
from app.views.base import (
    WINDOW_DAYS,
    Alert,
    CategoryCount,
    NoArgs,
    Segment,
    TicketSnapshot,
    TimelineEvent,
    TimeRange,
    Trend,
    ViewArgs,
    ViewModel,
    ViewResult,
    not_available,
)
from app.views.provider import DataProvider
from app.views.registry import (
    ACTIONS,
    CAPABILITIES,
    VIEWS,
    ActionSpec,
    ViewSpec,
    action_spec,
    by_tool,
    capability,
    json_schemas,
    register,
    tool_names,
    view_spec,
)

__all__ = [
    "DataProvider",
    "ViewSpec",
    "ActionSpec",
    "VIEWS",
    "ACTIONS",
    "CAPABILITIES",
    "register",
    "view_spec",
    "action_spec",
    "capability",
    "by_tool",
    "tool_names",
    "json_schemas",
    "Trend",
    "ViewArgs",
    "ViewResult",
    "ViewModel",
    "NoArgs",
    "TimeRange",
    "WINDOW_DAYS",
    "Segment",
    "CategoryCount",
    "Alert",
    "TicketSnapshot",
    "TimelineEvent",
    "not_available",
]

# The registration: one line per capability, in the order tools and listings show them (views before actions).
for _spec in (
    briefing.DAILY_BRIEFING,
    tickets.TICKET_METRICS,
    financial.FINANCIAL_METRICS,
    orders.ORDER_METRICS,
    segments.CUSTOMER_SEGMENT,
    crisis.CRISIS_ANALYSIS,
    crisis.DETECT_ANOMALIES,
    segments.CUSTOMER_LIST,
    profile.CUSTOMER_PROFILE,
    tickets.SEARCH_TICKETS,
    timeline.BUSINESS_TIMELINE,
    notes.GET_NOTES,
    retention_ops.GET_ALERT_DECISION,
    retention_ops.GET_OPERATIONAL_CONTEXT,
    retention_ops.GENERATE_BRIEF,
    quality.DATA_QUALITY,
    health.CUSTOMER_HEALTH,
    health.HEALTH_OVERVIEW,
    health_alerts.ALERTS,
    journeys.JOURNEY_OVERVIEW,
    journeys.CUSTOMER_JOURNEY,
    journeys.CHURN_FORECAST,
    journey_playbooks.PLAYBOOKS,
    journey_playbooks.PLAYBOOK_PERFORMANCE,
    journey_playbooks.PORTFOLIO_SNAPSHOT,  # views before actions: listings and schemas show views first
    notes.SAVE_NOTE,
    retention_ops.BUILD_PRIORITY_QUEUE,
    retention_ops.EXPORT_AUDIENCE,
    retention_playbook.TRIGGER_PLAYBOOK,
    health_alerts.ACKNOWLEDGE_ALERT,
    health_alerts.RECORD_ALERT_FEEDBACK,
    interventions.LAUNCH_INTERVENTION,
    interventions.APPROVE_INTERVENTION,
    interventions.OVERRIDE_INTERVENTION,
    simulation.SIMULATE_INTERVENTION,
    simulation.LAUNCH_SIMULATED_INTERVENTION,
):
    register(_spec)
