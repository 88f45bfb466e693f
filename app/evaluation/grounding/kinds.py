"""What a number is: the kind of a claim or a source value, and the metric a sentence names.

Grounding compares like with like. A claim's *kind* comes from how it is written (``$`` money,
``%`` percent, ``h`` hours, ``x`` ratio, ``/day`` per day, "points" a percentage-point change,
anything else a count); a source value's kind comes from its field name
(``data/evaluation.yaml`` ``grounding.field_kinds``; fractions such as ``churn_rate`` are offered
as percentages). A claim is grounded only by a source of a compatible kind (:data:`ACCEPTS`).

A claim's *metric* is the metric label (``consistency.labels``: "churn", "MRR", "CAC", ...)
that opens its clause: the last label before it in the same sentence. A value stated in a
labelled clause must come from that metric's fields (the label's ``fields``), from a sentence of
a tool's prose naming the same metric, or from a derivation over that metric. Changes (percent,
points, ratios) inherit the clause's metric ("Churn: 8.4% (up 43.0% from 5.9%)": all three are
churn); other numbers only when their kind is one the label names ("CSAT: 3.64 from 22
ratings": 22 is part of the CSAT statement because ``csat`` lists its rating count as a field).

    >>> from app.catalog import Catalog
    >>> labels = compile_labels(Catalog.default().evaluation.consistency)
    >>> from app.analysis.claims import extract_claims
    >>> text = "Churn: 12.0% (up 3.1% from 8.2%). Top reason: too expensive (12)."
    >>> sorted(clause_metrics(text, extract_claims(text), labels).items())
    [(7, 'churn_rate'), (17, 'churn_rate'), (27, 'churn_rate')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.analysis.claims import Claim
from app.formats.evaluation import ConsistencySettings, GroundingSettings

__all__ = [
    "ACCEPTS",
    "CHANGE_KINDS",
    "Labels",
    "compile_labels",
    "claim_kind",
    "clause_metrics",
    "label_spans",
    "FieldTyper",
]

ACCEPTS: dict[str, frozenset[str]] = {
    "money": frozenset({"money", "number"}),
    "percent": frozenset({"percent"}),
    "hours": frozenset({"hours"}),
    "points": frozenset({"points"}),
    "ratio": frozenset({"ratio", "number"}),
    "per_day": frozenset({"per_day", "count", "number"}),
    "count": frozenset({"count", "rating", "score", "days", "per_day", "ratio", "number"}),
}
"""Claim kind -> source kinds that can ground it. ``number`` is a value of unknown kind."""

CHANGE_KINDS = frozenset({"percent", "points", "ratio"})
"""Kinds that state a change of the clause's metric, whatever kinds the metric's label names."""

SENTENCE_END = re.compile(r"[.!?](?=\s)|\n|;")


@dataclass(frozen=True)
class Labels:
    """Compiled metric labels: one alternation (the leftmost, longest label wins)."""

    pattern: re.Pattern[str]
    groups: dict[str, tuple[str, frozenset[str]]]
    """Regex group -> (metric id, claim kinds the label names)."""
    fields: dict[str, re.Pattern[str] | None]
    """Metric id -> its fields (a regex over the field path), ``None`` when it declares none."""
    max_gap: int
    after: tuple[tuple[str, frozenset[str], re.Pattern[str]], ...] = ()
    """(metric, kinds, pattern) of labels written right after their number."""

    def kinds_of(self, metric: str) -> frozenset[str]:
        """Claim kinds the metric's labels name."""
        return frozenset().union(*(kinds for m, kinds in self.groups.values() if m == metric))


_COMPILED: dict[int, tuple[ConsistencySettings, Labels]] = {}


def compile_labels(settings: ConsistencySettings) -> Labels:
    """The labels of ``settings``, compiled once per settings object."""
    hit = _COMPILED.get(id(settings))
    if hit is not None and hit[0] is settings:
        return hit[1]
    specs = list(settings.labels.items())
    groups = {f"m{i}": (metric, frozenset(spec.kinds)) for i, (metric, spec) in enumerate(specs)}
    pattern = re.compile(
        "|".join(f"(?P<m{i}>{'|'.join(f'(?:{p})' for p in spec.patterns)})" for i, (_, spec) in enumerate(specs)),
        re.IGNORECASE,
    )
    fields = {
        metric: re.compile("|".join(f"(?:{p})" for p in spec.fields), re.IGNORECASE) if spec.fields else None
        for metric, spec in specs
    }
    after = tuple(
        (metric, frozenset(spec.kinds), re.compile("|".join(f"(?:{p})" for p in spec.after), re.IGNORECASE))
        for metric, spec in specs
        if spec.after
    )
    labels = Labels(pattern, groups, fields, settings.max_gap, after)
    _COMPILED[id(settings)] = (settings, labels)
    return labels


