"""Error bars for the numbers people quote: probabilities over seeds and paired differences."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import binomtest, norm

CONFIDENCE = 0.95


def wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Share and its Wilson score interval (scipy): honest at 0 and 1 and for few seeds, where
    the normal approximation gives intervals outside [0, 1] or of zero width."""
    if trials <= 0:
        return (math.nan,) * 3
    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=confidence, method="wilson")
    return successes / trials, float(ci.low), float(ci.high)


def share(flags: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """`wilson` of a list of yes/no outcomes, one per seed."""
    return wilson(int(sum(bool(f) for f in flags)), len(flags), confidence)


def paired_difference(
    with_flags: Sequence[float] | np.ndarray,
    without_flags: Sequence[float] | np.ndarray,
    confidence: float = CONFIDENCE,
) -> tuple[float, float, float]:
    """Mean of paired differences (e.g. P(bubble with) - P(bubble without) on common seeds) and
    its normal-approximation interval from the per-seed differences, clipped to [-1, 1]."""
    d = np.asarray(with_flags, float) - np.asarray(without_flags, float)
    if d.size == 0:
        return (math.nan,) * 3
    mean = float(d.mean())
    if d.size < 2:
        return mean, math.nan, math.nan
    z = float(norm.ppf(0.5 + confidence / 2))
    half = z * float(d.std(ddof=1)) / math.sqrt(d.size)
    return mean, max(mean - half, -1.0), min(mean + half, 1.0)


def fmt_share(p: tuple[float, float, float]) -> str:
    """'0.96 [0.87, 0.99]'."""
    value, low, high = p
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"
