from __future__ import annotations

import numpy as np
import pytest
import torch

from sed_core.errors import ConfigError, DataError
from sed_core.metrics.scores import frame_scores_to_dataframe
from sed_core.metrics.sed_metrics import (
    PSDS_SCENARIO_1,
    PSDS_SCENARIO_2,
    PSDSScenario,
    SedMetrics,
    compute_sed_metrics,
    weak_f1,
)

CLASSES = ("Cat", "Dog")
Event = tuple  # (onset, offset, label) or (onset, offset, label, score)


def scores_for(detections: list[Event], *, hop: float, n_frames: int, duration: float | None):
    """Score DataFrame with `score` on the frames [onset/hop, offset/hop) of each detection, 0 elsewhere."""
    probs = np.zeros((n_frames, len(CLASSES)))
    for onset, offset, label, *score in detections:
        probs[round(onset / hop): round(offset / hop), CLASSES.index(label)] = score[0] if score else 1.0
    return frame_scores_to_dataframe(probs, frame_hop_s=hop, duration_s=duration, classes=CLASSES)


def evaluate(detections: dict[str, list[Event]], ground_truth: dict[str, list[Event]], durations: dict[str, float],
             *, hop: float, n_frames: int) -> SedMetrics:
    scores = {
        clip: scores_for(events, hop=hop, n_frames=n_frames, duration=durations[clip])
        for clip, events in detections.items()
    }
    return compute_sed_metrics(scores, ground_truth, durations, classes=CLASSES)


def test_scenario_constants() -> None:
    assert PSDS_SCENARIO_1 == PSDSScenario(0.7, 0.7, None, 0.0, 1.0, 100.0)
    assert PSDS_SCENARIO_2 == PSDSScenario(0.1, 0.1, 0.3, 0.5, 1.0, 100.0)


@pytest.mark.parametrize(("cttc", "alpha_ct"), [(0.3, 0.0), (None, 0.5)])
def test_scenario_rejects_cttc_alpha_ct_mismatch(cttc: float | None, alpha_ct: float) -> None:
    with pytest.raises(ConfigError, match="cttc_threshold must be None when alpha_ct == 0 and set when alpha_ct > 0"):
        PSDSScenario(0.7, 0.7, cttc, alpha_ct, 1.0, 100.0)


# DESED-like grid: hop 0.064 s, 156 frames; events on frame boundaries (multiples of 0.064 s)
DESED_GROUND_TRUTH = {
    "clip_a": [(0.64, 1.92, "Cat"), (3.2, 6.4, "Dog"), (5.12, 5.76, "Cat")],
    "clip_b": [(0.0, 2.304, "Dog")],  # a 2.4 s clip: the score grid is cut at 2.4 s
    "silent": [],
}
DESED_DURATIONS = {"clip_a.wav": 10.0, "clip_b.wav": 2.4, "silent.wav": 10.0}  # keyed by filename


def test_perfect_scores_reach_exactly_one() -> None:
    # With tpr 1 at efpr 0 for every class, the PSD-ROC is 1 on [0, max_efpr], so the normalised area is
    # exactly 1.0 (std over classes is 0, so alpha_st costs nothing); both F1 scores are 1 at threshold 0.5.
    durations = {clip.removesuffix(".wav"): d for clip, d in DESED_DURATIONS.items()}
    metrics = evaluate(DESED_GROUND_TRUTH, DESED_GROUND_TRUTH, durations, hop=0.064, n_frames=156)
    assert metrics.psds1 == 1.0 and metrics.psds2 == 1.0
    assert metrics.per_class_psds == {"psds1": {"Cat": 1.0, "Dog": 1.0}, "psds2": {"Cat": 1.0, "Dog": 1.0}}
    assert metrics.collar_f1 == 1.0 and metrics.intersection_f1 == 1.0


def test_all_zero_scores_give_zero() -> None:
    scores = {
        clip: scores_for([], hop=0.064, n_frames=156, duration=DESED_DURATIONS[clip + ".wav"])
        for clip in DESED_GROUND_TRUTH
    }
    metrics = compute_sed_metrics(scores, DESED_GROUND_TRUTH, DESED_DURATIONS, classes=CLASSES)
    assert metrics.psds == {"psds1": 0.0, "psds2": 0.0}
    assert metrics.collar_f1 == 0.0 and metrics.intersection_f1 == 0.0
    flat = metrics.as_flat_dict()
    assert flat["psds2/class/Dog"] == 0.0 and flat["collar_f1/class/Cat"] == 0.0
    assert set(flat) >= {"psds1", "intersection_f1"}


