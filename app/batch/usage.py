"""Token usage and cost across a batch, per participant (CJ, merchant, judge).

Usage comes from ``transcript.usage`` (what CJ's and the merchant's models reported) and from
the judge's results (``details["usage"]``, summed over its votes). Cost is computed only from
what is known: prices the user gives (USD per million tokens) or a cost a transcript reports in
``meta["cost_usd"]`` (a number, or a number per participant). Models that report no usage -- the
offline ``rules``/``script`` models -- are "not reported", never a made-up zero.

Example:
    >>> totals = UsageTotals()
    >>> totals.add({"cj": {"input_tokens": 1200, "output_tokens": 300, "total_tokens": 1500}})
    >>> totals.cost("cj", Prices(input_per_million=2.5, output_per_million=10.0))
    0.006
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.errors import InvalidArgumentError

__all__ = ["Prices", "ParticipantUsage", "UsageTotals", "PARTICIPANTS"]

PARTICIPANTS = ("cj", "merchant", "judge")


@dataclass(frozen=True)
class Prices:
    """Model prices in USD per million tokens; ``None`` when unknown."""

    input_per_million: float | None = None
    output_per_million: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("input", self.input_per_million), ("output", self.output_per_million)):
            if value is not None and value < 0:
                raise InvalidArgumentError(f"{name} price must not be negative, got {value}")

    @property
    def known(self) -> bool:
        return self.input_per_million is not None and self.output_per_million is not None


@dataclass
class ParticipantUsage:
    """One participant's tokens over the conversations that reported usage."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    conversations: int = 0
    reported_cost_usd: float | None = None


@dataclass
class UsageTotals:
    """Usage summed over a batch's transcripts; participants without any report are absent."""

    by_participant: dict[str, ParticipantUsage] = field(default_factory=dict)

    def add(self, usage: dict[str, dict[str, int]], meta: dict[str, Any] | None = None) -> None:
        """Add one transcript's ``usage`` (and a cost it reports in ``meta["cost_usd"]``)."""
        for who, counts in usage.items():
            bucket = self.by_participant.setdefault(who, ParticipantUsage())
            bucket.input_tokens += int(counts.get("input_tokens", 0) or 0)
            bucket.output_tokens += int(counts.get("output_tokens", 0) or 0)
            bucket.total_tokens += int(counts.get("total_tokens", 0) or 0)
            bucket.conversations += 1
        reported = (meta or {}).get("cost_usd")
        if isinstance(reported, (int, float)):
            reported = {"cj": reported}  # a single figure is the agent's (the merchant is usually offline)
        if isinstance(reported, dict):
            for who, value in reported.items():
                if isinstance(value, (int, float)):
                    bucket = self.by_participant.setdefault(who, ParticipantUsage())
                    bucket.reported_cost_usd = (bucket.reported_cost_usd or 0.0) + float(value)

    def reported(self, who: str) -> bool:
        """Whether any conversation reported ``who``'s usage."""
        return who in self.by_participant

    def cost(self, who: str, prices: Prices) -> float | None:
        """USD for ``who``: from the prices when known, else the reported cost, else ``None``."""
        usage = self.by_participant.get(who)
        if usage is None:
            return None
        if prices.known and usage.conversations:
            return round(
                usage.input_tokens * prices.input_per_million / 1e6  # type: ignore[operator]
                + usage.output_tokens * prices.output_per_million / 1e6,  # type: ignore[operator]
                6,
            )
        return usage.reported_cost_usd

    def total_cost(self, prices: Prices) -> float | None:
        """USD over every participant with a known cost (``None`` when none is known)."""
        costs = [c for who in self.by_participant if (c := self.cost(who, prices)) is not None]
        return round(sum(costs), 6) if costs else None