def claim_kind(claim: Claim, points_nouns: frozenset[str]) -> str:
    """The kind of a stated number (see :data:`ACCEPTS`)."""
    if claim.unit == "x":
        return "ratio"
    if claim.unit == "per_day":
        return "per_day"
    if claim.kind == "count" and claim.noun is not None and claim.noun.lower() in points_nouns:
        return "points"
    return claim.kind


_COMMA = re.compile(r",\s*")
_SPANS: dict[tuple[int, str], tuple[tuple[int, int, str, frozenset[str]], ...]] = {}
_SPANS_MAX = 50_000


def label_spans(text: str, labels: Labels) -> tuple[tuple[int, int, str, frozenset[str]], ...]:
    """(start, end, metric, kinds) of every label in ``text``; memoised, since replies and alert
    texts repeat across a batch and the label alternation is the costliest scan."""
    key = (id(labels), text)
    hit = _SPANS.get(key)
    if hit is None:
        if len(_SPANS) >= _SPANS_MAX:
            _SPANS.clear()
        hit = _SPANS[key] = tuple((m.start(), m.end(), *labels.groups[m.lastgroup or ""]) for m in labels.pattern.finditer(text))
    return hit


def clause_metrics(
    text: str, claims: list[Claim], labels: Labels, continuation: re.Pattern[str] | None = None
) -> dict[int, str]:
    """Claim start -> the metric its clause names, for the claims that belong to one.

    A claim belongs to the last label before it in its sentence when it is a change (percent,
    points, ratio) or has a kind the label names; a label written right after a number (a
    label's ``after`` patterns: "788 subscribers cancelled") opens the clause at that number. A comma ends the clause unless what follows it
    continues the statement (``continuation``: "up", "from", "was", ...): in "marketing spend up
    42.8%, visitors up 67.3%" the second number is not marketing spend.
    """
    if not claims:
        return {}
    spans = list(label_spans(text, labels))
    for claim in claims:  # "788 subscribers cancelled": the label after the number opens the clause at it
        for metric, kinds, rx in labels.after:
            if claim.kind in kinds and claim.unit is None and rx.match(text, claim.end):
                spans.append((claim.start, claim.start, metric, kinds))
                break
    if not spans:
        return {}
    spans.sort(key=lambda s: (s[1], s[0]))
    ends = [m.start() for m in SENTENCE_END.finditer(text)]
    out: dict[int, str] = {}
    j = -1
    for claim in claims:
        while j + 1 < len(spans) and spans[j + 1][1] <= claim.start:
            j += 1
        if j < 0:
            continue
        _start, end, metric, kinds = spans[j]
        if any(end <= e < claim.start for e in ends):
            continue  # the label's sentence ended before the claim
        if continuation is not None and any(
            not continuation.match(text, c.end()) for c in _COMMA.finditer(text, end, claim.start)
        ):
            continue  # a comma started another statement
        kind = "ratio" if claim.unit == "x" else claim.kind
        # a bare number in a money metric's clause is its amount ("MRR is 45,210")
        bare_amount = kind == "count" and claim.unit is None and "money" in kinds
        if (claim.unit is None and kind in kinds) or kind in CHANGE_KINDS or bare_amount:
            out[claim.start] = metric
    return out


_INDEX = re.compile(r"\.\d+(?=\.|$)")


class FieldTyper:
    """Kind and metric of a source field path, memoised (paths repeat across results)."""

    def __init__(self, grounding: GroundingSettings, labels: Labels) -> None:
        self._kinds = [(kind, re.compile(p, re.IGNORECASE)) for kind, p in grounding.field_kinds.items()]
        self._fraction = re.compile(grounding.fraction_fields, re.IGNORECASE)
        self._metric_fields = [(m, rx) for m, rx in labels.fields.items() if rx is not None]
        self._memo: dict[tuple[str, str], tuple[str, bool, str | None]] = {}

    def of(self, path: str, name: str) -> tuple[str, bool, str | None]:
        """(kind, is a fraction, metric) of a leaf at ``path`` (view-relative) whose field is ``name``.

        ``name`` is the field the value belongs to: a trend's own name for its ``current`` and
        ``previous``, else the leaf's key.
        """
        hit = self._memo.get((path, name))
        if hit is None:
            shape = _INDEX.sub(".#", path)
            kind = next((k for k, rx in self._kinds if rx.search(name)), "count")
            fraction = self._fraction.search(name) is not None
            metric = next((m for m, rx in self._metric_fields if rx.search(shape)), None)
            hit = self._memo[(path, name)] = (kind, fraction, metric)
        return hit