SHIFT_GROUND_TRUTH = {"a": [(1.0, 1.4, "Cat"), (5.0, 6.0, "Dog")]}


def test_shift_inside_collar_fails_psds1_intersection() -> None:
    # Cat 1.0-1.4 s detected at 1.15-1.55 s: onset/offset off by 0.15 s <= 0.2 s collar -> collar TP;
    # overlap 0.25 s / 0.4 s = 0.625 >= 0.5 (intersection F1) and >= 0.1 (PSDS2) but < 0.7 (PSDS1).
    detections = {"a": [(1.15, 1.55, "Cat"), (5.0, 6.0, "Dog")]}
    metrics = evaluate(detections, SHIFT_GROUND_TRUTH, {"a": 10.0}, hop=0.05, n_frames=200)
    assert metrics.collar_f1 == 1.0
    assert metrics.intersection_f1 == 1.0
    assert metrics.per_class_psds["psds1"] == {"Cat": 0.0, "Dog": 1.0}
    assert metrics.per_class_psds["psds2"] == {"Cat": 1.0, "Dog": 1.0}
    assert metrics.psds1 == 0.0  # mean 0.5 - std 0.5 (alpha_st = 1)
    assert metrics.psds2 == 1.0


def test_shift_beyond_collar_fails_collar_and_intersection() -> None:
    # shifted by 0.3 s > 0.2 s collar; overlap 0.1 / 0.4 = 0.25 < 0.5
    detections = {"a": [(1.3, 1.7, "Cat"), (5.0, 6.0, "Dog")]}
    metrics = evaluate(detections, SHIFT_GROUND_TRUTH, {"a": 10.0}, hop=0.05, n_frames=200)
    assert metrics.collar_f1_per_class == {"Cat": 0.0, "Dog": 1.0}
    assert metrics.intersection_f1_per_class == {"Cat": 0.0, "Dog": 1.0}
    assert metrics.collar_f1 == 0.5 and metrics.intersection_f1 == 0.5
    assert metrics.per_class_psds["psds2"]["Cat"] == 1.0  # 0.25 >= dtc 0.1


# Two 60 s clips (hop 0.5 s). Cat is found (score 0.9), but a false Cat detection scores higher (0.95), so
# the false positive counts before the Cat events are found: 1 FP in 120 s = 30 per hour.
CT_GROUND_TRUTH = {"a": [(10.0, 14.0, "Cat"), (30.0, 50.0, "Dog")], "b": [(5.0, 55.0, "Dog")]}
CT_DURATIONS = {"a": 60.0, "b": 60.0}
FP_PER_HOUR = 3600 / 120
CT_PER_HOUR = 3600 / 70  # 1 cross trigger per 70 s of Dog reference events


@pytest.mark.parametrize("false_cat", [(52.0, 57.0), (35.0, 40.0)], ids=["no_reference", "on_dog"])
def test_cross_trigger_lowers_psds2_only(false_cat: tuple[float, float]) -> None:
    detections = {
        "a": [(10.0, 14.0, "Cat", 0.9), (30.0, 50.0, "Dog", 0.9), (*false_cat, "Cat", 0.95)],
        "b": [(5.0, 55.0, "Dog", 0.9)],
    }
    metrics = evaluate(detections, CT_GROUND_TRUTH, CT_DURATIONS, hop=0.5, n_frames=120)
    # Cat's ROC: tpr 0 until efpr reaches the FP rate, then 1; Dog is perfect. The mean-std curve over the two
    # classes is 0 until Cat's step, then 1.
    assert metrics.psds1 == pytest.approx(1 - FP_PER_HOUR / 100)  # 0.7 with or without a cross trigger
    cross_trigger = false_cat == (35.0, 40.0)
    expected_efpr = FP_PER_HOUR + (0.5 * CT_PER_HOUR if cross_trigger else 0.0)  # alpha_ct = 0.5
    assert metrics.psds2 == pytest.approx(1 - expected_efpr / 100)  # 0.7 without, 0.443 with a cross trigger
    assert metrics.collar_f1 == pytest.approx((2 / 3 + 1) / 2)  # Cat: 1 TP, 1 FP at threshold 0.5


