"""Checking a world against its scenario's ``expected`` ranges (the scenario's signature).

``expected`` entries name a view value as ``<view>.<path>``, optionally divided by another value of
the same view (``per``: a share, such as critical alerts per scored customer); ratios compare with
the steady_operations world of the same persona, seed and merchant context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import DataFileError
from app.models import Expectation, Scenario
from app.views import DataProvider

__all__ = ["CheckResult", "metric_value", "expectation_value", "check_expectations", "STEADY_SCENARIO"]

STEADY_SCENARIO = "steady_operations"


def metric_value(provider: DataProvider, metric: str, args: dict[str, Any] | None = None) -> Any:
    """The value at ``<view>.<path>`` (list items by index); ``None`` when the path runs out."""
    view, *path = metric.split(".")
    node: Any = provider.get_view(view, **(args or {})).to_json()
    for part in path:
        if isinstance(node, list):
            if not part.isdigit():
                raise DataFileError(f"metric {metric!r}: {part!r} must be a list index")
            idx = int(part)
            node = node[idx] if idx < len(node) else None
        elif isinstance(node, dict):
            if part not in node:
                raise DataFileError(f"metric {metric!r}: no field {part!r}; fields: {', '.join(node)}")
            node = node[part]
        else:
            return None
    return node


def share(value: Any, per: Any) -> float | None:
    """``value / per`` to 4 decimals; None when either is not a number or ``per`` is 0."""
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (value, per))
    return round(value / per, 4) if numbers and per else None


def expectation_value(provider: DataProvider, exp: Expectation) -> Any:
    """The value an expectation bounds: its metric, or the share metric / ``per``."""
    value = metric_value(provider, exp.metric, exp.args)
    if exp.per_metric is None:
        return value
    return share(value, metric_value(provider, exp.per_metric, exp.args))


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation."""

    expectation: Expectation
    value: Any
    steady_value: Any
    passed: bool
    message: str


def _check(exp: Expectation, value: Any, steady_value: Any) -> CheckResult:
    problems = []
    if exp.one_of is not None and value not in exp.one_of:
        problems.append(f"{value!r} not in {exp.one_of}")
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if (exp.min is not None or exp.max is not None) and not numeric:
        problems.append(f"value {value!r} is not a number")
    if numeric and exp.min is not None and value < exp.min:
        problems.append(f"{value} < min {exp.min}")
    if numeric and exp.max is not None and value > exp.max:
        problems.append(f"{value} > max {exp.max}")
    if exp.min_ratio_to_steady is not None or exp.max_ratio_to_steady is not None:
        if not numeric or not isinstance(steady_value, (int, float)) or not steady_value:
            problems.append(f"cannot compare {value!r} with steady value {steady_value!r}")
        else:
            r = value / steady_value
            if exp.min_ratio_to_steady is not None and r < exp.min_ratio_to_steady:
                problems.append(f"{r:.2f}x steady < {exp.min_ratio_to_steady}x")
            if exp.max_ratio_to_steady is not None and r > exp.max_ratio_to_steady:
                problems.append(f"{r:.2f}x steady > {exp.max_ratio_to_steady}x")
    label = f"{exp.metric}{f' per {exp.per}' if exp.per else ''}{exp.args or ''}"
    message = f"{label} = {value!r}" + (f": {'; '.join(problems)}" if problems else " ok")
    return CheckResult(exp, value, steady_value, not problems, message)


def check_expectations(
    scenario: Scenario, provider: DataProvider, steady: DataProvider | None = None
) -> list[CheckResult]:
    """Evaluate every expectation of ``scenario`` on ``provider`` (``steady`` for ratio bounds)."""
    results = []
    for exp in scenario.expected:
        value = expectation_value(provider, exp)
        needs_steady = exp.min_ratio_to_steady is not None or exp.max_ratio_to_steady is not None
        steady_value = expectation_value(steady, exp) if needs_steady and steady else None
        results.append(_check(exp, value, steady_value))
    return results
