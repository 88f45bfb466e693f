"""What a data-quality run reports: one :class:`CheckResult` per check, gathered in a :class:`QualityReport`."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.quality.settings import Dimension

__all__ = ["Level", "Verdict", "TableStatus", "CheckResult", "QualityReport", "verdict_of"]

Level = Literal["ok", "warn", "poor"]
Verdict = Literal["ok", "caveat", "poor"]
TableStatus = Literal["checked", "empty", "absent"]


class CheckResult(BaseModel):
    """One check of one table at a date: a ratio in [0, 1] with its counts, or a freshness age.

    Example:
        >>> c = CheckResult(dimension="validity", table="orders", check="amount_cents >= 0",
        ...                 total=200, failed=3, ratio=0.985, level="ok")
        >>> c.passed
        197
    """

    model_config = ConfigDict(frozen=True)

    dimension: Dimension
    table: str
    check: str = Field(description="what is checked, e.g. 'email filled' or 'amount_cents >= 0'")
    total: int = Field(description="rows checked (rows dated on or before the date)")
    failed: int = Field(description="rows failing the check (timeliness: 1 when too old)")
    ratio: float | None = Field(default=None, description="share passing, 4 decimals; null for timeliness")
    newest: dt.date | None = Field(default=None, description="timeliness: the newest row's date")
    age_days: int | None = Field(default=None, description="timeliness: days from the newest row to the date")
    threshold: float | None = Field(default=None, description="warn below this ratio / above this many days")
    examples: list[str] = Field(default_factory=list, description="a few offending keys")
    level: Level
    warning: str | None = Field(default=None, description="the warning, when level is not ok")

    @property
    def passed(self) -> int:
        return self.total - self.failed


class QualityReport(BaseModel):
    """Every check of a database at ``as_of``, the tables' status and the verdict.

    ``verdict`` is ``ok`` when nothing warns, ``poor`` when a check fell below its poor threshold,
    ``caveat`` otherwise; ``reasons`` are the warnings, worst first.
    """

    model_config = ConfigDict(frozen=True)

    as_of: dt.date
    tables: dict[str, TableStatus] = Field(description="table -> checked, empty or absent")
    checks: list[CheckResult]
    verdict: Verdict
    reasons: list[str]

    @property
    def warnings(self) -> list[CheckResult]:
        """Checks at level warn or poor, in check order."""
        return [c for c in self.checks if c.level != "ok"]

    @property
    def affected_tables(self) -> list[str]:
        """Tables with at least one warning, sorted."""
        return sorted({c.table for c in self.warnings})


def verdict_of(checks: list[CheckResult]) -> tuple[Verdict, list[str]]:
    """The overall verdict of some checks and its reasons (poor ones first)."""
    poor = [c.warning for c in checks if c.level == "poor" and c.warning]
    warn = [c.warning for c in checks if c.level == "warn" and c.warning]
    verdict: Verdict = "poor" if poor else "caveat" if warn else "ok"
    return verdict, [*poor, *warn]
