"""The data-quality settings file (``data/data_quality.yaml``): thresholds and the rules per table.

The rules are data: which columns a table must fill, which must not be negative, which take
values from a fixed list or a range, which dates must not precede others, which ids must point
at an existing row, the key that must be unique and the date that says how fresh the table is.
:func:`load_quality_settings` validates the file strictly (unknown fields, unknown format names
and rules that name a table or a column twice are errors naming the field).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.datafiles import data_dir, load_model_once

__all__ = [
    "Dimension",
    "DIMENSIONS",
    "FormatName",
    "Thresholds",
    "TableRules",
    "QualitySettings",
    "load_quality_settings",
    "SETTINGS_FILE",
]

Dimension = Literal["completeness", "validity", "consistency", "uniqueness", "timeliness"]
DIMENSIONS: tuple[Dimension, ...] = ("completeness", "validity", "consistency", "uniqueness", "timeliness")
FormatName = Literal["email", "country_code"]
SETTINGS_FILE = "data_quality.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    """A ratio in [0, 1] per ratio dimension; a check whose ratio falls below it is flagged."""

    completeness: float = Field(ge=0, le=1, description="share of rows with every required field filled")
    validity: float = Field(ge=0, le=1, description="share of rows passing the business rules")
    consistency: float = Field(ge=0, le=1, description="share of rows with well-formed values and existing references")
    uniqueness: float = Field(ge=0, le=1, description="share of rows whose key is not repeated")

    def of(self, dimension: str) -> float:
        """The threshold of a ratio dimension."""
        return float(getattr(self, dimension))


class TableRules(_Strict):
    """The rules of one source table; each names columns of that table."""

    key: str = Field(description="the column that identifies a row (uniqueness)")
    date: str = Field(description="the column dating a row: rows dated after the date asked are not checked yet")
    max_age_days: int | None = Field(
        default=None, ge=1, description="warn when the newest row is older than this many days (none: not checked)"
    )
    required: list[str] = Field(default_factory=list, description="text columns that must be non-empty")
    non_negative: list[str] = Field(default_factory=list, description="number columns that must be >= 0")
    allowed: dict[str, list[str]] = Field(default_factory=dict, description="column -> its vocabulary")
    ranges: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="column -> [low, high] (null allowed)"
    )
    date_order: list[tuple[str, str]] = Field(
        default_factory=list, description="[earlier, later] pairs: the later date, when set, is not before the earlier"
    )
    formats: dict[str, FormatName] = Field(default_factory=dict, description="column -> format (email, country_code)")
    references: dict[str, str] = Field(
        default_factory=dict, description="column -> 'table.column' it must point at, when set"
    )

    @field_validator("references")
    @classmethod
    def _dotted(cls, value: dict[str, str]) -> dict[str, str]:
        for column, target in value.items():
            if target.count(".") != 1 or not all(target.split(".")):
                raise ValueError(f"reference of {column!r} must be 'table.column', got {target!r}")
        return value

    @field_validator("ranges")
    @classmethod
    def _ordered(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for column, (low, high) in value.items():
            if low > high:
                raise ValueError(f"range of {column!r} is empty ({low} > {high}); write [low, high]")
        return value


class QualitySettings(_Strict):
    """``data/data_quality.yaml``: thresholds, how many examples to list, and the rules per table."""

    warn_below: Thresholds
    poor_below: Thresholds
    stale_poor_factor: float = Field(ge=1, description="newest row older than max_age_days x this makes data poor")
    examples: int = Field(default=3, ge=0, le=20, description="offending keys listed per check")
    tables: dict[str, TableRules] = Field(min_length=1, description="table name -> its rules")

    @model_validator(mode="after")
    def _poor_below_warn(self) -> QualitySettings:
        for dimension in ("completeness", "validity", "consistency", "uniqueness"):
            if self.poor_below.of(dimension) > self.warn_below.of(dimension):
                raise ValueError(f"poor_below.{dimension} must not exceed warn_below.{dimension}")
        for name, rules in self.tables.items():
            for column, target in rules.references.items():
                if target.split(".")[0] not in self.tables:
                    raise ValueError(f"tables.{name}.references.{column}: {target!r} names a table without rules")
        return self


def load_quality_settings(path: Path | None = None) -> QualitySettings:
    """Read and validate the settings (default: ``data_quality.yaml`` in the data folder).

    Raises:
        DataFileError: unreadable or malformed file, naming the field and the fix.
    """
    return load_model_once(path or data_dir() / SETTINGS_FILE, QualitySettings)
