"""Statistics primitives: interval estimates, pass^k over seeds and flip rates.

Pure Python (``math``, ``statistics``, ``random``) so reports need no numerical stack. Every
resampling method takes a seed and is deterministic: the same records give the same report.
:mod:`app.reporting.summarize` applies these to a batch's records and
:mod:`app.reporting.compare` to two batches.

Example:
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(lo, 3), round(hi, 3)
    (0.49, 0.943)
    >>> pass_hat_k([[True, True, False]], 2)  # C(2,2)/C(3,2)
    0.3333333333333333
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from app.errors import InvalidArgumentError

__all__ = [
    "FlipStats",
    "z_value",
    "wilson_interval",
    "newcombe_interval",
    "paired_phi",
    "bootstrap_interval",
    "bootstrap_diff_interval",
    "pass_hat_k",
    "pass_hat_k_curve",
    "flip_stats",
]

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0


# ---------------------------------------------------------------------------------------------
# Interval primitives
# ---------------------------------------------------------------------------------------------


def z_value(confidence: float = 0.95) -> float:
    """The two-sided standard normal quantile: ``z`` with P(|Z| <= z) = confidence (1.96 at 95%)."""
    if not 0.0 < confidence < 1.0:
        raise InvalidArgumentError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    With p = successes/n and z the normal quantile::

        centre = (p + z²/2n) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)
        interval = [centre - half, centre + half]

    Unlike the Wald interval it stays inside [0, 1] and keeps its coverage near 0% and 100%.
    ``n == 0`` gives the uninformative [0, 1].
    """
    if n < 0 or not 0 <= successes <= n:
        raise InvalidArgumentError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # the exact bounds at 0% and 100% are 0 and 1; rounding would leave e.g. 3e-17
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def newcombe_interval(
    a_successes: int,
    a_n: int,
    b_successes: int,
    b_n: int,
    confidence: float = 0.95,
    phi: float = 0.0,
) -> tuple[float, float]:
    """Newcombe's square-and-add interval for the difference of proportions ``p_B - p_A``.

    With Wilson intervals [l_A, u_A] and [l_B, u_B] and d = p_B - p_A::

        low  = d - sqrt((p_B - l_B)² - 2φ(p_B - l_B)(u_A - p_A) + (u_A - p_A)²)
        high = d + sqrt((u_B - p_B)² - 2φ(u_B - p_B)(p_A - l_A) + (p_A - l_A)²)

    ``phi = 0`` is the two-sample (independent) interval; for paired data pass the correlation
    of the paired outcomes (see :func:`paired_phi`), which narrows the interval when the runs
    agree case by case.

    Raises:
        InvalidArgumentError: an empty sample, successes outside 0..n, or ``phi`` outside [-1, 1].
    """
    if a_n < 1 or b_n < 1:
        raise InvalidArgumentError(f"each sample needs at least one outcome, got n_A={a_n}, n_B={b_n}")
    if not -1.0 <= phi <= 1.0:
        raise InvalidArgumentError(f"phi is a correlation and must be in [-1, 1], got {phi}")
    pa, pb = a_successes / a_n, b_successes / b_n
    la, ua = wilson_interval(a_successes, a_n, confidence)
    lb, ub = wilson_interval(b_successes, b_n, confidence)
    d = pb - pa
    low = d - math.sqrt(max(0.0, (pb - lb) ** 2 - 2 * phi * (pb - lb) * (ua - pa) + (ua - pa) ** 2))
    high = d + math.sqrt(max(0.0, (ub - pb) ** 2 - 2 * phi * (ub - pb) * (pa - la) + (pa - la) ** 2))
    return max(-1.0, low), min(1.0, high)


