"""Governance of personal data: privacy requests (access, deletion, correction, portability).

:func:`submit_request` runs a request against a source database, an operations store and a folder
of transcripts; :func:`list_requests` and :func:`get_request` read the recorded requests. See
docs/governance.md for what is erased, what is anonymised and how a deletion is verified.
"""

from app.governance.privacy import (
    AUDIT_ACTION,
    PrivacyOutcome,
    PrivacyRecord,
    check_request,
    get_request,
    list_requests,
    submit_request,
)
from app.governance.privacy_data import BUNDLE_FORMAT, CORRECTABLE, EXPORT_FORMAT
from app.storage.ops_privacy import REGULATIONS, REQUEST_STATUSES, REQUEST_TYPES

__all__ = [
    "AUDIT_ACTION",
    "BUNDLE_FORMAT",
    "CORRECTABLE",
    "EXPORT_FORMAT",
    "PrivacyOutcome",
    "PrivacyRecord",
    "REGULATIONS",
    "REQUEST_STATUSES",
    "REQUEST_TYPES",
    "check_request",
    "get_request",
    "list_requests",
    "submit_request",
]
