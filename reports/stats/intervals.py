"""Mean and Student-t confidence interval of a handful of values (seeds)."""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


def t_interval(values: Iterable[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(mean, low, high) of the values' mean with a two-sided Student-t interval (df = n - 1).

    NaNs are ignored. One value: a zero-width interval at it; no values: NaNs.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), but got {confidence}")
    array = np.asarray([value for value in values if not math.isnan(value)], dtype=float)
    if array.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(array.mean())
    if array.size < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + confidence / 2, array.size - 1) * array.std(ddof=1) / math.sqrt(array.size))
    return mean, mean - half, mean + half