def paired_phi(both: int, only_a: int, only_b: int, neither: int) -> float:
    """Correlation of paired pass/fail outcomes for :func:`newcombe_interval`.

    φ = (e·h − f·g) / sqrt((e+f)(g+h)(e+g)(f+h)) over the 2×2 table (e both pass, f only A,
    g only B, h neither), 0 when a margin is empty. A positive numerator is reduced by n/2
    (continuity correction), which only shrinks φ and so widens the interval.
    """
    n = both + only_a + only_b + neither
    num: float = both * neither - only_a * only_b
    if num > 0:
        num = max(0.0, num - n / 2)
    denom = math.sqrt((both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither))
    return num / denom if denom else 0.0


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of sorted values (the common "type 7" definition)."""
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _check_resampling(confidence: float, resamples: int) -> None:
    z_value(confidence)  # validates the range
    if resamples < 1:
        raise InvalidArgumentError(f"resamples must be positive, got {resamples}")


def _percentile_interval(stats: list[float], confidence: float) -> tuple[float, float]:
    stats.sort()
    tail = (1 - confidence) / 2
    return _quantile(stats, tail), _quantile(stats, 1 - tail)


def bootstrap_interval(
    values: Sequence[float],
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of ``values``.

    Draw ``resamples`` samples of size n with replacement (``random.Random(seed)``), take each
    sample's mean, and return the (1−c)/2 and (1+c)/2 quantiles of those means. Deterministic
    for a given seed. Constant data (including n = 1) gives a zero-width interval.
    """
    n = len(values)
    if n == 0:
        raise InvalidArgumentError("bootstrap needs at least one value")
    _check_resampling(confidence, resamples)
    if min(values) == max(values):
        return float(values[0]), float(values[0])
    rng = random.Random(seed)
    pool = list(values)
    means = [sum(rng.choices(pool, k=n)) / n for _ in range(resamples)]
    return _percentile_interval(means, confidence)


def bootstrap_diff_interval(
    a: Sequence[float],
    b: Sequence[float],
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Two-sample percentile bootstrap interval for ``mean(b) - mean(a)``.

    Each resample draws A and B independently with replacement; use it when the runs share no
    cases. For paired cases bootstrap the per-case differences with :func:`bootstrap_interval`.
    """
    if not a or not b:
        raise InvalidArgumentError("bootstrap needs at least one value in each sample")
    _check_resampling(confidence, resamples)
    rng = random.Random(seed)
    pa, pb, na, nb = list(a), list(b), len(a), len(b)
    deltas = [sum(rng.choices(pb, k=nb)) / nb - sum(rng.choices(pa, k=na)) / na for _ in range(resamples)]
    return _percentile_interval(deltas, confidence)


# ---------------------------------------------------------------------------------------------
# Repeats over seeds
# ---------------------------------------------------------------------------------------------


def pass_hat_k(groups: Iterable[Sequence[bool]], k: int) -> float | None:
    """pass^k: the chance that k seeds drawn without replacement from a case all pass.

    For a group with n seeds of which c pass, C(c, k) / C(n, k) is the unbiased estimate
    (τ-bench); the result is its mean over groups with at least k seeds, or ``None`` if none
    has. pass^1 is the plain pass rate averaged per group; pass^k falls as k grows unless every
    case is reliable.
    """
    if k < 1:
        raise InvalidArgumentError(f"k must be at least 1, got {k}")
    estimates = [math.comb(sum(g), k) / math.comb(len(g), k) for g in groups if len(g) >= k]
    return sum(estimates) / len(estimates) if estimates else None


def pass_hat_k_curve(groups: Iterable[Sequence[bool]]) -> dict[int, float]:
    """pass^k for k = 1 .. the largest number of seeds in a group (each k over the groups that have k)."""
    groups = [list(g) for g in groups if g]
    top = max((len(g) for g in groups), default=0)
    return {k: value for k in range(1, top + 1) if (value := pass_hat_k(groups, k)) is not None}


@dataclass(frozen=True)
class FlipStats:
    """How often repeats of one case (different seeds) disagree on pass/fail.

    Attributes:
        groups: case groups with at least two scored seeds (the only ones that can flip).
        flipped: groups whose seeds do not all agree.
        rate: flipped / groups.
        pairwise: mean over groups of the share of seed pairs that disagree, c(n−c) / C(n, 2).
    """

    groups: int
    flipped: int
    rate: float | None
    pairwise: float | None


def flip_stats(groups: Iterable[Sequence[bool]]) -> FlipStats:
    """Flip rate and mean pairwise disagreement over case groups (see :class:`FlipStats`)."""
    repeated = [list(g) for g in groups if len(g) >= 2]
    if not repeated:
        return FlipStats(0, 0, None, None)
    flipped = sum(1 for g in repeated if 0 < sum(g) < len(g))
    pairwise = sum(sum(g) * (len(g) - sum(g)) / math.comb(len(g), 2) for g in repeated) / len(repeated)
    return FlipStats(len(repeated), flipped, flipped / len(repeated), pairwise)
