"""Data quality of the source tables: completeness, validity, consistency, uniqueness, timeliness.

:func:`run_checks` computes every check at a date in SQL; :mod:`app.quality.store` keeps the
results of each load; the rules and thresholds are data (``data/data_quality.yaml``, validated by
:class:`QualitySettings`).
"""

from app.quality.checks import run_checks
from app.quality.results import CheckResult, QualityReport, verdict_of
from app.quality.settings import QualitySettings, load_quality_settings

__all__ = ["run_checks", "CheckResult", "QualityReport", "verdict_of", "QualitySettings", "load_quality_settings"]
