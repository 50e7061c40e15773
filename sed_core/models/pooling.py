"""Weak (clip-level) pooling of frame probabilities: the heads that turn (B, T, C) into (B, C)."""
from __future__ import annotations

import torch
from torch import nn

from sed_core.models.registries import POOLINGS


@POOLINGS.register("attention")
class AttentionPooling(nn.Module):
    """DCASE baseline: softmax over classes of a second head, weighted mean of strong probs over time.

    Key ``dense_softmax`` as in the baseline so its checkpoints load.
    """

    def __init__(self, in_features: int, n_classes: int) -> None:
        super().__init__()
        self.dense_softmax = nn.Linear(in_features, n_classes)

    def forward(self, features: torch.Tensor, strong: torch.Tensor) -> torch.Tensor:
        """features (B, T, D), strong (B, T, C) probabilities -> weak (B, C)."""
        weights = torch.softmax(self.dense_softmax(features), dim=-1).clamp(min=1e-7, max=1.0)
        return (strong * weights).sum(dim=1) / weights.sum(dim=1)


@POOLINGS.register("mean")
class MeanPooling(nn.Module):
    def __init__(self, in_features: int, n_classes: int) -> None:
        super().__init__()

    def forward(self, features: torch.Tensor, strong: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, C)."""
        return strong.mean(dim=1)


@POOLINGS.register("max")
class MaxPooling(nn.Module):
    def __init__(self, in_features: int, n_classes: int) -> None:
        super().__init__()

    def forward(self, features: torch.Tensor, strong: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, C)."""
        return strong.amax(dim=1)


@POOLINGS.register("linear_softmax")
class LinearSoftmaxPooling(nn.Module):
    """sum(p^2) / sum(p) over time (Wang et al., 2019)."""

    def __init__(self, in_features: int, n_classes: int) -> None:
        super().__init__()

    def forward(self, features: torch.Tensor, strong: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, C)."""
        return (strong * strong).sum(dim=1) / strong.sum(dim=1).clamp(min=1e-7)


@POOLINGS.register("auto_pool")
class AutoPooling(nn.Module):
    """Softmax-weighted mean with a learned per-class sharpness alpha (McFee et al., 2018)."""

    def __init__(self, in_features: int, n_classes: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(n_classes))

    def forward(self, features: torch.Tensor, strong: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, C)."""
        weights = torch.softmax(strong * self.alpha, dim=1)
        return (strong * weights).sum(dim=1)
