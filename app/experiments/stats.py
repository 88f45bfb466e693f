"""Interval estimates for experiments: the difference in means with Neyman's (Welch's) standard
error, and a Student t interval over iterations. Pure Python (``math``, ``statistics``).

Example:
    >>> d = diff_in_means([1, 1, 0, 1], [0, 1, 0, 0])
    >>> round(d.estimate, 2), round(d.low, 2) < d.estimate < round(d.high, 2)
    (0.5, True)
    >>> round(t_quantile(0.975, 9), 3)
    2.262
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from app.errors import InvalidArgumentError

__all__ = ["Interval", "diff_in_means", "mean_interval", "prediction_interval", "t_quantile", "Z95"]

Z95 = NormalDist().inv_cdf(0.975)
"""1.959...: the two-sided 95% normal quantile."""


@dataclass(frozen=True)
class Interval:
    """A point estimate with its standard error and 95% interval."""

    estimate: float
    se: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in ``[low, high]`` (a float tolerance for exact ties)."""
        eps = 1e-9 * max(1.0, abs(value))
        return self.low - eps <= value <= self.high + eps

    def scaled(self, factor: float) -> Interval:
        """The interval of ``factor x`` the quantity (``factor`` > 0)."""
        return Interval(self.estimate * factor, self.se * factor, self.low * factor, self.high * factor)

    def to_dict(self) -> dict[str, float]:
        """The fields, rounded to 6 decimals, for JSON."""
        return {k: round(v, 6) for k, v in (("estimate", self.estimate), ("se", self.se), ("low", self.low), ("high", self.high))}


def _mean_var(xs: Sequence[float]) -> tuple[float, float]:
    n = len(xs)
    m = math.fsum(xs) / n
    return m, (math.fsum((x - m) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0)


def diff_in_means(treated: Sequence[float], control: Sequence[float]) -> Interval:
    """Mean of ``treated`` minus mean of ``control``, with the unpooled (Neyman/Welch) standard error
    ``sqrt(s1²/n1 + s0²/n0)`` and the normal 95% interval (the arms hold hundreds of customers).

    Raises:
        InvalidArgumentError: an arm with fewer than 2 values.
    """
    if len(treated) < 2 or len(control) < 2:
        raise InvalidArgumentError("each arm needs at least 2 customers; widen the target or change the holdout share")
    m1, v1 = _mean_var(treated)
    m0, v0 = _mean_var(control)
    d, se = m1 - m0, math.sqrt(v1 / len(treated) + v0 / len(control))
    return Interval(d, se, d - Z95 * se, d + Z95 * se)


def mean_interval(xs: Sequence[float]) -> Interval:
    """The mean of ``xs`` with a Student t 95% interval (``n - 1`` degrees of freedom); a single value
    has an interval of zero width."""
    if not xs:
        raise InvalidArgumentError("no values to average")
    m, v = _mean_var(xs)
    if len(xs) < 2:
        return Interval(m, 0.0, m, m)
    se = math.sqrt(v / len(xs))
    half = t_quantile(0.975, len(xs) - 1) * se
    return Interval(m, se, m - half, m + half)


def prediction_interval(xs: Sequence[float]) -> Interval:
    """Where one more value drawn like ``xs`` falls, 95%: ``mean +- t x s x sqrt(1 + 1/n)``."""
    if len(xs) < 2:
        raise InvalidArgumentError("a prediction interval needs at least 2 values")
    m, v = _mean_var(xs)
    se = math.sqrt(v * (1 + 1 / len(xs)))
    half = t_quantile(0.975, len(xs) - 1) * se
    return Interval(m, se, m - half, m + half)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)), -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on the CDF)."""
    if not 0.5 <= p < 1.0 or df < 1:
        raise InvalidArgumentError(f"t_quantile needs 0.5 <= p < 1 and df >= 1, got p={p}, df={df}")
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0
