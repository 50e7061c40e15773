"""The PSDS DCASE 2022 papers published (50 operating points) against values worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from sed_core.metrics.scores import frame_scores_to_dataframe
from sed_core.metrics.sed_metrics import (
    PSDS_SCENARIO_1,
    PUBLISHED_THRESHOLDS,
    compute_sed_metrics,
    snapped_to_thresholds,
)

HOUR = 3600.0
HOP = 100.0  # 36 frames of 100 s: one clip of one hour, so one false positive is an FP rate of 1 per hour


def one_hour_clip(true_score: float, false_score: float) -> dict:
    """A true event at frame 10 (1000-1100 s) scored ``true_score``, a false alarm at frame 20 scored
    ``false_score``, silence (0) elsewhere; one class."""
    probs = np.zeros((36, 1))
    probs[10, 0], probs[20, 0] = true_score, false_score
    scores = {"clip": frame_scores_to_dataframe(probs, frame_hop_s=HOP, duration_s=HOUR, classes=["Dog"])}
    return {"scores": scores, "ground_truth": {"clip": [(1000.0, 1100.0, "Dog")]}, "durations": {"clip": HOUR}}


def psds1_both(true_score: float, false_score: float) -> tuple[float, float]:
    result = compute_sed_metrics(**one_hour_clip(true_score, false_score), classes=["Dog"],
                                 psds_scenarios={"psds1": PSDS_SCENARIO_1}, f1_scores=(), published=("psds1",))
    return result.psds1, result.psds1_t50


def test_the_grid_is_desed_tasks():
    assert PUBLISHED_THRESHOLDS == tuple(np.round(np.arange(1 / 100, 1, 1 / 50), 2))
    assert len(PUBLISHED_THRESHOLDS) == 50 and PUBLISHED_THRESHOLDS[0] == 0.01 and PUBLISHED_THRESHOLDS[-1] == 0.99


@pytest.mark.parametrize("true_score, false_score, exact, t50", [
    # Exact: a threshold in (0.500, 0.505] detects the true event alone: TPR 1 at eFPR 0, PSDS 1. At the grid,
    # 0.49 detects both (TPR 1 at 1 FP per hour) and 0.51 neither: TPR 1 from eFPR 1 to 100, PSDS 99/100.
    (0.505, 0.500, 1.0, 0.99),
    # DESED_task decodes score > threshold: a score of exactly 0.51 is not active at 0.51, so the same as above
    (0.51, 0.50, 1.0, 0.99),
    # just above a grid point: 0.51 separates them, and both conventions give 1
    (0.5101, 0.50, 1.0, 1.0),
    # the false alarm scores higher: both conventions meet it before the event, PSDS 99/100
    (0.50, 0.70, 0.99, 0.99),
])
def test_published_psds_against_values_by_hand(true_score: float, false_score: float, exact: float, t50: float):
    value, published = psds1_both(true_score, false_score)
    assert value == pytest.approx(exact, abs=1e-9)
    assert published == pytest.approx(t50, abs=1e-9)


def test_scores_snap_down_to_the_largest_threshold_below_them():
    frame = frame_scores_to_dataframe(np.array([[0.0], [0.005], [0.01], [0.0101], [0.5], [0.999], [1.0]]),
                                      frame_hop_s=1.0, duration_s=None, classes=["Dog"])
    snapped = snapped_to_thresholds(frame, PUBLISHED_THRESHOLDS)["Dog"].tolist()
    assert snapped == pytest.approx([0.0, 0.0, 0.0, 0.01, 0.49, 0.99, 0.99])
    assert frame["Dog"].tolist()[-1] == 1.0  # the input is left alone
