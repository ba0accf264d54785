"""Wilson and Newcombe intervals against published values, and verdicts against thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from ntk_evolution.analyses.intervals import difference, verdict, wilson


@pytest.mark.parametrize(
    ("correct", "n", "expected"),
    [
        (81, 263, (0.2553, 0.3662)),  # Newcombe (1998), Statistics in Medicine 17, table I
        (15, 148, (0.0624, 0.1605)),  # ibid.
        (0, 20, (0.0, 0.1611)),  # ibid.: no successes, the lower bound is exactly 0
        (1, 29, (0.0061, 0.1718)),  # ibid.
        (450, 450, (0.99154, 1.0)),  # every image right: 1 - z^2 / (n + z^2) below 1
    ],
)
def test_wilson_matches_published_values(correct, n, expected):
    np.testing.assert_allclose(wilson(correct, n), expected, atol=5e-5)


def test_wilson_takes_arrays_and_refuses_no_images():
    low, high = wilson(np.array([0, 81]), np.array([20, 263]))
    np.testing.assert_allclose(low, [0.0, 0.2553], atol=5e-5)
    np.testing.assert_allclose(high, [0.1611, 0.3662], atol=5e-5)
    with pytest.raises(ValueError, match="at least one test image"):
        wilson(0, 0)


def test_newcombe_difference_matches_published_values():
    # Newcombe (1998), Statistics in Medicine 17, table II: 56/70 - 48/80, method 10.
    np.testing.assert_allclose(difference((56, 70), (48, 80)), (0.0524, 0.3339), atol=5e-5)
    # 9/10 - 3/10: (0.1705, 0.8090).
    np.testing.assert_allclose(difference((9, 10), (3, 10)), (0.1705, 0.8090), atol=5e-5)


@pytest.mark.parametrize(
    ("low", "high", "at_least", "expected"),
    [
        (0.35, 0.45, True, "holds"),
        (0.20, 0.28, True, "fails"),
        (0.28, 0.34, True, "inconclusive"),
        (0.00, 0.08, False, "holds"),
        (0.12, 0.20, False, "fails"),
        (0.05, 0.15, False, "inconclusive"),
    ],
)
def test_a_verdict_is_decided_only_by_a_whole_interval(low, high, at_least, expected):
    threshold = 0.3 if at_least else 0.1
    assert verdict(low, high, threshold, at_least=at_least) == expected
