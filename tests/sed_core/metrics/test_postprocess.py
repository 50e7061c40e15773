from __future__ import annotations

import statistics

import numpy as np
import pytest
import scipy.ndimage
import torch

from sed_core.metrics.postprocess import median_filter


def reference_median_filter(probs: np.ndarray, window: int, mode: str) -> np.ndarray:
    """Slow, obvious median filter over axis -2 of (T, C) or (B, T, C), frame by frame."""
    batched = probs if probs.ndim == 3 else probs[None]
    n_frames = batched.shape[1]
    out = np.empty_like(batched)
    for b in range(batched.shape[0]):
        for c in range(batched.shape[2]):
            for t in range(n_frames):
                values = []
                for j in range(t - window // 2, t + window // 2 + 1):
                    if mode == "nearest":
                        j = min(max(j, 0), n_frames - 1)
                    else:  # reflect about the outer edge of the first/last frame: c b a | a b c | c b a
                        while not 0 <= j < n_frames:
                            j = -j - 1 if j < 0 else 2 * n_frames - 1 - j
                    values.append(batched[b, j, c])
                out[b, t, c] = statistics.median(values)
    return out if probs.ndim == 3 else out[0]


@pytest.mark.parametrize("mode", ["nearest", "reflect"])
@pytest.mark.parametrize("window", [1, 3, 7, 9])
@pytest.mark.parametrize("shape", [(1, 2), (2, 3), (4, 2), (7, 1), (20, 3), (2, 5, 3), (3, 31, 10)])
def test_matches_reference(shape: tuple[int, ...], window: int, mode: str) -> None:
    probs = np.random.default_rng(sum(shape) + window).random(shape).astype(np.float32)
    expected = reference_median_filter(probs, window, mode)
    from_numpy = median_filter(probs, window, mode=mode)
    from_torch = median_filter(torch.from_numpy(probs), window, mode=mode)
    assert isinstance(from_numpy, np.ndarray) and from_numpy.dtype == np.float32
    assert isinstance(from_torch, torch.Tensor) and from_torch.dtype == torch.float32
    np.testing.assert_array_equal(from_numpy, expected)
    np.testing.assert_array_equal(from_torch.numpy(), expected)


def test_known_values_and_edge_modes() -> None:
    probs = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0])[:, None]
    # an isolated frame is removed, a one-frame gap is filled
    np.testing.assert_array_equal(median_filter(probs, 3)[:, 0], [1, 0, 0, 1, 1, 1, 1])
    # frame 0 with window 5: nearest sees 1 1 [1] 0 0 -> 1, reflect sees 0 1 [1] 0 0 -> 0
    assert median_filter(probs, 5, mode="nearest")[0, 0] == 1.0
    assert median_filter(probs, 5, mode="reflect")[0, 0] == 0.0


def test_reflect_is_the_dcase_baseline_call() -> None:
    # DCASE 2022 baseline: scipy.ndimage.filters.median_filter(pred, (median_filter, 1)), default mode
    probs = np.random.default_rng(0).random((156, 10))
    np.testing.assert_array_equal(median_filter(probs, 7, mode="reflect"), scipy.ndimage.median_filter(probs, (7, 1)))


def test_batch_items_and_classes_are_independent() -> None:
    probs = torch.zeros(2, 9, 2)
    probs[0, 3:6, 1] = 1.0  # three active frames survive a window of 3 on this item and class only
    out = median_filter(probs, 3)
    assert torch.equal(out, probs)
    probs[1, 4, 0] = 1.0  # one isolated frame disappears
    assert median_filter(probs, 3)[1].sum() == 0


@pytest.mark.parametrize("window", [0, 2, -3, 1.0])
def test_rejects_bad_window(window: object) -> None:
    with pytest.raises(ValueError, match="window must be an odd number of frames >= 1"):
        median_filter(np.zeros((5, 2)), window)  # type: ignore[arg-type]


def test_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match=r"shape \(T, C\) or \(B, T, C\), got shape \(5,\)"):
        median_filter(np.zeros(5), 3)
