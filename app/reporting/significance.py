"""Significance tests for gating: exact or permutation tests suited to each score type, and Holm.

Every test here is one-sided and answers the gate's question, "is B worse than A?" (swap the
arguments for "better"). Each returns a p-value; none assumes normality:

* pass/fail over paired cases: the **exact McNemar test** -- of the n discordant cases (one run
  passes, the other fails) the number that only A passes is Binomial(n, 1/2) when the runs do
  not differ, so p = P(X >= only A).
* pass/fail over independent samples: **Fisher's exact test** (hypergeometric tail).
* bounded scores over paired cases: the **paired permutation (sign-flip) test** of the mean
  difference; exact (the whole sign-flip distribution, by dynamic programming over the sums)
  when it has at most :data:`EXACT_LIMIT` distinct sums, else :data:`PERMUTATIONS` seeded random
  sign flips with the add-one estimate (1 + hits) / (1 + draws), which never understates p.
* bounded scores over independent samples: a seeded **two-sample permutation test**.

:func:`holm` adjusts the p-values of a family of metrics so the chance that *any* metric is
flagged when none changed stays at or below alpha (family-wise error rate).

Example:
    >>> round(mcnemar_worse(only_a=4, only_b=0), 4)   # 4 cases lost, none gained: 1/16
    0.0625
    >>> holm([0.25, 0.5, 0.125])
    [0.5, 0.5, 0.375]
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from fractions import Fraction

from app.errors import InvalidArgumentError

__all__ = [
    "EXACT_LIMIT",
    "PERMUTATIONS",
    "mcnemar_worse",
    "fisher_worse",
    "sign_flip_worse",
    "permutation_worse",
    "holm",
    "holm_thresholds",
]

EXACT_LIMIT = 20_000
"""Most distinct sums the exact sign-flip distribution may have before random flips are used."""
PERMUTATIONS = 10_000
"""Random permutations (or sign flips) when an exact distribution is too large."""
_EPS = 1e-9  # sums of floats that agree to this are ties


def mcnemar_worse(only_a: int, only_b: int) -> float:
    """Exact one-sided McNemar p-value that B passes less often than A over paired cases.

    ``only_a``: cases A passes and B fails; ``only_b``: the reverse. Concordant cases carry no
    information. p = P(X >= only_a) for X ~ Binomial(only_a + only_b, 1/2); 1 without discordant cases.
    """
    if only_a < 0 or only_b < 0:
        raise InvalidArgumentError(f"discordant counts must not be negative, got {only_a} and {only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    return float(Fraction(sum(math.comb(n, i) for i in range(only_a, n + 1)), 2**n))


def fisher_worse(a_successes: int, a_n: int, b_successes: int, b_n: int) -> float:
    """Fisher's exact one-sided p-value that B's pass rate is lower than A's (independent samples).

    Given the total passes K of N = a_n + b_n, B's passes are hypergeometric under no difference;
    p = P(B passes <= b_successes).
    """
    if a_n < 1 or b_n < 1 or not 0 <= a_successes <= a_n or not 0 <= b_successes <= b_n:
        raise InvalidArgumentError(f"need 0 <= successes <= n >= 1, got {a_successes}/{a_n} and {b_successes}/{b_n}")
    total, k = a_n + b_n, a_successes + b_successes
    low = max(0, k - a_n)
    tail = sum(math.comb(k, j) * math.comb(total - k, b_n - j) for j in range(low, b_successes + 1))
    return float(Fraction(tail, math.comb(total, b_n)))


def _check(resamples: int) -> None:
    if resamples < 1:
        raise InvalidArgumentError(f"resamples must be positive, got {resamples}")


def sign_flip_worse(
    differences: Sequence[float], resamples: int = PERMUTATIONS, seed: int = 0
) -> float:
    """One-sided paired permutation p-value that the mean of ``differences`` (B − A per case) is below 0.

    Under no difference each case's sign is a fair coin, so the observed sum is compared with the
    sums of ±|d|: p = P(sum* <= observed). Exact while the distribution has at most
    :data:`EXACT_LIMIT` distinct sums (always for pass/fail-like scores); otherwise ``resamples``
    seeded random flips.
    """
    _check(resamples)
    values = [abs(float(d)) for d in differences if abs(float(d)) > _EPS]
    if not values:
        return 1.0
    observed = sum(float(d) for d in differences)
    exact = _sign_flip_distribution(values)
    if exact is not None:
        hits = sum(count for total, count in exact.items() if total <= observed + _EPS)
        return float(Fraction(hits, 2 ** len(values)))
    return _random_flips(values, observed, resamples, seed)


def _sign_flip_distribution(values: list[float]) -> dict[float, int] | None:
    """Sum -> number of sign patterns giving it, or ``None`` when it could exceed :data:`EXACT_LIMIT` sums.

    Equal values are taken together: k copies of v contribute v(2i − k) in C(k, i) ways, so
    pass/fail differences (every |d| = 1) need only k + 1 states.
    """
    counts: dict[float, int] = {}
    for v in values:
        key = round(v, 9)
        counts[key] = counts.get(key, 0) + 1
    bound = 1
    for k in counts.values():
        bound *= k + 1
        if bound > EXACT_LIMIT:
            return None
    dist: dict[float, int] = {0.0: 1}
    for v, k in sorted(counts.items()):
        steps = [(v * (2 * i - k), math.comb(k, i)) for i in range(k + 1)]
        nxt: dict[float, int] = {}
        for total, count in dist.items():
            for step, ways in steps:
                key = round(total + step, 9)
                nxt[key] = nxt.get(key, 0) + count * ways
        dist = nxt
    return dist


def _random_flips(values: list[float], observed: float, resamples: int, seed: int) -> float:
    """Monte Carlo sign flips: one random byte flips 8 values at once through a table of their 256 subset sums."""
    padded = values + [0.0] * (-len(values) % 8)  # a zero flips to nothing
    tables = []
    for start in range(0, len(padded), 8):
        chunk, table = padded[start : start + 8], [0.0] * 256
        for mask in range(1, 256):
            low = mask & -mask
            table[mask] = table[mask ^ low] + chunk[low.bit_length() - 1]
        tables.append(table)
    full, rng, hits = sum(values), random.Random(seed), 0
    width = len(tables)
    for _ in range(resamples):
        flips = rng.getrandbits(8 * width).to_bytes(width, "little")
        if full - 2 * sum(map(list.__getitem__, tables, flips)) <= observed + _EPS:
            hits += 1
    return (1 + hits) / (1 + resamples)


def permutation_worse(
    a: Sequence[float], b: Sequence[float], resamples: int = PERMUTATIONS, seed: int = 0
) -> float:
    """One-sided two-sample permutation p-value that mean(b) < mean(a) (independent samples).

    The pooled values are shuffled ``resamples`` times (seeded) into groups of the original
    sizes; p = (1 + shuffles whose B mean is at most the observed one) / (1 + resamples).
    """
    _check(resamples)
    if not a or not b:
        raise InvalidArgumentError("a permutation test needs at least one value in each sample")
    pooled = [float(x) for x in (*a, *b)]
    if max(pooled) - min(pooled) <= _EPS:
        return 1.0
    nb = len(b)
    observed = sum(b)
    rng = random.Random(seed)
    hits = 0
    for _ in range(resamples):
        if sum(rng.sample(pooled, nb)) <= observed + _EPS:
            hits += 1
    return (1 + hits) / (1 + resamples)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order.

    Sorted ascending, the i-th smallest (i from 1) of m is multiplied by m − i + 1; the running
    maximum keeps the order, and values are capped at 1. Rejecting every adjusted p <= alpha keeps
    the family-wise error rate at or below alpha, whatever the dependence between the tests.
    """
    m = len(p_values)
    for p in p_values:
        if not 0.0 <= p <= 1.0:
            raise InvalidArgumentError(f"p-values must be in [0, 1], got {p}")
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def holm_thresholds(p_values: Sequence[float], alpha: float) -> list[float]:
    """The per-metric alpha Holm compares each raw p-value with: alpha / (m − rank), rank from 0 by p."""
    m = len(p_values)
    out = [0.0] * m
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        out[index] = alpha / (m - rank)
    return out
