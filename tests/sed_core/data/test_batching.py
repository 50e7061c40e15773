from __future__ import annotations

import numpy as np

from sed_core.data.dataset import MultiSourceBatchSampler, collate
from sed_core.data.labels import LabelEncoder


def test_label_encoder_frames_cover_onset_to_offset():
    enc = LabelEncoder(("A", "B"), frame_hop_s=0.064, n_frames=156)
    target = enc.strong([(0.1, 0.3, "A"), (9.9, 12.0, "B")])
    assert target.shape == (156, 2)
    assert np.flatnonzero(target[:, 0]).tolist() == [1, 2, 3, 4]  # floor(0.1/.064)=1 .. ceil(0.3/.064)=5
    assert np.flatnonzero(target[:, 1]).tolist() == [154, 155]
    assert enc.weak(["B"]).tolist() == [0.0, 1.0]


def test_batch_sampler_composition_and_replay():
    sampler = MultiSourceBatchSampler([10, 40, 7], [2, 4, 1], seed=5)
    assert len(sampler) == 5  # smallest source: 10 // 2
    sampler.set_epoch(3)
    first = list(sampler)
    for batch in first:
        assert len(batch) == 7
        assert all(0 <= i < 10 for i in batch[:2]) and all(10 <= i < 50 for i in batch[2:6])
        assert all(50 <= i < 57 for i in batch[6:])
    again = MultiSourceBatchSampler([10, 40, 7], [2, 4, 1], seed=5)
    again.set_epoch(3)
    assert list(again) == first
    again.set_epoch(4)
    assert list(again) != first


def test_collate_builds_named_masks():
    def item(source: str) -> dict:
        return {"audio": np.zeros(8, np.float32), "strong": np.zeros((2, 3), np.float32),
                "weak": np.zeros(3, np.float32), "valid_samples": 8, "source": source, "filename": "a.wav"}

    batch = collate([item("synthetic_train"), item("weak_train"), item("unlabelled_train")])
    assert batch.mask["strong"].tolist() == [True, False, False]
    assert batch.mask["weak"].tolist() == [False, True, False]
    assert batch.mask["unlabelled_train"].tolist() == [False, False, True]
