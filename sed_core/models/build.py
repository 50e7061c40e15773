"""The one place a model is built from a config."""
from __future__ import annotations

import torch
from torch import nn

from sed_core.config.schema import ExperimentConfig
from sed_core.models.registries import MODELS


def build_model(config: ExperimentConfig, *, device: str | torch.device = "cpu") -> nn.Module:
    """Build ``config.model.name``; on ``device="meta"`` this checks every shape without allocating weights."""
    builder = MODELS.get(config.model.name)
    with torch.device(device):
        return builder(config)


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
