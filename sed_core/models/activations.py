"""Gating activations of the CNN blocks: GLU (DCASE baseline) and context gating (ASiT-CRNN)."""
from __future__ import annotations

import torch
from torch import nn

from sed_core.models.registries import ACTIVATIONS


class GLU(nn.Module):
    """Linear(x) * sigmoid(x) over channels, exactly as the DCASE baseline's ``GLU`` (key ``linear``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, F) -> (B, C, T, F)."""
        lin = self.linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return lin * torch.sigmoid(x)


class ContextGating(nn.Module):
    """x * sigmoid(Linear(x)) over channels, as ASiT-CRNN's ``ContextGating`` (key ``linear``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, F) -> (B, C, T, F)."""
        gate = self.linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return x * torch.sigmoid(gate)


ACTIVATIONS.register("glu")(GLU)
ACTIVATIONS.register("cg")(ContextGating)
ACTIVATIONS.register("relu")(lambda channels: nn.ReLU())
