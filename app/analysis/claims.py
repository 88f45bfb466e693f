"""Numeric claims in text, and the values a conversation's tool results make available.

A *claim* is a number CJ states: money in any currency the views write (``$45,210``, ``$45.2K``,
``45k``, ``£6,090``, ``CHF 40.00``), a percentage, a duration in hours, or a count (with the noun after it, if any). A claim is *grounded* when
some value CJ received from a tool earlier in the conversation matches it, allowing for the
rounding the claim's own precision implies (``5.2%`` matches 0.0523; ``$45K`` matches 45,210
within half a thousand). Signs are not compared: the words around a number ("down 3.1%")
carry its direction. Customer and ticket ids (``C000123``, ``T000045``) are *entities*, not
numbers.

Example:
    >>> [(c.text, c.kind, c.value) for c in extract_claims("MRR is $45.2K, churn 5.2%, 238 subscribers")]
    [('$45.2K', 'money', 45200.0), ('5.2%', 'percent', 5.2), ('238', 'count', 238.0)]
    >>> find_source(extract_claims("$45.2K")[0], [45210.0])
    45210.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from app.formatting import CURRENCIES

__all__ = [
    "Claim",
    "Entity",
    "extract_claims",
    "extract_entities",
    "source_values",
    "find_source",
    "numeric_leaves",
]

_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9}

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# every sign the views write money with (``$``, ``£``, ``€``, ``CA$``, ``CHF ``...), longest first
_SIGNS = "|".join(map(re.escape, sorted({c.symbol.strip() for c in CURRENCIES.values()}, key=len, reverse=True)))
_TOKEN = re.compile(
    rf"(?P<money>-?(?<![A-Za-z])(?:{_SIGNS})\s?(?P<mnum>{_NUMBER})\s?(?P<mscale>[kKmMbB](?![a-zA-Z]))?)"
    rf"|(?P<pct>(?P<pnum>[-+]?(?:{_NUMBER}))\s?%)"
    rf"|(?P<hours>(?P<hnum>{_NUMBER})\s?(?:h\b|hrs?\b|hours?\b))"
    rf"|(?P<scaled>(?P<snum>{_NUMBER})(?P<sscale>[kK])\b)"
    rf"|(?P<ratio>(?<![\w.\-/:])(?P<rnum>{_NUMBER})x\b)"
    rf"|(?P<perday>(?<![\w.\-/:])(?P<dnum>{_NUMBER})/day\b)"
    rf"|(?P<num>(?<![\w.\-/:])(?P<nnum>-?(?:{_NUMBER}))(?![\w\-/:]|\.\d))"
)
_IGNORED_SPANS = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\b"  # dates and times
    r"|\b[A-Z]{1,2}\d{4,}\b"  # ids like C000123, T000045
    r"|^\s*\d+[.)]\s"  # list numbering
    r"|\b\d{1,2}:\d{2}\b"  # clock times
    r"|\b(?:last|past|previous|next|prior|first|within|in|over)\s+\d+\s*(?:days?|weeks?|months?|hours?|h|d)\b"  # windows
    r"|\(\d+d\)|\b\d+d\b",  # window labels like (30d)
    re.MULTILINE | re.IGNORECASE,
)
_NOUN = re.compile(r"\s+([a-z][a-z\-]*)")
_CUSTOMER_ID = re.compile(r"\bC\d{4,}\b")
_TICKET_ID = re.compile(r"\bT\d{4,}\b")
_NAME_BEFORE_ID = re.compile(r"\b([A-Z][a-z'\-]+(?: [A-Z][a-z'\-]+){1,2}) \((C\d{4,})\b")


@dataclass(frozen=True)
class Claim:
    """A number stated in text.

    Attributes:
        text: as written, e.g. ``$45.2K``.
        kind: money, percent, hours or count.
        value: the number in natural units (dollars, percent points, hours, count).
        tolerance: half a unit of the last digit shown (the rounding the claim allows).
        start: character offset of ``text`` in the message.
        noun: the word right after a count (``238 subscribers`` -> ``subscribers``), if any.
        unit: ``x`` for ratios (``2.4x``), ``per_day`` for rates (``3.4/day``), else ``None``.
    """

    text: str
    kind: str
    value: float
    tolerance: float
    start: int
    noun: str | None = None
    unit: str | None = None

    @property
    def end(self) -> int:
        """Offset just past the claim's text."""
        return self.start + len(self.text)


@dataclass(frozen=True)
class Entity:
    """A named customer (name or id) or a ticket id stated in text."""

    text: str
    kind: str  # customer | ticket
    value: str
    start: int
    id_hint: str | None = None  # the id written next to a name: "Donna Harris (C000882)"

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def _decimals(num: str) -> int:
    return len(num.split(".")[1]) if "." in num else 0


def _value(num: str) -> float:
    return float(num.replace(",", ""))


