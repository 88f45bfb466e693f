"""Numeric claims in text, and the values a conversation's tool results make available.

A *claim* is a number CJ states: money (``$45,210``, ``$45.2K``, ``45k``), a percentage, a
duration in hours, or a count. A claim is *grounded* when some value CJ received from a tool
earlier in the conversation matches it, allowing for the rounding the claim's own precision
implies (``5.2%`` matches 0.0523; ``$45K`` matches 45,210 within half a thousand).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Claim", "extract_claims", "source_values", "find_source"]

_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9}

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_TOKEN = re.compile(
    rf"(?P<money>\$\s?(?P<mnum>{_NUMBER})\s?(?P<mscale>[kKmMbB](?![a-zA-Z]))?)"
    rf"|(?P<pct>(?P<pnum>[-+]?(?:{_NUMBER}))\s?%)"
    rf"|(?P<hours>(?P<hnum>{_NUMBER})\s?(?:h\b|hrs?\b|hours?\b))"
    rf"|(?P<scaled>(?P<snum>{_NUMBER})(?P<sscale>[kK])\b)"
    rf"|(?P<num>(?<![\w.\-/:])(?P<nnum>{_NUMBER})(?![\w\-/:]|\.\d))"
)
_IGNORED_SPANS = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\b"  # dates and times
    r"|\b[A-Z]{1,2}\d{4,}\b"  # ids like C000123, T000045
    r"|^\s*\d+[.)]\s"  # list numbering
    r"|\b\d{1,2}:\d{2}\b"  # clock times
    r"|\b(?:last|past|previous|next|prior|first|within|in)\s+\d+\s*(?:days?|weeks?|months?|hours?|h|d)\b",  # windows
    re.MULTILINE | re.IGNORECASE,
)


@dataclass(frozen=True)
class Claim:
    """A number stated in text.

    Attributes:
        text: as written, e.g. ``$45.2K``.
        kind: money, percent, hours or count.
        value: the number in natural units (dollars, percent points, hours, count).
        tolerance: half a unit of the last digit shown (the rounding the claim allows).
    """

    text: str
    kind: str
    value: float
    tolerance: float
    start: int


def _decimals(num: str) -> int:
    return len(num.split(".")[1]) if "." in num else 0


def _value(num: str) -> float:
    return float(num.replace(",", ""))


def extract_claims(text: str) -> list[Claim]:
    """Every numeric claim in ``text`` (dates, times, ids and list numbering are not claims)."""
    masked = _IGNORED_SPANS.sub(lambda m: " " * len(m.group(0)), text)
    claims = []
    for m in _TOKEN.finditer(masked):
        if m.group("money"):
            num, scale = m.group("mnum"), (m.group("mscale") or "").lower()
            factor = _SCALE.get(scale, 1.0)
            kind = "money"
        elif m.group("pct"):
            num, factor, kind = m.group("pnum").lstrip("+"), 1.0, "percent"
        elif m.group("hours"):
            num, factor, kind = m.group("hnum"), 1.0, "hours"
        elif m.group("scaled"):
            num, factor, kind = m.group("snum"), 1e3, "money_or_count"
        else:
            num, factor, kind = m.group("nnum"), 1.0, "count"
        tolerance = 0.5 * 10 ** (-_decimals(num)) * factor
        claims.append(Claim(m.group(0).strip(), kind, _value(num) * factor, tolerance, m.start()))
    return claims


def _numbers(node: Any) -> Iterable[tuple[str, float]]:
    """(field name, value) of every numeric leaf of a JSON-like structure."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                yield str(key), float(value)
            else:
                yield from _numbers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _numbers(item)


_FRACTION_FIELDS = re.compile(r"(rate|share|retention|risk|churn|deliverability)", re.IGNORECASE)


def source_values(tool_texts: Iterable[str], artifacts: Iterable[Any]) -> list[float]:
    """Every value a conversation's tool results made available, in the units a claim would use.

    Fractions (rates, shares) are also offered as percentages; claims parsed from the tools'
    own text are included as written.
    """
    values: set[float] = set()
    for art in artifacts:
        for key, v in _numbers(art):
            values.add(v)
            if _FRACTION_FIELDS.search(key) and abs(v) <= 1.0:
                values.add(v * 100)
    for text in tool_texts:
        for c in extract_claims(text):
            values.add(c.value)
    return sorted(values)


def find_source(claim: Claim, values: list[float]) -> float | None:
    """The source value matching ``claim`` within its rounding tolerance, if any."""
    tol = claim.tolerance + 1e-9
    for v in values:
        if math.isclose(v, claim.value, abs_tol=tol) or (claim.kind == "percent" and math.isclose(abs(v), abs(claim.value), abs_tol=tol)):
            return v
    return None
