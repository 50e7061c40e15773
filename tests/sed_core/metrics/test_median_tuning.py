"""Class-wise median-filter windows are chosen on the validation split alone; piPSDS over the windows."""
from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from sed_core.metrics import median_tuning
from sed_core.metrics.median_tuning import class_filtered, pipsds, tune_class_windows
from sed_core.metrics.scores import frame_scores_to_dataframe
from sed_core.metrics.sed_metrics import PSDS_SCENARIO_1

HOP = 1.0


def clip(dog: np.ndarray, cat: np.ndarray) -> pd.DataFrame:
    return frame_scores_to_dataframe(np.stack([dog, cat], axis=1), frame_hop_s=HOP, duration_s=len(dog),
                                     classes=["Dog", "Cat"])


def split_where(noisy: bool) -> tuple[dict, dict, dict]:
    """One 60-frame clip; Dog 20-40 s, Cat 10-15 s. With ``noisy``, Dog's event has one-frame dropouts that leave
    65 % of it detected, below PSDS1's 0.7 criterion (a 3-frame window mends them), and Cat has one-frame false
    spikes (any window > 1 removes them); without, both are clean."""
    dog, cat = np.zeros(60), np.zeros(60)
    dog[20:40] = 0.9
    cat[10:15] = 0.8
    if noisy:
        dog[[22, 25, 28, 31, 34, 37, 39]] = 0.0
        cat[[40, 50]] = 0.95
    return {"a": clip(dog, cat)}, {"a": [(20.0, 40.0, "Dog"), (10.0, 15.0, "Cat")]}, {"a": 60.0}


def test_the_windows_follow_the_validation_split():
    scores, truth, durations = split_where(noisy=True)
    chosen = tune_class_windows(scores, truth, durations, PSDS_SCENARIO_1, windows=(1, 3, 9))
    assert chosen == {"Dog": 3, "Cat": 3}  # the shortest window that mends the dropouts and removes the spikes
    clean = tune_class_windows(*split_where(noisy=False), PSDS_SCENARIO_1, windows=(1, 3, 9))
    assert clean == {"Dog": 1, "Cat": 1}  # nothing to mend: ties go to the shortest


def test_tuning_cannot_see_a_test_split():
    """The leak is impossible by construction: tuning takes the validation scores and labels, nothing else."""
    parameters = set(inspect.signature(tune_class_windows).parameters)
    assert parameters == {"validation_scores", "validation_truth", "validation_durations", "scenario", "windows",
                          "mode", "num_jobs"}
    assert "test" not in inspect.getsource(median_tuning).split("def tune_class_windows")[1].split("def pipsds")[0]


def test_class_filtering_leaves_other_classes_and_times_alone():
    scores, _, _ = split_where(noisy=True)
    filtered = class_filtered(scores, {"Dog": 3})["a"]
    assert filtered["Cat"].tolist() == scores["a"]["Cat"].tolist()
    assert filtered[["onset", "offset"]].equals(scores["a"][["onset", "offset"]])
    assert filtered["Dog"].iloc[20:38].min() == pytest.approx(0.9)  # mended up to the last two dropouts


def test_pipsds_is_at_least_the_psds_of_each_window():
    scores, truth, durations = split_where(noisy=True)
    value = pipsds(scores, truth, durations, PSDS_SCENARIO_1, lengths_s=[1.0, 3.0])
    for window in (1, 3):
        one, _ = median_tuning.per_class_psds(class_filtered(scores, {"Dog": window, "Cat": window}), truth,
                                              durations, PSDS_SCENARIO_1)
        assert value >= one - 1e-9
