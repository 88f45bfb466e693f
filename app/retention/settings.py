"""The thresholds of retention operations: ``data/retention_ops.yaml`` as a strict pydantic model.

Every number of the rules in DESIGN.md section 9 lives in that file (money in major units of the
merchant's currency); the retention status days are the ones of the ``customer_list`` retention
filters (:data:`app.storage.customer_frame.RETENTION_DAYS`), kept in one place.

Example:
    >>> s = load_settings()
    >>> s.alert.warning_delta_pct, s.queue.score.base["P1"]
    (15.0, 70)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.datafiles import data_dir, load_model
from app.retention.delivery import PlaybookSettings

__all__ = [
    "Tier",
    "TIERS",
    "RetentionOpsSettings",
    "load_settings",
    "SETTINGS_FILE",
]

Tier = Literal["P1", "P2", "P3"]
TIERS: tuple[Tier, ...] = ("P1", "P2", "P3")

SETTINGS_FILE = "retention_ops.yaml"
"""The file's name in the data folder (``$CJSIM_DATA_DIR``, else ``data/``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactSettings(_Strict):
    value_proxy_days: int = Field(365, ge=1, description="value_proxy = paid amounts in (d - days, d]")


class FrequencyDrop(_Strict):
    points: int = Field(40, ge=0, le=100)
    min_history_days: int = Field(180, ge=1, description="first paid order on or before d - this")
    recent_days: int = Field(90, ge=1, description="the recent window (d - days, d]")
    min_earlier_orders: int = Field(2, ge=1, description="paid orders needed on or before d - recent_days")
    rate_ratio: float = Field(0.5, gt=0, le=1, description="recent orders below this share of the earlier rate")

    @model_validator(mode="after")
    def _history_covers_window(self) -> FrequencyDrop:
        if self.min_history_days <= self.recent_days:
            raise ValueError(
                "min_history_days must exceed recent_days (the earlier rate needs history before the window)"
            )
        return self


class StatusInconsistent(_Strict):
    points: int = Field(30, ge=0, le=100)
    min_order_days: int = Field(2, ge=2, description="distinct paid order days needed for a median gap")
    gap_multiple: float = Field(
        2.0, gt=0, description="overdue when days since the last order exceed this x the median gap"
    )


class ValueDrop(_Strict):
    enabled: Literal[False] = Field(False, description="disabled in V1: the flag is always false")
    points: int = Field(0, ge=0, le=100)


class ChurnDetection(_Strict):
    frequency_drop: FrequencyDrop = FrequencyDrop()
    status_inconsistent: StatusInconsistent = StatusInconsistent()
    value_drop: ValueDrop = ValueDrop()


class RiskLevels(_Strict):
    high_min_score: int = Field(40, ge=0)
    medium_min_score: int = Field(30, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> RiskLevels:
        if self.medium_min_score > self.high_min_score:
            raise ValueError("medium_min_score must not exceed high_min_score")
        return self


class AlertSettings(_Strict):
    baseline_days: int = Field(7, ge=1, le=60, description="baseline = mean AT_RISK share over the days before d")
    warning_delta_pct: float = Field(15, gt=0)
    critical_delta_pct: float = Field(30, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> AlertSettings:
        if self.warning_delta_pct > self.critical_delta_pct:
            raise ValueError("warning_delta_pct must not exceed critical_delta_pct")
        return self


def _default_bases() -> dict[Tier, int]:
    return {"P1": 70, "P2": 50, "P3": 30}


class ScoreSettings(_Strict):
    base: dict[Tier, int] = Field(default_factory=_default_bases)
    value_bonus_factor: float = Field(2.0, ge=0)
    value_bonus_max: float = Field(20, ge=0)
    urgency_days_per_point: float = Field(3.0, gt=0)
    urgency_bonus_max: float = Field(10, ge=0)
    max: float = Field(100, gt=0)

    @model_validator(mode="after")
    def _every_tier(self) -> ScoreSettings:
        missing = [t for t in TIERS if t not in self.base]
        if missing:
            raise ValueError(f"base needs a value for every tier; missing {', '.join(missing)}")
        return self


class ActionTexts(_Strict):
    p1_high_value_above: float = Field(2000, ge=0, description="P1 total_revenue above this: high value")
    p1_medium_value_from: float = Field(
        1000, ge=0, description="P1 total_revenue from this up to the high bound: medium value"
    )
    p1_high_value: str = Field(min_length=1)
    p1_medium_value: str = Field(min_length=1)
    p1_standard_value: str = Field(min_length=1)
    p2: str = Field(min_length=1)
    p3: str = Field(min_length=1)

    @model_validator(mode="after")
    def _bands(self) -> ActionTexts:
        if self.p1_medium_value_from > self.p1_high_value_above:
            raise ValueError("p1_medium_value_from must not exceed p1_high_value_above")
        return self


class QueueSettings(_Strict):
    p1_revenue_at_least_median: bool = Field(False, description="P1 also needs total_revenue >= the population median")
    p3_max_days_since_last_order: int = Field(
        180, ge=91, description="P3 only up to this many days since the last order"
    )
    score: ScoreSettings = ScoreSettings()
    actions: ActionTexts
    retention_days: int = Field(
        90, ge=1, description="customer_priority keeps run dates within this many days of the newest"
    )


class BriefSettings(_Strict):
    top_customers: int = Field(5, ge=0, le=50)


class ExportSettings(_Strict):
    folder: Path = Field(Path("exports/retention"), description="audience CSVs; relative to the working directory")
    default_limit: int = Field(2000, ge=1)
    max_limit: int = Field(100_000, ge=1)


class RetentionOpsSettings(_Strict):
    """Every threshold of retention operations (``data/retention_ops.yaml``; format in data/README.md)."""

    facts: FactSettings = FactSettings()
    churn_detection: ChurnDetection = ChurnDetection()
    risk_levels: RiskLevels = RiskLevels()
    alert: AlertSettings = AlertSettings()
    queue: QueueSettings
    brief: BriefSettings = BriefSettings()
    export: ExportSettings = ExportSettings()
    playbook: PlaybookSettings = PlaybookSettings()


_CACHE: dict[tuple[Path, int], RetentionOpsSettings] = {}


def load_settings(path: Path | None = None) -> RetentionOpsSettings:
    """Read and validate the settings (default: ``retention_ops.yaml`` of the data folder).

    Re-read when the file changes. Raises :class:`~app.errors.DataFileError` naming the file,
    the field and the fix.
    """
    file = path or data_dir() / SETTINGS_FILE
    try:
        stamp = file.stat().st_mtime_ns
    except OSError:
        stamp = -1  # load_model reports the missing file
    key = (file.resolve(), stamp)
    if key not in _CACHE:
        _CACHE[key] = load_model(file, RetentionOpsSettings)
    return _CACHE[key]
