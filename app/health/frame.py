"""Health of every scored customer at a date behind one interface, in memory or materialised.

:class:`HealthSet` is what the views ask; :class:`MemoryHealth` answers from scores computed in
memory (:func:`app.health.score.score_all`), ``app.health.store.StoredHealth`` from the rows a load
or refresh materialised (computed by this very code). Numbers are kept as integer basis points
(1/10,000) for sums, so both paths and every backend add them up exactly alike.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import cast

from app.health.alerts import AlertKind, alert_id, classify, suggested_actions
from app.health.model import CustomerHealth
from app.health.settings import COMPONENTS, HealthSettings

__all__ = ["HealthRow", "HealthSet", "HealthSummary", "MemoryHealth", "bp", "band_of", "rows_from", "SUMMED", "BANDED",
           "bp_columns", "summarize", "alert_counts"]  # fmt: skip

NO_ALERT = "none"


def bp(value: float | None) -> int | None:
    """A 4-decimal score as integer basis points."""
    return None if value is None else round(value * 10_000)


def band_of(value_bp: int, edges: list[float]) -> int:
    """Index of the bin ``[edges[i], edges[i + 1])`` holding the value (the last bin includes 1)."""
    for i in range(len(edges) - 2, 0, -1):
        if value_bp >= round(edges[i] * 10_000):
            return i
    return 0


@dataclass
class HealthRow(CustomerHealth):
    """One customer's health with the alert it raises (if any) and its next-best actions, as stored
    and as shown."""

    alert: AlertKind | None = None
    actions: list[str] = field(default_factory=list)

    @property
    def alert_id(self) -> str | None:
        return None if self.alert is None else alert_id(self.day, self.customer_id, self.alert.alert_type)

    def for_customer(self, customer_id: str) -> HealthRow:
        """This row for another customer of the same date with the same health (its values shared, not
        copied: rows are never changed once made)."""
        row = object.__new__(HealthRow)
        row.__dict__.update(self.__dict__)
        row.customer_id = customer_id
        return row


def rows_from(scores: list[CustomerHealth], s: HealthSettings) -> list[HealthRow]:
    """Health rows of computed scores, with their alerts and suggested actions."""
    out = []
    for h in scores:
        kind = classify(h, s)
        actions = suggested_actions(kind.alert_type, h.risk_factors, h.opportunities, s) if kind else []
        out.append(HealthRow(**vars(h), alert=kind, actions=actions))
    return out


SUMMED = (*COMPONENTS, "overall", "confidence")
"""What a summary sums: the components, the overall score and the confidence."""
BANDED = (*COMPONENTS, "overall")
"""What a summary counts per bin (distribution and drift)."""


@dataclass(frozen=True)
class HealthSummary:
    """Customers scored, and per component (``overall``, ``confidence``): how many have it and its sum
    in basis points, and (components and ``overall``) customers per bin."""

    size: int
    sums: dict[str, tuple[int, int]]
    bands: dict[str, list[int]]

    def mean(self, name: str) -> float | None:
        n, total = self.sums[name]
        return round(total / n / 10_000, 4) if n else None


def risk_order(r: HealthRow) -> tuple[float, str]:
    return (-r.risk, r.customer_id)


class HealthSet(abc.ABC):
    """What the health views ask about the scored customers at one date."""

    day: dt.date

    @abc.abstractmethod
    def size(self) -> int:
        """Customers scored."""

    @abc.abstractmethod
    def alert_counts(self) -> dict[tuple[str, str], int]:
        """(alert type, severity) -> customers with that alert."""

    @abc.abstractmethod
    def summary(self, edges: list[float]) -> HealthSummary:
        """Sums and bin counts of every component (one pass over the date's customers)."""

    @abc.abstractmethod
    def worst(self, limit: int) -> list[HealthRow]:
        """The riskiest customers (risk descending, then id)."""

    @abc.abstractmethod
    def one(self, customer_id: str) -> HealthRow | None:
        """One customer's health, or None when not scored at the date."""

    @abc.abstractmethod
    def alerts(self, severities: list[str], types: list[str], limit: int, only: set[str] | None = None,
               skip: set[str] | frozenset[str] = frozenset()) -> tuple[int, list[HealthRow]]:  # fmt: skip
        """(how many, the first ``limit``) customers with an alert of those severities and types (all
        when empty), riskiest first; only the customers in ``only`` (when given), none in ``skip``."""


class MemoryHealth(HealthSet):
    """A :class:`HealthSet` over rows computed in memory."""

    def __init__(self, day: dt.date, rows: list[HealthRow]) -> None:
        self.day = day
        self.rows = sorted(rows, key=risk_order)
        self._by_id = {r.customer_id: r for r in rows}

    def size(self) -> int:
        return len(self.rows)

    def alert_counts(self) -> dict[tuple[str, str], int]:
        return alert_counts(self.rows)

    def summary(self, edges: list[float]) -> HealthSummary:
        return summarize(bp_columns(self.rows), len(self.rows), edges)

    def worst(self, limit: int) -> list[HealthRow]:
        return self.rows[:limit]

    def one(self, customer_id: str) -> HealthRow | None:
        return self._by_id.get(customer_id)

    def alerts(self, severities: list[str], types: list[str], limit: int, only: set[str] | None = None,
               skip: set[str] | frozenset[str] = frozenset()) -> tuple[int, list[HealthRow]]:  # fmt: skip
        found = [
            r for r in self.rows
            if r.alert and (not severities or r.alert.severity in severities) and (not types or r.alert.alert_type in types)
            and (only is None or r.customer_id in only) and r.customer_id not in skip
        ]  # fmt: skip
        return len(found), found[:limit]


def bp_columns(rows: list[HealthRow]) -> dict[str, list[int | None]]:
    """Per component, ``overall``, ``confidence`` and ``risk``: the rows' values in basis points."""
    values: dict[str, list[float | None]] = {c: [r.components[c] for r in rows] for c in COMPONENTS}
    values["overall"] = [r.overall for r in rows]
    values["confidence"] = [r.confidence for r in rows]
    values["risk"] = [r.risk for r in rows]
    cols: dict[str, list[int | None]] = {}
    for name, column in values.items():
        of = {v: bp(v) for v in set(column)}  # scores of 4 decimals: at most 10,001 distinct values
        cols[name] = list(map(of.__getitem__, column))
    return cols


def summarize(columns: dict[str, list[int | None]], size: int, edges: list[float]) -> HealthSummary:
    """The summary of ``size`` customers from their values in basis points (:func:`bp_columns`):
    counted per distinct value, as a date holds at most 10,001 of each."""
    sums, bands = {}, {}
    for name in SUMMED:
        counted: Counter[int | None] = Counter(columns[name])  # in C, unavailable (None) too
        del counted[None]
        present = cast("Counter[int]", counted)
        sums[name] = (present.total(), sum(v * n for v, n in present.items()))
        if name in BANDED:
            counts = [0] * (len(edges) - 1)
            for v, n in present.items():
                counts[band_of(v, edges)] += n
            bands[name] = counts
    return HealthSummary(size=size, sums=sums, bands=bands)


def alert_counts(rows: list[HealthRow]) -> dict[tuple[str, str], int]:
    """(alert type, severity) -> customers with that alert."""
    return dict(Counter((r.alert.alert_type, r.alert.severity) for r in rows if r.alert))
