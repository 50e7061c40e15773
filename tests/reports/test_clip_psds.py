"""PSDS over resampled clips equals sed_scores_eval's own PSDS of the resampled clip set."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sed_scores_eval import intersection_based

from reports.fetch.reference import Reference
from reports.stats.bootstrap import clip_draws, paired_clip_bootstrap, resampled_ids
from reports.stats.clip_psds import PsdsStatistic
from sed_core.metrics.sed_metrics import PSDS_SCENARIO_1, PSDS_SCENARIO_2, compute_sed_metrics

CLASSES = ["Cat", "Dog", "Speech"]
HOP = 0.25
FRAMES = 40  # 10 s clips


def fabricated(n_clips: int, seed: int, noise: float = 0.3) -> tuple[pd.DataFrame, Reference]:
    """Frame scores of `n_clips` 10 s clips (one or two events each) and their labels; higher noise, worse system."""
    rng = np.random.default_rng(seed)
    frames, events = [], []
    onsets = np.arange(FRAMES) * HOP
    for i in range(n_clips):
        clip = f"clip{i:03d}"
        probs = rng.uniform(0, noise, (FRAMES, len(CLASSES)))
        for k in rng.choice(len(CLASSES), size=1 + i % 2, replace=False):
            onset = float(rng.integers(0, 30)) * HOP
            offset = onset + float(rng.integers(2, 10)) * HOP
            events.append((f"{clip}.wav", onset, offset, CLASSES[k]))
            probs[(onsets >= onset) & (onsets < offset), k] += rng.uniform(0.3, 0.7)
        frame = pd.DataFrame(np.clip(probs, 0, 1), columns=CLASSES)
        frame.insert(0, "offset", np.append(onsets[1:], FRAMES * HOP))
        frame.insert(0, "onset", onsets)
        frame.insert(0, "filename", clip)
        frames.append(frame)
    durations = pd.DataFrame({"filename": [f"clip{i:03d}.wav" for i in range(n_clips)], "duration": FRAMES * HOP})
    return (pd.concat(frames, ignore_index=True),
            Reference.from_tables(pd.DataFrame(events, columns=["filename", "onset", "offset", "event_label"]),
                                  durations))


@pytest.mark.parametrize("scenario", [PSDS_SCENARIO_1, PSDS_SCENARIO_2], ids=["psds1", "psds2"])
def test_equals_sed_scores_eval_on_every_resample(scenario) -> None:
    table, reference = fabricated(24, seed=0)
    clips = sorted(table["filename"].unique())
    evaluate = PsdsStatistic(reference, scenario).prepare(table, clips)
    scores = {clip: frame.drop(columns=["filename"]).reset_index(drop=True)
              for clip, frame in table.groupby("filename")}
    deltas = intersection_based.intermediate_statistics_deltas(
        scores=scores, ground_truth={c: list(reference.ground_truth[c]) for c in clips},
        dtc_threshold=scenario.dtc_threshold, gtc_threshold=scenario.gtc_threshold,
        cttc_threshold=scenario.cttc_threshold)
    whole = compute_sed_metrics(scores, reference.ground_truth, reference.durations, classes=CLASSES,
                                psds_scenarios={"x": scenario}).psds["x"]
    assert evaluate(np.arange(len(clips))) == pytest.approx(whole, abs=1e-12)
    for draw in clip_draws(len(clips), 8, seed=1):
        ids, sources = resampled_ids(draw, clips), [clips[i] for i in draw]
        expected, *_ = intersection_based.psds(
            scores=None, deltas={i: deltas[c] for i, c in zip(ids, sources)},
            ground_truth={i: list(reference.ground_truth[c]) for i, c in zip(ids, sources)},
            audio_durations={i: reference.durations[c] for i, c in zip(ids, sources)},
            dtc_threshold=scenario.dtc_threshold, gtc_threshold=scenario.gtc_threshold,
            cttc_threshold=scenario.cttc_threshold, alpha_ct=scenario.alpha_ct, alpha_st=scenario.alpha_st,
            max_efpr=scenario.max_efpr)
        assert evaluate(draw) == pytest.approx(expected, abs=1e-12)


def test_bootstrap_of_psds_finds_the_better_system() -> None:
    good, reference = fabricated(30, seed=2, noise=0.1)
    bad, _ = fabricated(30, seed=2, noise=0.6)
    result = paired_clip_bootstrap([bad], [good], PsdsStatistic(reference, PSDS_SCENARIO_1), n_resamples=60)
    assert result.diff > 0 and result.ci_low > 0 and result.p_value < 0.05
    same = paired_clip_bootstrap([good], [good], PsdsStatistic(reference, PSDS_SCENARIO_1), n_resamples=20)
    assert same.diff == 0 and same.p_value == 1.0


def test_scores_of_other_clips_are_refused() -> None:
    table, reference = fabricated(4, seed=0)
    other = Reference({"elsewhere": []}, {"elsewhere": 10.0})
    with pytest.raises(ValueError, match="4 scored clip\\(s\\) are not in the reference labels"):
        PsdsStatistic(other, PSDS_SCENARIO_1).prepare(table, sorted(table["filename"].unique()))
    assert reference.durations["clip000"] == 10.0
