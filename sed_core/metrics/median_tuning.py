"""Class-wise median-filter lengths tuned on a validation split's unfiltered frame scores, and the
post-processing-independent PSDS (piPSDS, DCASE 2024) over a set of filter lengths.

Tuning sees the validation split's scores and labels and nothing else: which test split the lengths are applied
to is not an argument here, so it cannot leak into the choice.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sed_scores_eval import intersection_based

from sed_core.metrics.postprocess import median_filter
from sed_core.metrics.sed_metrics import PSDSScenario

Events = Sequence[tuple[float, float, str]]
# odd frame counts; 7 is the DCASE 2022 baseline's one window for every class
DEFAULT_WINDOWS: tuple[int, ...] = (1, 3, 5, 7, 9, 11, 15, 21, 27, 31)


def class_filtered(scores: Mapping[str, pd.DataFrame], windows: Mapping[str, int], *,
                   mode: str = "reflect") -> dict[str, pd.DataFrame]:
    """Each class column median-filtered over time with its own window (frames); onset/offset unchanged."""
    out = {}
    for clip, frame in scores.items():
        filtered = frame.copy()
        for cls, window in windows.items():
            if window > 1:
                column = frame[cls].to_numpy(dtype=np.float64)[:, None]
                filtered[cls] = median_filter(column, window, mode=mode)[:, 0]
        out[clip] = filtered
    return out


def per_class_psds(scores: Mapping[str, pd.DataFrame], ground_truth: Mapping[str, Events],
                   durations: Mapping[str, float], scenario: PSDSScenario, *, num_jobs: int = 1
                   ) -> tuple[float, dict[str, float]]:
    value, per_class, *_ = intersection_based.psds(
        scores=dict(scores), ground_truth=dict(ground_truth), audio_durations=dict(durations),
        dtc_threshold=scenario.dtc_threshold, gtc_threshold=scenario.gtc_threshold,
        cttc_threshold=scenario.cttc_threshold, alpha_ct=scenario.alpha_ct, alpha_st=scenario.alpha_st,
        max_efpr=scenario.max_efpr, num_jobs=num_jobs)
    return float(value), {cls: float(v) for cls, v in per_class.items()}


def tune_class_windows(validation_scores: Mapping[str, pd.DataFrame], validation_truth: Mapping[str, Events],
                       validation_durations: Mapping[str, float], scenario: PSDSScenario, *,
                       windows: Sequence[int] = DEFAULT_WINDOWS, mode: str = "reflect",
                       num_jobs: int = 1) -> dict[str, int]:
    """For each class, the window (of ``windows``) whose filtering gives that class its highest single-class
    PSDS on the validation split; ties go to the shorter window."""
    if not windows or any(w < 1 or w % 2 == 0 for w in windows):
        raise ValueError(f"windows must be odd frame counts >= 1, got {list(windows)}")
    classes = [c for c in next(iter(validation_scores.values())).columns if c not in ("onset", "offset")]
    best: dict[str, tuple[float, int]] = {}
    for window in sorted(set(windows)):
        filtered = class_filtered(validation_scores, dict.fromkeys(classes, window), mode=mode)
        _, per_class = per_class_psds(filtered, validation_truth, validation_durations, scenario, num_jobs=num_jobs)
        for cls in classes:
            if cls not in best or per_class[cls] > best[cls][0]:
                best[cls] = (per_class[cls], window)
    return {cls: window for cls, (_, window) in best.items()}


def pipsds(scores: Mapping[str, pd.DataFrame], ground_truth: Mapping[str, Events], durations: Mapping[str, float],
           scenario: PSDSScenario, *, lengths_s: Sequence[float], num_jobs: int = 1) -> float:
    """sed_scores_eval's median-filter-independent PSDS: the PSD-ROC of the best filter length at each operating
    point, over ``lengths_s`` (seconds)."""
    value, *_ = intersection_based.median_filter_independent_psds(
        dict(scores), dict(ground_truth), dict(durations), median_filter_lengths_in_sec=list(lengths_s),
        dtc_threshold=scenario.dtc_threshold, gtc_threshold=scenario.gtc_threshold,
        cttc_threshold=scenario.cttc_threshold, alpha_ct=scenario.alpha_ct, alpha_st=scenario.alpha_st,
        max_efpr=scenario.max_efpr, num_jobs=num_jobs)
    return float(value)
