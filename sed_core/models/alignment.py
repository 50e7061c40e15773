"""Frequency-averaged pooling (FAP) and time alignment of SSL tokens to the CNN's frames.

Tokens are placed by their timestamps over the valid (unpadded) span, and each CNN frame takes the nearest
token (the paper's NNI) or interpolates linearly between its two neighbours. ``padded_linear`` is the
reference code's mapping (linear interpolation of all tokens, padding included, onto the frame count), kept
for comparison: it drifts by up to a quarter of a second at the end of a 10 s clip (DESIGN.md, flaw 3).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from sed_core.models.backbones.base import TokenGrid

ALIGNMENTS = ("nearest", "linear", "padded_linear")


FREQUENCY_POOLINGS = ("mean", "reference_avgpool")


def frequency_average(tokens: torch.Tensor, rule: str = "mean") -> torch.Tensor:
    """FAP: (B, T', F', D) -> (B, T', D). ``reference_avgpool``: SSAST's reference wrapper, ``AvgPool2d([F', 1],
    padding=[1, 0])`` over the frequency patches, which averages a zero row in and the last patch out: the sum of
    patches 0..F'-2 over F'."""
    if rule == "mean":
        return tokens.mean(dim=2)
    if rule == "reference_avgpool":
        return tokens[:, :, :-1].sum(dim=2) / tokens.shape[2]
    raise ValueError(f"frequency pooling {rule!r}: expected one of {FREQUENCY_POOLINGS}")


def alignment_weights(grid: TokenGrid, frame_times: torch.Tensor, mode: str
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each frame: indices of its left and right token and the weight of the right one.

    The output is ``(1 - w) * token[left] + w * token[right]``; nearest sets w to 0 with left = nearest token.
    """
    if mode not in ("nearest", "linear"):
        raise ValueError(f"alignment {mode!r}: expected one of {ALIGNMENTS}")
    centers = grid.centers_s[: grid.n_valid].double()
    t = frame_times.double()
    if mode == "nearest":
        nearest = (t[:, None] - centers[None, :]).abs().argmin(dim=1)  # ties go to the earlier token
        return nearest, nearest, torch.zeros_like(t)
    right = torch.searchsorted(centers, t, right=True).clamp(1, max(len(centers) - 1, 1))
    left = right - 1
    if len(centers) == 1:
        return torch.zeros_like(right), torch.zeros_like(right), torch.zeros_like(t)
    w = ((t - centers[left]) / (centers[right] - centers[left])).clamp(0.0, 1.0)
    return left, right, w


def align(tokens: torch.Tensor, grid: TokenGrid, frame_times: torch.Tensor, mode: str) -> torch.Tensor:
    """(B, T', D) tokens -> (B, T, D) on the frames at ``frame_times`` (seconds)."""
    if mode == "padded_linear":
        return F.interpolate(tokens.transpose(1, 2), size=len(frame_times), mode="linear",
                             align_corners=False).transpose(1, 2)
    left, right, w = alignment_weights(grid, frame_times, mode)
    w = w.to(tokens.dtype).to(tokens.device)[None, :, None]
    return (1 - w) * tokens[:, left.to(tokens.device)] + w * tokens[:, right.to(tokens.device)]
