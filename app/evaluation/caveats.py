"""Caveats on poor data: a reply stating figures from views the data_quality view flags must say so.

Known only when the conversation holds a successful ``get_data_quality`` result: without one the
quality is unknown and nothing is checked. After a result whose verdict is ``caveat`` or
``poor``, each CJ reply that states a number (a digit) and follows a result of one of that
result's ``affected_views`` must carry a caveat: a mention of data quality or a caveat
(:data:`CAVEAT`). The ``style`` evaluator runs it as its ``caveat`` sub-check.

Example:
    >>> bool(CAVEAT.search("Data-quality caveat: orders (validity) falls short of the quality thresholds"))
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from app.transcript import Transcript
from app.views.quality import DATA_QUALITY
from app.views.registry import CAPABILITIES

__all__ = ["CAVEAT", "caveat_checks"]

CAVEAT = re.compile(r"\bdata[- ]quality\b|\bcaveat\b", re.IGNORECASE)
"""What counts as a caveat in a reply."""

_DIGIT = re.compile(r"\d")


def _view_of(tool: str | None) -> str | None:
    spec = next((s for s in CAPABILITIES.values() if s.tool == tool), None)
    return spec.name if spec is not None else None


def caveat_checks(transcript: Transcript, replies: Iterable[int]) -> tuple[int, list[dict[str, Any]]]:
    """(checks run, violations) of the caveat rule over the CJ replies at ``replies``."""
    wanted = set(replies)
    quality: dict[str, Any] | None = None
    since_reply: list[str] = []
    run, violations = 0, []
    for i, m in enumerate(transcript.messages):
        if m.role == "tool" and m.status != "error" and isinstance(m.artifact, dict):
            if m.name == DATA_QUALITY.tool:
                quality = m.artifact
            elif (view := _view_of(m.name)) is not None:
                since_reply.append(view)
            continue
        if i not in wanted:
            continue
        flagged = (
            set((quality or {}).get("affected_views") or []) if (quality or {}).get("verdict", "ok") != "ok" else set()
        )
        used = sorted(flagged & set(since_reply))
        since_reply = []
        if not used or not _DIGIT.search(m.content):
            continue
        run += 1
        if not CAVEAT.search(m.content):
            text = (
                f"figures from {', '.join(used)} without a caveat (data quality {quality and quality.get('verdict')})"
            )
            violations.append({"check": "caveat", "message": i, "text": text})
    return run, violations