def test_psd_roc_is_the_curve_under_psds() -> None:
    detections = {
        "a": [(10.0, 14.0, "Cat", 0.9), (30.0, 50.0, "Dog", 0.9), (35.0, 40.0, "Cat", 0.95)],
        "b": [(5.0, 55.0, "Dog", 0.9)],
    }
    metrics = evaluate(detections, CT_GROUND_TRUTH, CT_DURATIONS, hop=0.5, n_frames=120)
    for name, scenario in (("psds1", PSDS_SCENARIO_1), ("psds2", PSDS_SCENARIO_2)):
        efpr, tpr = metrics.psd_roc[name]
        assert np.all(np.diff(efpr) >= 0) and np.all((tpr >= 0) & (tpr <= 1))
        # the step function's area up to max_efpr, normalised, is the PSDS itself
        edges = np.minimum(np.append(efpr, scenario.max_efpr), scenario.max_efpr)
        area = float(np.sum(tpr * np.diff(edges)))
        assert area / scenario.max_efpr == pytest.approx(metrics.psds[name])
    assert metrics.psd_roc["psds2"][1].max() == 1.0 and metrics.psds2 < metrics.psds1


def test_durations_shorter_than_score_grid_are_respected() -> None:
    # a 5 s clip scored on a 10 s grid; the false Cat at 7-8 s lies past the clip's end
    ground_truth = {"a": [(1.0, 2.0, "Cat"), (3.0, 4.0, "Dog")]}
    detections = [(1.0, 2.0, "Cat"), (3.0, 4.0, "Dog"), (7.0, 8.0, "Cat")]
    cut = {"a": scores_for(detections, hop=0.1, n_frames=100, duration=5.0)}
    assert cut["a"]["offset"].iloc[-1] == 5.0
    metrics = compute_sed_metrics(cut, ground_truth, {"a": 5.0}, classes=CLASSES)
    assert metrics.psds1 == 1.0 and metrics.collar_f1 == 1.0

    uncut = {"a": scores_for(detections, hop=0.1, n_frames=100, duration=None)}
    with pytest.raises(DataError, match=r"scores of clip 'a' reach 10\.000 s but the clip lasts 5\.000 s"):
        compute_sed_metrics(uncut, ground_truth, {"a": 5.0}, classes=CLASSES)


def test_durations_set_the_false_positive_rate() -> None:
    # the same FP over 120 s or 240 s of audio: 30 or 15 FP per hour
    detections = {
        "a": [(10.0, 14.0, "Cat", 0.9), (30.0, 50.0, "Dog", 0.9), (52.0, 57.0, "Cat", 0.95)],
        "b": [(5.0, 55.0, "Dog", 0.9)],
    }
    scores = {clip: scores_for(d, hop=0.5, n_frames=120, duration=60.0) for clip, d in detections.items()}
    longer = compute_sed_metrics(scores, CT_GROUND_TRUTH, {"a": 60.0, "b": 180.0}, classes=CLASSES)
    assert longer.psds1 == pytest.approx(1 - 15 / 100)


# --- input checks ----------------------------------------------------------------------------------------


def perfect_scores(ground_truth: dict, duration: float = 10.0) -> dict:
    return {clip: scores_for(events, hop=0.1, n_frames=100, duration=duration) for clip, events in ground_truth.items()}


def test_class_without_reference_events() -> None:
    ground_truth = {"a": [(1.0, 2.0, "Cat")], "b": []}
    with pytest.raises(DataError, match=r"no ground-truth event for class\(es\) Dog"):
        compute_sed_metrics(perfect_scores(ground_truth), ground_truth, {"a": 10.0, "b": 10.0}, classes=CLASSES)


def test_scored_clip_without_duration() -> None:
    ground_truth = {"a": [(1.0, 2.0, "Cat")], "b": [(1.0, 2.0, "Dog")], "c": []}
    with pytest.raises(DataError, match=r"2 \(b, c\) scored clip\(s\) have no duration"):
        compute_sed_metrics(perfect_scores(ground_truth), ground_truth, {"a.wav": 10.0}, classes=CLASSES)


def test_scored_clip_without_ground_truth_and_the_reverse() -> None:
    ground_truth = {"a": [(1.0, 2.0, "Cat"), (3.0, 4.0, "Dog")], "b": []}
    durations = {"a": 10.0, "b": 10.0, "x": 10.0}
    scores = perfect_scores(ground_truth)
    with pytest.raises(DataError, match=r"1 \(x\) scored clip\(s\) have no ground-truth entry"):
        compute_sed_metrics({**scores, "x": scores["b"]}, ground_truth, durations, classes=CLASSES)
    with pytest.raises(DataError, match=r"1 \(b\) ground-truth clip\(s\) have no scores"):
        compute_sed_metrics({"a": scores["a"]}, ground_truth, durations, classes=CLASSES)


def test_connected_reference_events() -> None:
    ground_truth = {"a": [(1.0, 2.0, "Cat"), (2.0, 3.0, "Cat"), (3.0, 4.0, "Dog")]}
    with pytest.raises(DataError, match=r"1 \(a\) clip\(s\) have overlapping or touching .* on_overlap='merge'"):
        compute_sed_metrics(perfect_scores(ground_truth), ground_truth, {"a": 10.0}, classes=CLASSES)


