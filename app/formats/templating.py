"""Template rendering for the rule-based CJ: placeholders, number formats and conditions.

A template is text with placeholders ``{path|formatter}``: ``path`` walks a tool result's JSON
artifact (:func:`~app.analysis.artifacts.resolve`: dots between keys, list items by index, e.g.
``top_cancel_reasons.0.reason``) and ``formatter`` is one of :data:`FORMATTERS` (the number
formats of :mod:`app.formatting`, so CJ writes every number exactly as the tool text does). A
placeholder whose value is missing or null makes the whole template unrenderable: the fact is
skipped rather than stated as "n/a".

Conditions (``when``, ``alarm``) are one comparison ``<path> <op> <literal>`` with ``op`` in
``== != > >= < <=``, or ``<path> exists`` / ``<path> missing``.

Example:
    >>> render("MRR {mrr.current|money} ({mrr|trend:money})",
    ...        {"mrr": {"current": 73023.0, "previous": 70356.0, "change_pct": 3.8, "direction": "up"}})
    'MRR $73,023 (up 3.8% from $70,356)'
    >>> Condition.parse("churn_rate.direction == up").holds({"churn_rate": {"direction": "up"}})
    True
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from app.analysis.artifacts import resolve
from app.formatting import count, hours, money, pct, points, rate_pct, signed_pct

__all__ = ["FORMATTERS", "Condition", "render", "placeholders", "check_formatters", "check_condition", "with_currency"]

_WINDOWS = {"24h": "24 hours", "3d": "3 days", "7d": "7 days", "30d": "30 days", "60d": "60 days", "90d": "90 days"}


def _num(fmt: Callable[[float], str]) -> Callable[[Any], str | None]:
    def apply(value: Any) -> str | None:
        return None if value is None or isinstance(value, bool) else fmt(value)

    return apply


FORMATTERS: dict[str, Callable[[Any], str | None]] = {
    "money": _num(money),
    "rate_pct": _num(rate_pct),
    "share": _num(lambda v: rate_pct(v, 0)),
    "pct": _num(pct),
    "signed_pct": _num(signed_pct),
    "count": _num(count),
    "hours": _num(hours),
    "score": _num(lambda v: f"{v:.2f}"),
    "per_day": _num(lambda v: f"{v:.1f}"),
    "ratio": _num(lambda v: f"{v:.1f}x"),
    "label": lambda v: None if v is None else str(v).replace("_", " "),
    "text": lambda v: None if v is None else str(v),
    "window": lambda v: None if v is None else _WINDOWS.get(str(v), str(v)),
    "len": lambda v: count(len(v)) if isinstance(v, list) else None,
}
"""Formatter name -> function; ``trend:<name>`` formats a Trend dict with ``<name>``."""

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)(?:\|([a-z_]+(?::[a-z_]+)?))?\}")


def _trend(value: Any, fmt: Callable[[Any], str | None]) -> str | None:
    """A trend as an analyst states it: relative change, points for rates, both values across zero."""
    if not isinstance(value, Mapping) or value.get("unavailable") or value.get("current") is None:
        return None
    previous = fmt(value.get("previous"))
    if previous is None:
        return None
    change = value.get("change_pct")
    direction = value.get("direction", "flat")
    pts = value.get("change_points")
    if pts is not None:
        if pts == 0:
            return f"unchanged from {previous}"
        move = "up" if pts > 0 else "down"
        lead = "about flat, " if direction == "flat" else ""
        return f"{lead}{move} {points(pts)} from {previous}"
    if change is None:
        return f"flat vs {previous}" if direction == "flat" else f"{direction} from {previous}"
    if direction == "flat":
        if change == 0:
            return f"unchanged from {previous}"
        return f"about flat, {'down' if change < 0 else 'up'} {abs(change):.1f}% from {previous}"
    return f"{direction} {abs(change):.1f}% from {previous}"


def _format(value: Any, name: str | None, currency: str | None = None) -> str | None:
    if name is None:
        return FORMATTERS["text"](value)
    if name.startswith("trend:"):
        inner = name.split(":", 1)[1]
        return _trend(value, _money_in(currency) if inner == "money" else FORMATTERS[inner])
    if name == "money":
        return _money_in(currency)(value)
    return FORMATTERS[name](value)


def with_currency(item: Any, currency: Any) -> Any:
    """A list item inherits the result's currency (money inside it is in the same currency)."""
    if currency is None or not isinstance(item, Mapping) or "currency" in item:
        return item
    return {**item, "currency": currency}


def _money_in(currency: str | None) -> Callable[[Any], str | None]:
    return _num(lambda v: money(v, currency))


def placeholders(template: str) -> list[tuple[str, str | None]]:
    """The ``(path, formatter)`` pairs of a template."""
    return [(m.group(1), m.group(2)) for m in _PLACEHOLDER.finditer(template)]


def render(template: str, data: Any, extra: Mapping[str, str] | None = None) -> str | None:
    """Fill ``template`` from ``data``; ``None`` if any placeholder has no value.

    ``extra`` supplies plain values by name (e.g. ``items``, ``first_name``) before ``data``.
    """
    missing = False
    # Money is written in the currency the tool result names (its ``currency`` field).
    currency = data.get("currency") if isinstance(data, Mapping) else None

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        path, fmt = match.group(1), match.group(2)
        if extra is not None and path in extra:
            return extra[path]
        text = _format(resolve(data, path), fmt, currency)
        if text is None:
            missing = True
            return ""
        return text

    out = _PLACEHOLDER.sub(fill, template)
    return None if missing else out


def check_formatters(template: str) -> str:
    for _path, fmt in placeholders(template):
        if fmt is None:
            continue
        name = fmt.split(":", 1)[1] if fmt.startswith("trend:") else fmt
        if name not in FORMATTERS:
            raise ValueError(f"unknown formatter {fmt!r} in {template!r}; valid: {', '.join(FORMATTERS)}, trend:<name>")
    return template


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_CONDITION = re.compile(r"^\s*([A-Za-z0-9_.]+)\s+(==|!=|>=|<=|>|<|exists|missing)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Condition:
    """One test on an artifact: ``<path> <op> <literal>`` or ``<path> exists|missing``."""

    path: str
    op: str
    literal: Any = None

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Parse a condition; raises ``ValueError`` naming the expected form."""
        m = _CONDITION.match(text)
        if not m or (m.group(2) in ("exists", "missing")) != (m.group(3) == ""):
            raise ValueError(f"bad condition {text!r}; write '<path> <op> <value>' or '<path> exists|missing'")
        literal = yaml.safe_load(m.group(3)) if m.group(3) else None
        return cls(m.group(1), m.group(2), literal)

    def holds(self, data: Any) -> bool:
        """Whether the condition is true for ``data`` (comparisons with a missing value are false)."""
        value = resolve(data, self.path)
        if self.op == "exists":
            return value is not None and value != []
        if self.op == "missing":
            return value is None or value == []
        if self.op in ("==", "!=") and (self.literal is None or value is not None):
            return _OPS[self.op](value, self.literal)
        if value is None or isinstance(value, bool) != isinstance(self.literal, bool):
            return False
        try:
            return bool(_OPS[self.op](value, self.literal))
        except TypeError:
            return False


def check_condition(text: str | None) -> str | None:
    if text is not None:
        Condition.parse(text)
    return text
