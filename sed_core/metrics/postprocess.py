"""Post-processing of frame probabilities before scoring."""
from __future__ import annotations

from typing import Literal, TypeVar

import numpy as np
import scipy.ndimage
import torch

EdgeMode = Literal["nearest", "reflect"]
ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def median_filter(probs: ArrayT, window: int = 7, *, mode: EdgeMode = "nearest") -> ArrayT:
    """Median-filter frame probabilities over time, each class on its own.

    probs: (T, C) or (B, T, C), numpy array or torch tensor (any device); returns the same type, shape, dtype.
    window: odd number of frames (7 in the DCASE Task 4 baseline); 1 returns a copy.
    mode: the frames beyond the edges, as in ``scipy.ndimage.median_filter``: "nearest" repeats the edge frame
        (a a a | a b c), "reflect" mirrors including the edge (c b a | a b c); "reflect" is scipy's default and
        so what the DCASE 2022 baseline's ``scipy.ndimage.filters.median_filter(x, (7, 1))`` does.
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1 or window % 2 == 0:
        raise ValueError(f"window must be an odd number of frames >= 1 (e.g. 7), got {window!r}")
    if mode not in ("nearest", "reflect"):
        raise ValueError(f"mode must be 'nearest' or 'reflect', got {mode!r}")
    if probs.ndim not in (2, 3):
        raise ValueError(f"probs must have shape (T, C) or (B, T, C), got shape {tuple(probs.shape)}")
    time_axis = probs.ndim - 2
    if probs.shape[time_axis] == 0:
        return probs.clone() if isinstance(probs, torch.Tensor) else np.array(probs, copy=True)
    if isinstance(probs, torch.Tensor):
        return _median_filter_torch(probs, window, mode, time_axis)
    if isinstance(probs, np.ndarray):
        size = [1] * probs.ndim
        size[time_axis] = window
        return scipy.ndimage.median_filter(probs, size=tuple(size), mode=mode)
    raise TypeError(f"probs must be a numpy array or a torch tensor, got {type(probs).__name__}")


def _median_filter_torch(probs: torch.Tensor, window: int, mode: EdgeMode, time_axis: int) -> torch.Tensor:
    n_frames = probs.shape[time_axis]
    half = window // 2
    idx = _padded_indices(n_frames, half, mode)  # (T + 2*half,)
    padded = probs.index_select(time_axis, torch.as_tensor(idx, device=probs.device))
    windows = padded.unfold(time_axis, window, 1)  # (..., T, C, window)
    return windows.median(dim=-1).values  # odd window: the middle value, no tie rule needed


def _padded_indices(n_frames: int, half: int, mode: EdgeMode) -> np.ndarray:
    """Source frame of each position of the time axis padded by `half` frames on both sides."""
    positions = np.arange(-half, n_frames + half)
    if mode == "nearest":
        return np.clip(positions, 0, n_frames - 1)
    period = positions % (2 * n_frames)  # scipy "reflect": half-sample symmetric, period 2T
    return np.where(period < n_frames, period, 2 * n_frames - 1 - period)
