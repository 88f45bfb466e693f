"""Reading a tool result's JSON artifact by dotted path.

The rule-based CJ's templates name the values they state this way
(``top_cancel_reasons.0.reason``), and goal coverage names the value a merchant goal expects
(``financial_metrics.churn_rate.current``).

Example:
    >>> resolve({"churn_rate": {"current": 0.052}}, "churn_rate.current")
    0.052
    >>> resolve({"reasons": [{"reason": "too_expensive"}]}, "reasons.0.reason")
    'too_expensive'
    >>> resolve({"reasons": []}, "reasons.0.reason") is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["resolve"]


def resolve(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` in ``data``; ``None`` when any step is missing."""
    current = data
    for step in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(step)
        elif isinstance(current, list) and step.isdigit():
            index = int(step)
            current = current[index] if index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current
