"""95 % intervals of accuracies over the test images, and verdicts that respect them.

An accuracy is a share p = k / n of n test images. Its interval is Wilson's score interval,

    (p + z^2 / 2n  +-  z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n),   z = 1.96,

chosen over the normal approximation p +- z sqrt(p (1 - p) / n) because robust accuracies sit
near 0 and 1, where that one collapses to a point (at p = 0 it claims certainty from any n), and
over a bootstrap because it is exact arithmetic on (k, n): the same numbers on every rerun, no
resampling seed, and nothing to store per image. It treats the test images as a sample of the
distribution they come from; the attacks' own randomness is not in it.

A difference of two accuracies p1 - p2 gets Newcombe's hybrid score interval (his method 10)
from the two Wilson intervals (l1, u1) and (l2, u2):

    (p1 - p2 - sqrt((p1 - l1)^2 + (u2 - p2)^2),  p1 - p2 + sqrt((u1 - p1)^2 + (p2 - l2)^2)).

It assumes the two shares independent; measured on the same test images they are positively
correlated, which makes this interval wider than a paired one: a verdict it calls decided is
decided.

:func:`verdict` compares an interval with a threshold: ``holds`` when the whole interval lies on
the required side, ``fails`` when it lies wholly on the other, ``inconclusive`` when the
threshold lies inside it.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

Z = 1.959963984540054  # the 97.5 % quantile of the standard normal: a two-sided 95 % interval
Verdict = Literal["holds", "fails", "inconclusive"]


def wilson(correct: ArrayLike, n: ArrayLike, z: float = Z) -> tuple[Any, Any]:
    """Wilson's score interval of the share ``correct / n`` (numbers or arrays of them)."""
    correct, n = np.asarray(correct, float), np.asarray(n, float)
    if np.any(n <= 0):
        raise ValueError(f"an interval needs at least one test image, not n = {n.min():g}")
    p = correct / n
    scale = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / scale
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / scale
    # At p = 0 and p = 1 the bounds are exactly 0 and 1; rounding would leave them a hair off.
    low = np.where(correct == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(correct == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return (float(low), float(high)) if low.ndim == 0 else (low, high)


def difference(
    first: tuple[int, int], second: tuple[int, int], z: float = Z
) -> tuple[float, float]:
    """Newcombe's hybrid score interval of p1 - p2, each share given as ``(correct, n)``."""
    (k1, n1), (k2, n2) = first, second
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    return (
        p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


def verdict(low: float, high: float, threshold: float, *, at_least: bool) -> Verdict:
    """Whether a value in [low, high] is at least (``at_least``) or at most ``threshold``."""
    if at_least:
        return "holds" if low >= threshold else "fails" if high < threshold else "inconclusive"
    return "holds" if high <= threshold else "fails" if low > threshold else "inconclusive"
