"""The Student-t confidence interval of a mean over a handful of values (seeds): the one implementation the
summary, the paired comparisons and the figures share."""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

CONFIDENCE = 0.95


def t_interval(values: Iterable[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(mean, low, high) of the values' mean with a two-sided Student-t interval (df = n - 1).

    NaNs are ignored. One value: the mean and NaN bounds (one seed says nothing about spread); no values: NaNs.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), but got {confidence}")
    array = np.asarray([value for value in values if not math.isnan(value)], dtype=float)
    if array.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(array.mean())
    if array.size < 2:
        return mean, math.nan, math.nan
    half = float(t_half_width(array.std(ddof=1), array.size, confidence))
    return mean, mean - half, mean + half


def t_half_width(sd: ArrayLike, n: ArrayLike, confidence: float = CONFIDENCE) -> np.ndarray:
    """Half width of the two-sided Student-t interval of a mean, t(df = n - 1) * sd / sqrt(n), elementwise;
    NaN where n < 2: one value has no interval, never a zero-width one."""
    n = np.asarray(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= 2, stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(n),
                        math.nan)