def extract_claims(text: str) -> list[Claim]:
    """Every numeric claim in ``text`` (dates, times, ids, windows and list numbering are not claims)."""
    masked = _IGNORED_SPANS.sub(lambda m: " " * len(m.group(0)), text)
    claims = []
    for m in _TOKEN.finditer(masked):
        noun = unit = None
        if m.group("money"):
            num, scale = m.group("mnum"), (m.group("mscale") or "").lower()
            factor = _SCALE.get(scale, 1.0)
            kind = "money"
        elif m.group("pct"):
            num, factor, kind = m.group("pnum").lstrip("+"), 1.0, "percent"
        elif m.group("hours"):
            num, factor, kind = m.group("hnum"), 1.0, "hours"
        elif m.group("scaled"):
            num, factor = m.group("snum"), 1e3
            after = _NOUN.match(masked, m.end())
            noun = after.group(1) if after else None
            kind = "count" if noun else "money"
        elif m.group("ratio"):
            num, factor, kind, unit = m.group("rnum"), 1.0, "count", "x"
        elif m.group("perday"):
            num, factor, kind, unit = m.group("dnum"), 1.0, "count", "per_day"
        else:
            num, factor, kind = m.group("nnum"), 1.0, "count"
            after = _NOUN.match(masked, m.end())
            noun = after.group(1) if after else None
        tolerance = 0.5 * 10 ** (-_decimals(num)) * factor
        sign = -1.0 if m.group(0).lstrip().startswith("-") and kind == "money" else 1.0
        raw = m.group(0)
        stripped = raw.strip()
        start = m.start() + (len(raw) - len(raw.lstrip()))
        claims.append(Claim(stripped, kind, sign * _value(num) * factor, tolerance, start, noun, unit))
    return claims


def extract_entities(text: str, known_names: Iterable[str] = ()) -> list[Entity]:
    """Customer ids, ticket ids and customer names in ``text``.

    Names are found where written next to an id (``Donna Harris (C000882)``) and wherever one of
    ``known_names`` (names seen in the conversation's tool results) occurs.
    """
    found: dict[tuple[int, int], Entity] = {}
    for m in _CUSTOMER_ID.finditer(text):
        found[(m.start(), m.end())] = Entity(m.group(0), "customer", m.group(0), m.start())
    for m in _TICKET_ID.finditer(text):
        found[(m.start(), m.end())] = Entity(m.group(0), "ticket", m.group(0), m.start())
    for m in _NAME_BEFORE_ID.finditer(text):
        found[(m.start(1), m.end(1))] = Entity(m.group(1), "customer", m.group(1), m.start(1), m.group(2))
    for name in known_names:
        start = text.find(name)
        while start >= 0:
            end = start + len(name)
            if (start, end) not in found and (end >= len(text) or not text[end].isalpha()):
                found[(start, end)] = Entity(name, "customer", name, start)
            start = text.find(name, end)
    return [found[k] for k in sorted(found)]


def numeric_leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """(dotted path, value) of every numeric leaf of a JSON-like structure (list items by index)."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                yield path, float(value)
            elif isinstance(value, (dict, list)):
                yield from numeric_leaves(value, path)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, (dict, list)):
                yield from numeric_leaves(item, f"{prefix}.{i}" if prefix else str(i))
            elif isinstance(item, (int, float)) and not isinstance(item, bool):
                yield (f"{prefix}.{i}" if prefix else str(i)), float(item)


_TREND_PARTS = frozenset({"current", "previous"})


_DIGIT = re.compile(r"\d")


def _last_key(path: str) -> str:
    """The field a leaf belongs to: ``churn_rate.current`` -> ``churn_rate``, ``by_category.0.share`` -> ``share``."""
    parts = [p for p in path.split(".") if not p.isdigit()]
    if len(parts) > 1 and parts[-1] in _TREND_PARTS:
        return parts[-2]
    return parts[-1] if parts else path


_FRACTION_FIELDS = re.compile(r"(rate|share|retention|risk|churn|deliverability)", re.IGNORECASE)


def source_values(tool_texts: Iterable[str], artifacts: Iterable[Any]) -> list[float]:
    """Every value a conversation's tool results made available, in the units a claim would use.

    Fractions (rates, shares) are also offered as percentages; claims parsed from the tools'
    own text are included as written.
    """
    values: set[float] = set()
    for art in artifacts:
        for path, v in numeric_leaves(art):
            values.add(v)
            if _FRACTION_FIELDS.search(_last_key(path)) and abs(v) <= 1.0:
                values.add(v * 100)
    for text in tool_texts:
        for c in extract_claims(text):
            values.add(c.value)
    return sorted(values)


def find_source(claim: Claim, values: list[float]) -> float | None:
    """The source value matching ``claim`` within its rounding tolerance, if any (signs ignored)."""
    tol = claim.tolerance + 1e-9
    for v in values:
        if math.isclose(abs(v), abs(claim.value), abs_tol=tol):
            return v
    return None
