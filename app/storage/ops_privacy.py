"""Privacy requests in the operations store (migration 8): one row per access, deletion, correction
or portability request, with its regulation, status, times, who asked and what was done.

The row never holds the subject's identifiers: ``subject_hash`` is the SHA-256 of the customer id
(see :func:`app.governance.privacy_search.subject_hash`), enough to recognise a repeated request and
to show which request covered a person, while a search of the stores for the person's id, email or
name finds nothing here after an erasure. ``summary`` and ``verification`` hold counts, table and
field names, never values.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, Integer, String, Table, Text

from app.storage.ops_meta import ops_metadata

__all__ = ["privacy_requests", "PRIVACY_TABLES", "REQUEST_TYPES", "REGULATIONS", "REQUEST_STATUSES"]

REQUEST_TYPES = ("access", "deletion", "correction", "portability")
"""What a data subject can ask for (GDPR articles 15, 17, 16 and 20; CCPA's right to know, delete and correct)."""

REGULATIONS = ("gdpr", "uk_gdpr", "ccpa", "lgpd", "hipaa")
"""The regulations a request may be filed under (recorded with it; the processing is the same)."""

REQUEST_STATUSES = ("received", "in_progress", "completed", "rejected", "failed")
"""received -> in_progress -> completed | rejected (nothing to act on) | failed (an error, or a trace
left after a deletion)."""

privacy_requests = Table(
    "ops_privacy_requests",
    ops_metadata,
    Column("request_id", Integer, primary_key=True, autoincrement=True),
    Column("request_type", String(16), nullable=False, doc="access | deletion | correction | portability"),
    Column("regulation", String(16), nullable=False, doc="gdpr | uk_gdpr | ccpa | lgpd | hipaa"),
    Column("subject_hash", String(64), nullable=False, doc="SHA-256 (hex) of the customer id; never the id itself"),
    Column("idempotency_key", String(64), nullable=False, doc="hash of the request's content: a retry finds it"),
    Column("status", String(16), nullable=False, doc="received | in_progress | completed | rejected | failed"),
    Column("day", Date, nullable=False, doc="the day the request was received (part of the audit key)"),
    Column("requested_at", DateTime, nullable=False),
    Column("completed_at", DateTime, nullable=True),
    Column("requested_by", String(120), nullable=False, doc="who filed it (the operator or system)"),
    Column("processed_by", String(120), nullable=False, doc="what processed it: cli, library, ..."),
    Column("summary", Text, nullable=True, doc="JSON: rows per table exported, erased, anonymised or changed"),
    Column("verification", Text, nullable=True, doc="JSON: the post-deletion search (tables, files, traces found)"),
    Column("output_path", Text, nullable=True, doc="where an access or portability export was written"),
    Column("error", Text, nullable=True),
    Column("audit_id", Integer, nullable=True, doc="the ops_action_audit row of the request"),
    Index("ops_privacy_requests_subject", "subject_hash", "request_type"),
    Index("ops_privacy_requests_key", "day", "idempotency_key"),
)

PRIVACY_TABLES: tuple[Table, ...] = (privacy_requests,)
"""The tables of operations-store migration 8."""
