"""Confidence intervals and tests on proportions and rank correlations: the Wilson bound of
the hotspot rule, the two-proportion z-test of the period comparison and Spearman's rho
with a Fisher-z interval. Pure functions on counts; proportions are 0–1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from scipy import stats

Z95 = 1.959963984540054  # the exact 97.5 % quantile of the standard normal distribution


class ZTest(NamedTuple):
    z: float  # positive when the first proportion is the larger
    p_value: float  # two-sided


class Spearman(NamedTuple):
    rho: float
    low: float  # 95 % interval (Fisher z)
    high: float
    n: int


def _clip(successes: int, n: int) -> int:
    if n < 0:
        raise ValueError("A count of trials cannot be negative.")
    return min(max(successes, 0), n)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Return the Wilson score interval of the proportion successes ÷ n (None when n is 0).

    Successes are clipped to [0, n]. Raises ValueError for a negative n.
    """
    successes = _clip(successes, n)
    if n == 0:
        return None
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # At 0 and n the bounds are exactly 0 and 1; rounding would leave ±1e-17.
    low = 0.0 if successes == 0 else max(centre - half, 0.0)
    high = 1.0 if successes == n else min(centre + half, 1.0)
    return low, high


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> ZTest | None:
    """Test x1 ÷ n1 against x2 ÷ n2 with the pooled standard error, two-sided.

    None when either n is 0 or the pooled proportion is 0 or 1 (no variance to test
    against). Successes are clipped to [0, n]; raises ValueError for a negative n.
    """
    x1, x2 = _clip(x1, n1), _clip(x2, n2)
    if n1 == 0 or n2 == 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return None
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    return ZTest(z, math.erfc(abs(z) / math.sqrt(2)))


def spearman_with_ci(x: Sequence[float], y: Sequence[float]) -> Spearman | None:
    """Return Spearman's rho of paired values with a 95 % Fisher-z interval (SE 1/√(n − 3)).

    None when there are fewer than 4 pairs or either side is constant. Raises ValueError
    when x and y differ in length.
    """
    if len(x) != len(y):
        raise ValueError("x and y must have the same length.")
    n = len(x)
    if n < 4 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    rho = float(stats.spearmanr(x, y).statistic)
    if abs(rho) >= 1.0:  # atanh(±1) is infinite: the interval collapses onto rho
        return Spearman(rho, rho, rho, n)
    centre, half = math.atanh(rho), Z95 / math.sqrt(n - 3)
    return Spearman(rho, math.tanh(centre - half), math.tanh(centre + half), n)
