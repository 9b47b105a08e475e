"""Wilson interval, two-proportion z-test and Spearman's rho with a Fisher-z interval."""

from __future__ import annotations

import math

import pytest

from cxjourney.analytics.intervals import (
    Z95,
    spearman_with_ci,
    two_proportion_z_test,
    wilson_interval,
)

EXACT = 1e-12
Z2 = Z95 * Z95


def test_z95_is_the_975_percent_normal_quantile():
    # Φ(z) = 1 − erfc(z/√2)/2
    assert 1 - math.erfc(Z95 / math.sqrt(2)) / 2 == pytest.approx(0.975, abs=1e-15)


def test_wilson_none_of_ten():
    # p = 0: centre = half = (z²/2n)/(1 + z²/n), so the upper bound is z²/(n + z²)
    low, high = wilson_interval(0, 10)
    assert low == 0
    assert high == pytest.approx(Z2 / (10 + Z2), abs=EXACT)
    assert high == pytest.approx(0.27753, abs=1e-5)


def test_wilson_half_of_ten():
    # p = 1/2: centre = 1/2, half = z·√(1/40 + z²/400)/(1 + z²/10)
    low, high = wilson_interval(5, 10)
    half = Z95 * math.sqrt(1 / 40 + Z2 / 400) / (1 + Z2 / 10)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half), abs=EXACT)
    assert (low, high) == pytest.approx((0.23659, 0.76341), abs=1e-5)


def test_wilson_all_of_ten():
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(10 / (10 + Z2), abs=EXACT)
    assert high == 1


def test_wilson_one_of_four_with_another_z():
    # z = 1: centre = (1/4 + 1/8)/(5/4) = 3/10, half = √(3/64 + 1/64)/(5/4) = 1/5
    assert wilson_interval(1, 4, z=1.0) == pytest.approx((0.1, 0.5), abs=EXACT)


def test_wilson_of_nothing_is_none():
    assert wilson_interval(0, 0) is None


def test_wilson_clips_successes_to_the_trials():
    assert wilson_interval(12, 10) == wilson_interval(10, 10)
    assert wilson_interval(-3, 10) == wilson_interval(0, 10)


def test_wilson_rejects_negative_trials():
    with pytest.raises(ValueError, match="negative"):
        wilson_interval(0, -1)


def test_z_test_against_hand_computation():
    # 30/100 vs 20/100: pooled 1/4, SE = √(1/4 · 3/4 · 2/100) = √0.00375,
    # z = 0.1/√0.00375 = √(8/3); two-sided p = erfc(z/√2) = 2(1 − Φ(1.63299)) ≈ 0.102470
    z, p = two_proportion_z_test(30, 100, 20, 100)
    assert z == pytest.approx(math.sqrt(8 / 3), abs=EXACT)
    assert p == pytest.approx(0.1024704349, abs=1e-9)


def test_z_test_is_negative_when_the_first_proportion_is_smaller():
    z, p = two_proportion_z_test(20, 100, 30, 100)
    assert z == pytest.approx(-math.sqrt(8 / 3), abs=EXACT)
    assert p == pytest.approx(0.1024704349, abs=1e-9)


def test_z_test_of_equal_proportions_is_not_significant():
    assert two_proportion_z_test(5, 50, 10, 100) == pytest.approx((0, 1), abs=EXACT)


@pytest.mark.parametrize("args", [(0, 0, 3, 10), (3, 10, 0, 0), (0, 10, 0, 20), (10, 10, 20, 20)])
def test_z_test_without_trials_or_variance_is_none(args):
    assert two_proportion_z_test(*args) is None


def test_spearman_against_hand_ranked_example():
    # ranks differ by d = (−1, 1, −1, 1, 0): rho = 1 − 6 · 4/(5 · 24) = 0.8;
    # atanh(0.8) = ln 3, SE = 1/√2, interval tanh(ln 3 ∓ z/√2)
    result = spearman_with_ci([1, 2, 3, 4, 5], [20, 10, 40, 30, 50])
    assert result.rho == pytest.approx(0.8, abs=EXACT)
    assert result.low == pytest.approx(math.tanh(math.log(3) - Z95 / math.sqrt(2)), abs=EXACT)
    assert result.high == pytest.approx(math.tanh(math.log(3) + Z95 / math.sqrt(2)), abs=EXACT)
    assert result.n == 5


def test_spearman_uses_ranks_not_values():
    # y = (5 − x)³ falls with x: rho is −1 however unevenly the values are spaced
    result = spearman_with_ci([1.0, 2.0, 3.0, 4.0], [64.0, 27.0, 8.0, 1.0])
    assert result == pytest.approx((-1, -1, -1, 4), abs=EXACT)


def test_spearman_needs_four_pairs():
    assert spearman_with_ci([1, 2, 3], [3, 1, 2]) is None


def test_spearman_of_a_constant_side_is_none():
    assert spearman_with_ci([1, 2, 3, 4], [7, 7, 7, 7]) is None
    assert spearman_with_ci([2, 2, 2, 2], [1, 2, 3, 4]) is None


def test_spearman_rejects_unpaired_values():
    with pytest.raises(ValueError, match="same length"):
        spearman_with_ci([1, 2, 3, 4], [1, 2, 3])
