"""The DCASE baseline CNN: conv 3x3 -> BatchNorm -> gating -> average pooling -> dropout, per block."""
from __future__ import annotations

import torch
from torch import nn

from sed_core.config.schema import CNNConfig
from sed_core.models.registries import ACTIVATIONS


class CNN(nn.Module):
    """(B, 1, T, F) -> (B, C_last, T // time_pool, F // freq_pool). Keys ``cnn.conv{i}``, ``cnn.batchnorm{i}``, ..."""

    def __init__(self, config: CNNConfig, in_channels: int = 1) -> None:
        super().__init__()
        make_activation = ACTIVATIONS.get(config.activation)
        layers = nn.Sequential()
        previous = in_channels
        for i, (channels, pool) in enumerate(zip(config.channels, config.pooling)):
            layers.add_module(
                f"conv{i}", nn.Conv2d(previous, channels, config.kernel_size, padding=config.kernel_size // 2)
            )
            layers.add_module(
                f"batchnorm{i}", nn.BatchNorm2d(channels, eps=config.batchnorm_eps, momentum=config.batchnorm_momentum)
            )
            layers.add_module(f"{config.activation}{i}", make_activation(channels))
            layers.add_module(f"dropout{i}", nn.Dropout(config.dropout))
            layers.add_module(f"pooling{i}", nn.AvgPool2d(tuple(pool)))
            previous = channels
        self.cnn = layers
        self.out_channels = previous
        self.time_pooling = [p[0] for p in config.pooling]
        self.freq_pooling = [p[1] for p in config.pooling]

    def output_frames(self, input_frames: int) -> int:
        for p in self.time_pooling:
            input_frames //= p
        return input_frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn(x)
