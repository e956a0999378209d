"""Wilson interval against SciPy's implementation and its known edge behaviour."""

import pytest
from scipy.stats import binomtest

from apps.qa.statistics import wilson_interval


@pytest.mark.parametrize("successes,n", [(0, 1), (1, 1), (0, 8), (3, 8), (8, 8), (17, 20), (50, 200), (999, 1000)])
def test_wilson_interval_matches_scipy(successes, n):
    expected = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(successes, n)
    assert low == pytest.approx(expected.low, abs=1e-6)
    assert high == pytest.approx(expected.high, abs=1e-6)


@pytest.mark.parametrize(
    "successes,n,published", [(81, 263, (0.2553, 0.3662)), (15, 148, (0.0624, 0.1605)), (0, 20, (0.0, 0.1611))]
)
def test_wilson_interval_published_values(successes, n, published):
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", table I, method 3.
    low, high = wilson_interval(successes, n)
    assert (round(low, 4), round(high, 4)) == published


def test_wilson_interval_without_trials_is_uninformative():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_stays_in_unit_range_and_narrows_with_n():
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    widths = [high - low for low, high in (wilson_interval(round(0.7 * n), n) for n in (10, 100, 1000))]
    assert widths == sorted(widths, reverse=True)


def test_wilson_interval_z_sets_the_level():
    narrow = wilson_interval(30, 50, z=1.0)
    wide = wilson_interval(30, 50, z=2.575829)
    expected = binomtest(30, 50).proportion_ci(confidence_level=0.99, method="wilson")
    assert wide == pytest.approx((expected.low, expected.high), abs=1e-6)
    assert wide[0] < narrow[0] < 0.6 < narrow[1] < wide[1]


@pytest.mark.parametrize("successes,n", [(-1, 5), (6, 5), (0, -1)])
def test_wilson_interval_rejects_impossible_counts(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)
