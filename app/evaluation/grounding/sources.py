"""The values a conversation's tool results make available, typed, and the declared derivations.

Every numeric leaf of a result's JSON becomes a :class:`Source` with its field path, kind and
metric (:mod:`.kinds`); fractions (``churn_rate``, shares) are offered as percentages too, and as
plain numbers (``risk 0.89``). Numbers written in a result's prose (alert messages, recommended
actions, or the text of a result without JSON) are sources of the kind they are written in, and
of the metric their own sentence names.

**Derivations** -- the only arithmetic grounding accepts, each within one object of one result
(so the operands are the same metric or the same list):

=================  ===========================================  ========================
derivation         value                                        kind
=================  ===========================================  ========================
``change``         a trend's ``current - previous``             the trend's kind
``points``         ``(current - previous) x 100`` of a rate     points (also ``change_points``)
``pct_change``     ``(current - previous) / previous x 100``    percent (not across zero)
``factor``         ``current / previous``                       ratio (``1.4x``)
``share``          a list item's value / the list's total       percent
``per_unit``       a declared ratio of two fields of one        the declared kind
                   result (``grounding.per_unit``: ARPU = MRR
                   / active subscribers, CAC = spend / new)
=================  ===========================================  ========================

No other combination counts: "47%" is not avg_resolution_hours - csat, "9.5h" is not CAC - ARPU.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from app.analysis.claims import Claim, extract_claims
from app.evaluation.grounding.kinds import ACCEPTS, SENTENCE_END, FieldTyper, Labels, claim_kind, clause_metrics
from app.formats.evaluation import GroundingSettings

__all__ = ["Source", "TypedIndex"]

_TREND_PARTS = frozenset({"current", "previous"})
_PROSE: dict[tuple[int, str], tuple[tuple[float, str, str | None], ...]] = {}
_HAS_DIGIT_WINDOW = re.compile(r"(?:\s|\()\d+\s*[dh]", re.IGNORECASE)
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Source:
    """A value a claim may come from.

    Attributes:
        label: where: ``financial_metrics.churn_rate.current`` (a field), ``... text`` (prose), or
            the derivation (``financial_metrics.mrr.current - previous``).
        message: index of the tool message.
        value: in the units a claim states it (fractions as percentages for ``percent``).
        kind: money, percent, hours, points, ratio, per_day, count, rating, score, days, number.
        metric: the metric the value belongs to, if known.
        derived: a derivation, not a value of the result.
    """

    label: str
    message: int
    value: float
    kind: str = "number"
    metric: str | None = None
    derived: bool = False


_TYPERS: dict[tuple[int, int], tuple[GroundingSettings, Labels, FieldTyper]] = {}


def _typer(settings: GroundingSettings, labels: Labels) -> FieldTyper:
    """One field typer per settings and labels, so its memo of field paths serves a whole batch."""
    hit = _TYPERS.get((id(settings), id(labels)))
    if hit is None or hit[0] is not settings or hit[1] is not labels:
        hit = _TYPERS[(id(settings), id(labels))] = (settings, labels, FieldTyper(settings, labels))
    return hit[2]


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


@dataclass
class TypedIndex:
    """Sources of the results added so far, searchable by value (bisect on the absolute value)."""

    settings: GroundingSettings
    labels: Labels
    windows: frozenset[str] = frozenset()
    """Windows a result can cover (``24h``, ``7d``, ...)."""
    typer: FieldTyper = field(init=False)
    result_window: dict[int, str] = field(default_factory=dict)
    """Tool message -> the window its result covers (its ``time_range``), when it has one."""
    _items: list[tuple[float, Source]] = field(default_factory=list)
    _keys: list[float] = field(default_factory=list)
    _sorted: bool = True

    def __post_init__(self) -> None:
        self.typer = _typer(self.settings, self.labels)
        self._points = frozenset(n.lower() for n in self.settings.points_nouns)
        self.continuation = re.compile(self.settings.clause_continues, re.IGNORECASE)
        self._window = re.compile(self.settings.stated_window, re.IGNORECASE)

    def metrics_of(self, text: str, claims: list[Claim]) -> dict[int, str]:
        """Claim start -> the metric its clause names (see :func:`.kinds.clause_metrics`)."""
        return clause_metrics(text, claims, self.labels, self.continuation)

    # ------------------------------------------------------------------ adding

    def _add(self, src: Source) -> None:
        self._items.append((abs(src.value), src))
        self._sorted = False

    def add_result(self, message: int, view: str, artifact: Any, text: str = "", window: str | None = None) -> None:
        """Index one tool result: its JSON leaves and derivations, and the numbers of ``text``.

        ``window``: the time window the result covers (its call's ``time_range``), if any.
        """
        if window is not None:
            self.result_window[message] = window
        if isinstance(artifact, (dict, list)):
            self._collect(artifact, view, message, "", None, "")
            if self.settings.derive_relations and isinstance(artifact, dict):
                self._derive(artifact, view, message)
        if text:
            self._add_prose(f"{view} text", message, text)

    def _add_prose(self, label: str, message: int, text: str) -> None:
        key = (id(self.labels), text)
        parsed = _PROSE.get(key)
        if parsed is None:  # alert and recommendation texts repeat across results: parse each once
            claims = extract_claims(text)
            metrics = self.metrics_of(text, claims)
            parsed = tuple((c.value, claim_kind(c, self._points), metrics.get(c.start)) for c in claims)
            if len(_PROSE) >= 50_000:
                _PROSE.clear()
            _PROSE[key] = parsed
        for value, kind, metric in parsed:
            self._add(Source(label, message, value, kind, metric))

    def _collect(self, node: Any, view: str, message: int, path: str, owner: str | None, parent: str) -> None:
        """Leaves of one object; ``owner`` is the metric an enclosing object names (``"metric": "mrr"``)."""
        if isinstance(node, dict):
            named = node.get("metric")
            if isinstance(named, str) and named in self.labels.fields:
                owner = named
            items: Any = node.items()
        else:
            items = enumerate(node)
        for key, value in items:
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(value, (dict, list)):
                self._collect(value, view, message, sub, owner, str(key) if isinstance(node, dict) else parent)
                continue
            if isinstance(value, str):
                if " " in value and _DIGIT.search(value):
                    self._add_prose(f"{view}.{sub}", message, value)
                continue
            v = _num(value)
            if v is None:
                continue
            name = parent if key in _TREND_PARTS else str(key)
            kind, fraction, metric = self.typer.of(sub, name)
            metric = metric or owner
            label = f"{view}.{sub}"
            if fraction and -1.0 <= v <= 1.0:  # a share or rate: stated as a percentage or as is
                self._add(Source(label, message, v * 100, "percent", metric))
                self._add(Source(label, message, v, "score" if kind == "count" else kind, metric))
            else:
                self._add(Source(label, message, v, kind, metric))

    # ------------------------------------------------------------------ derivations

    def _derive(self, artifact: dict[str, Any], view: str, message: int) -> None:
        fields: dict[str, float] = {}
        for key, value in artifact.items():
            if isinstance(value, dict) and "current" in value:
                cur, prev = _num(value.get("current")), _num(value.get("previous"))
                if cur is None:
                    continue
                fields[key] = cur
                if prev is not None:
                    self._trend(view, message, key, cur, prev)
            elif isinstance(value, list):
                self._shares(view, message, key, value)
            elif _num(value) is not None:
                fields[key] = float(value)
        for rule in self.settings.per_unit:
            num, den = fields.get(rule.numerator), fields.get(rule.denominator)
            if num is not None and den:
                metric = rule.name if rule.name in self.labels.fields else None
                label = f"{view}.{rule.numerator} / {rule.denominator}"
                self._add(Source(label, message, num / den, rule.kind, metric, True))

    def _trend(self, view: str, message: int, key: str, cur: float, prev: float) -> None:
        kind, fraction, metric = self.typer.of(f"{key}.current", key)
        base = f"{view}.{key}"
        if fraction and -1.0 <= cur <= 1.0 and -1.0 <= prev <= 1.0:
            self._add(Source(f"{base} change in points", message, (cur - prev) * 100, "points", metric, True))
        else:
            self._add(Source(f"{base}.current - previous", message, cur - prev, kind, metric, True))
        if prev and (cur == 0 or (cur > 0) == (prev > 0)):
            change = (cur - prev) / abs(prev) * 100
            self._add(Source(f"{base} % change", message, change, "percent", metric, True))
            self._add(Source(f"{base}.current / previous", message, cur / prev, "ratio", metric, True))

    def _shares(self, view: str, message: int, key: str, items: list[Any]) -> None:
        rows = [row for row in items if isinstance(row, dict)]
        for name in ("count",):
            values = [_num(row.get(name)) for row in rows]
            total = sum(v for v in values if v is not None)
            if not total:
                continue
            for i, v in enumerate(values):
                if v is not None:
                    metric = self.typer.of(f"{key}.{i}.{name}", name)[2]
                    label = f"{view}.{key}.{i}.{name} / total"
                    self._add(Source(label, message, v / total * 100, "percent", metric, True))

    # ------------------------------------------------------------------ lookup

    def _ensure_sorted(self) -> None:
        if not self._sorted:
            self._items.sort(key=lambda kv: kv[0])
            self._keys = [k for k, _ in self._items]
            self._sorted = True

    def candidates(self, claim: Claim) -> Iterator[Source]:
        """Every source within the claim's rounding of its value, any kind (signs ignored)."""
        self._ensure_sorted()
        tol = claim.tolerance + 1e-9
        target = abs(claim.value)
        lo = bisect.bisect_left(self._keys, target - tol)
        hi = bisect.bisect_right(self._keys, target + tol)
        for _, src in self._items[lo:hi]:
            yield src

    def stated_window(self, text: str, claim: Claim) -> str | None:
        """The one window the claim's sentence states ("over the last 30 days", "(7d)"), if exactly one."""
        starts = [m.end() for m in SENTENCE_END.finditer(text, 0, claim.start)]
        stop = SENTENCE_END.search(text, claim.end)
        sentence = text[starts[-1] if starts else 0 : stop.start() if stop else len(text)]
        if not _HAS_DIGIT_WINDOW.search(sentence):
            return None  # no number after "last"/"over"/"(": nothing to parse
        found = set()
        for m in self._window.finditer(sentence):
            window = f"{m.group('n')}{m.group('unit')[0].lower()}"
            if window in self.windows:
                found.add(window)
        return found.pop() if len(found) == 1 else None

    def matches(
        self, claim: Claim, metric: str | None, window: str | None = None, asked: tuple[str, int] | None = None
    ) -> list[Source]:
        """Sources that ground ``claim``: its value, a compatible kind, ``metric`` when given, and a
        result covering ``window`` when given (results without a window always qualify). ``asked``
        is the window the merchant's question named and the question's index: results fetched
        after it must cover that window (the reply says nothing otherwise).

        Best first: direct values before derivations, then the closest value, then the latest result.
        """
        kind = claim_kind(claim, self._points)
        if kind == "count" and metric is not None and "money" in self.labels.kinds_of(metric):
            kind = "money"  # "MRR is 45,210": an amount without its currency sign
        accepts = ACCEPTS.get(kind, ACCEPTS["count"])
        covers = self.result_window
        found = [
            s
            for s in self.candidates(claim)
            if s.kind in accepts
            and (metric is None or s.metric == metric)
            and (window is None or covers.get(s.message, window) == window)
            and (asked is None or s.message < asked[1] or covers.get(s.message, asked[0]) == asked[0])
        ]
        target = abs(claim.value)
        found.sort(key=lambda s: (s.derived, abs(abs(s.value) - target), -s.message))
        return found