def test_unknown_reference_label_and_wrong_score_columns() -> None:
    ground_truth = {"a": [(1.0, 2.0, "Cat"), (3.0, 4.0, "Dgo")]}
    with pytest.raises(DataError, match=r"1 \(a: 'Dgo'\) ground-truth event\(s\) have a label outside classes"):
        compute_sed_metrics(perfect_scores({"a": []}), ground_truth, {"a": 10.0}, classes=CLASSES)
    ground_truth = {"a": [(1.0, 2.0, "Cat"), (3.0, 4.0, "Dog")]}
    scores = perfect_scores(ground_truth)
    with pytest.raises(DataError, match=r"scores of clip 'a' have columns \['onset', 'offset', 'Cat', 'Dog'\]"):
        compute_sed_metrics(scores, ground_truth, {"a": 10.0}, classes=("Dog", "Cat"))


def test_custom_scenarios_only() -> None:
    ground_truth = {"a": [(1.0, 2.0, "Cat"), (3.0, 4.0, "Dog")]}
    metrics = compute_sed_metrics(
        perfect_scores(ground_truth), ground_truth, {"a": 10.0}, classes=CLASSES,
        psds_scenarios={"strict": PSDSScenario(0.9, 0.9, None, 0.0, 0.0, 50.0)},
    )
    assert metrics.psds == {"strict": 1.0}
    with pytest.raises(KeyError, match="no PSDS scenario 'psds1' was computed; computed: strict"):
        _ = metrics.psds1


# --- weak F1 ---------------------------------------------------------------------------------------------


def test_weak_f1_known_value() -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.7], [0.2, 0.4]])
    targets = np.array([[1, 0], [0, 1], [1, 0]])
    # class 0: TP 1, FP 1, FN 1 -> 2/4; class 1: TP 1 -> 1
    assert weak_f1(probs, targets) == pytest.approx(0.75)
    assert weak_f1(torch.tensor(probs), torch.tensor(targets)) == pytest.approx(0.75)
    assert weak_f1(probs, targets, threshold=0.05) == pytest.approx((2 * 2 / (4 + 1) + 2 * 1 / (2 + 2)) / 2)


def test_weak_f1_class_without_targets_or_predictions_scores_zero() -> None:
    probs = np.array([[0.9, 0.1], [0.1, 0.2]])
    targets = np.array([[1, 0], [0, 0]])
    assert weak_f1(probs, targets) == pytest.approx(0.5)


def test_weak_f1_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"both have shape \(N, C\), got \(2, 2\) and \(2, 3\)"):
        weak_f1(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        weak_f1(np.zeros((2, 2)), np.full((2, 2), 0.5))


def test_only_the_asked_metrics_are_computed_with_the_same_values_and_any_num_jobs() -> None:
    ground_truth = {"a": [(1.0, 3.0, "Cat"), (5.0, 6.0, "Dog")], "b": [(0.5, 2.5, "Dog")], "c": []}
    durations = {"a": 10.0, "b": 10.0, "c": 10.0}
    detections = {"a": [(0.9, 3.2, "Cat", 0.8), (4.0, 6.0, "Dog", 0.6)], "b": [(0.6, 2.0, "Dog", 0.7)],
                  "c": [(2.0, 4.0, "Cat", 0.55)]}
    scores = {c: scores_for(d, hop=0.1, n_frames=100, duration=10.0) for c, d in detections.items()}
    full = compute_sed_metrics(scores, ground_truth, durations, classes=CLASSES)
    psds_only = compute_sed_metrics(scores, ground_truth, durations, classes=CLASSES, f1_scores=())
    assert psds_only.psds == full.psds and psds_only.per_class_psds == full.per_class_psds
    assert np.isnan(psds_only.collar_f1) and np.isnan(psds_only.intersection_f1)
    one_f1 = compute_sed_metrics(scores, ground_truth, durations, classes=CLASSES, psds_scenarios={},
                                 f1_scores=("intersection_f1",), num_jobs=2)
    assert one_f1.intersection_f1 == full.intersection_f1 and one_f1.psds == {} and np.isnan(one_f1.collar_f1)
    parallel = compute_sed_metrics(scores, ground_truth, durations, classes=CLASSES, num_jobs=2)
    assert parallel.psds == full.psds and parallel.collar_f1 == full.collar_f1
    with pytest.raises(ConfigError, match="f1_scores: unknown"):
        compute_sed_metrics(scores, ground_truth, durations, classes=CLASSES, f1_scores=("event_f1",))
