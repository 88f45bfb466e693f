"""Retention operations over orders: facts at a date, the alert decision, the priority queue, the brief,
audience exports and the playbook webhook (DESIGN.md section 9, docs/retention_ops.md).

The library API (each function takes SQLAlchemy connections, so every backend runs the same code):

* :func:`retention_facts` (source connection, date) -> :class:`RetentionFacts` per customer;
* :func:`alert_decision` (source connection, date) -> :class:`AlertDecision`;
  :func:`operational_context` (facts) -> :class:`OperationalContext`;
* :func:`priority_queue` (facts, currency) -> ordered :class:`PriorityEntry` list;
  :func:`write_queue` (operations-store connection, ...) -> :class:`QueueCounts`;
* :func:`brief_data` + :func:`render_brief` (slack, email, markdown);
* :func:`export_audience` (operations-store connection, date, tier) -> :class:`ExportResult`.

The registered tools over a provider are in :mod:`app.views.retention_ops`.
"""

from app.retention.brief import FORMATS, BriefData, BriefFormat, brief_data, render_brief
from app.retention.decision import AlertDecision, OperationalContext, alert_decision, operational_context
from app.retention.export import CSV_COLUMNS, DESTINATIONS, ExportResult, export_audience, export_path
from app.retention.facts import CustomerRetention, RetentionFacts, retention_facts
from app.retention.queue import (
    QUEUE_ACTION,
    PriorityEntry,
    QueueCounts,
    priority_queue,
    queue_counts,
    read_queue,
    source_currency,
    write_queue,
)
from app.retention.settings import TIERS, RetentionOpsSettings, Tier, load_settings

__all__ = [
    "RetentionOpsSettings",
    "load_settings",
    "Tier",
    "TIERS",
    "CustomerRetention",
    "RetentionFacts",
    "retention_facts",
    "AlertDecision",
    "OperationalContext",
    "alert_decision",
    "operational_context",
    "QUEUE_ACTION",
    "PriorityEntry",
    "QueueCounts",
    "priority_queue",
    "write_queue",
    "queue_counts",
    "read_queue",
    "source_currency",
    "BriefFormat",
    "FORMATS",
    "BriefData",
    "brief_data",
    "render_brief",
    "DESTINATIONS",
    "CSV_COLUMNS",
    "ExportResult",
    "export_path",
    "export_audience",
]
