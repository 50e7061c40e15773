from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sed_core.data.metadata import read_strong_tsv
from sed_core.errors import DataError
from sed_core.metrics.scores import audio_id, events_to_ground_truth, frame_scores_to_dataframe

CLASSES = ("Cat", "Dog")
HOP = 0.064  # DCASE baseline label hop: 156 frames for a 10 s clip


def test_full_clip_grid() -> None:
    probs = np.random.default_rng(0).random((156, 2))
    frame = frame_scores_to_dataframe(probs, frame_hop_s=HOP, duration_s=10.0, classes=CLASSES)
    assert list(frame.columns) == ["onset", "offset", "Cat", "Dog"]
    assert len(frame) == 156
    np.testing.assert_allclose(frame["onset"], np.arange(156) * HOP)
    np.testing.assert_allclose(frame["offset"], np.arange(1, 157) * HOP)
    assert frame["offset"].iloc[-1] == pytest.approx(9.984)
    np.testing.assert_array_equal(frame[["Cat", "Dog"]].to_numpy(), probs)


@pytest.mark.parametrize(("duration", "n_rows"), [(2.4, 38), (1.28, 20), (0.01, 1)])
def test_frames_past_the_duration_are_dropped(duration: float, n_rows: int) -> None:
    # 2.4 s: frame 37 starts at 2.368 and is kept (clipped to 2.4); frame 38 starts at 2.432 and is dropped
    probs = np.random.default_rng(1).random((156, 2))
    frame = frame_scores_to_dataframe(probs, frame_hop_s=HOP, duration_s=duration, classes=CLASSES)
    assert len(frame) == n_rows
    assert frame["offset"].iloc[-1] == duration
    assert frame["onset"].iloc[-1] < duration
    np.testing.assert_array_equal(frame[["Cat", "Dog"]].to_numpy(), probs[:n_rows])


def test_no_duration_keeps_all_frames_and_accepts_torch() -> None:
    probs = torch.rand(10, 2)
    frame = frame_scores_to_dataframe(probs, frame_hop_s=0.5, duration_s=None, classes=CLASSES)
    assert len(frame) == 10 and frame["offset"].iloc[-1] == 5.0
    np.testing.assert_allclose(frame["Dog"], probs[:, 1].double().numpy())


def test_rejects_wrong_class_count() -> None:
    with pytest.raises(ValueError, match=r"shape \(T, C=2\) .* got \(10, 3\)"):
        frame_scores_to_dataframe(np.zeros((10, 3)), frame_hop_s=HOP, duration_s=None, classes=CLASSES)


def test_rejects_scores_that_cover_only_part_of_the_clip() -> None:
    with pytest.raises(ValueError, match=r"156 frames of 0.064 s cover 9.984 s but the clip lasts 20.0 s"):
        frame_scores_to_dataframe(np.zeros((156, 2)), frame_hop_s=HOP, duration_s=20.0, classes=CLASSES)


def test_ground_truth_from_real_validation(desed_metadata_dir: Path) -> None:
    labels = read_strong_tsv(desed_metadata_dir / "validation" / "validation.tsv")
    ground_truth = events_to_ground_truth(labels.events, labels.filenames)
    assert len(ground_truth) == 1168
    assert sum(len(events) == 0 for events in ground_truth.values()) == 15
    assert ground_truth["YU0Cg_t_3TdI_30.000_40.000"] == []
    assert ground_truth["Y00pbt6aJV8Y_350.000_360.000"] == [(0.0, 9.971, "Vacuum_cleaner")]
    assert sum(len(events) for events in ground_truth.values()) == 4224
    assert not any(clip.endswith(".wav") for clip in ground_truth)


def test_ground_truth_rejects_events_of_unlisted_clips() -> None:
    events = pd.DataFrame({"filename": ["a.wav", "z.wav"], "onset": [0.0, 1.0], "offset": [1.0, 2.0],
                           "event_label": ["Cat", "Dog"]})
    with pytest.raises(DataError, match=r"1 clip\(s\) have events but are not in filenames: z\.wav"):
        events_to_ground_truth(events, ["a.wav", "b.wav"])


def test_audio_id_strips_only_wav() -> None:
    assert audio_id("Yabc_30.000_40.000.wav") == "Yabc_30.000_40.000"
    assert audio_id("Yabc_30.000_40.000") == "Yabc_30.000_40.000"
