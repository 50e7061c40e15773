"""The DCASE 2022 Task 4 baseline CRNN: CNN -> BiGRU -> frame head + weak pooling.

Keys follow DESED_task's ``CRNN`` (``cnn.cnn.conv0.weight``, ``rnn.rnn.weight_ih_l0``, ``dense.weight``) so a
paper-size instance has its 1,112,420 parameters in the same places.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from sed_core.config.schema import ExperimentConfig
from sed_core.features.logmel import LogMel
from sed_core.models.cnn import CNN
from sed_core.models.output import SEDOutput
from sed_core.models.registries import MODELS, POOLINGS


class BidirectionalGRU(nn.Module):
    def __init__(self, n_in: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.GRU(n_in, hidden_size, num_layers=num_layers, bidirectional=True, batch_first=True,
                          dropout=dropout if num_layers > 1 else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, 2 * hidden_size)."""
        return self.rnn(x)[0]


class CRNN(nn.Module):
    """Waveform (B, S) -> inputs {"mel": (B, n_mels, T)} -> strong (B, T', C), weak (B, C)."""

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__()
        mcfg = config.model
        n_classes = len(config.data.classes)
        self.sample_rate = config.data.sample_rate
        self.frontend = LogMel(config.features, config.data.sample_rate)
        self.cnn = CNN(mcfg.cnn)
        freq_out = config.features.n_mels // math.prod(self.cnn.freq_pooling)
        self.rnn = BidirectionalGRU(self.cnn.out_channels * freq_out, mcfg.rnn.hidden_size, mcfg.rnn.num_layers,
                                    mcfg.rnn.dropout_recurrent)
        self.dropout = nn.Dropout(mcfg.dropout)
        self.dense = nn.Linear(2 * mcfg.rnn.hidden_size, n_classes)
        self.pooling = POOLINGS.get(mcfg.pooling)(2 * mcfg.rnn.hidden_size, n_classes)
        self.frame_hop_s = config.features.hop_length * math.prod(self.cnn.time_pooling) / self.sample_rate

    def inputs(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, S) -> the model's named input features (what mixup mixes)."""
        return {"mel": self.frontend(waveform)}

    def output_frames(self, n_samples: int) -> int:
        return self.cnn.output_frames(self.frontend.n_frames(n_samples))

    def forward(self, inputs: dict[str, torch.Tensor]) -> SEDOutput:
        x = inputs["mel"].transpose(1, 2).unsqueeze(1)  # (B, 1, T, F)
        x = self.cnn(x)  # (B, C, T', F')
        b, c, t, f = x.shape
        x = x.permute(0, 2, 1, 3).reshape(b, t, c * f)  # (B, T', C*F')
        x = self.dropout(self.rnn(x))  # (B, T', 2H)
        strong = torch.sigmoid(self.dense(x))  # (B, T', n_classes)
        weak = self.pooling(x, strong)  # (B, n_classes)
        return SEDOutput(strong=strong, weak=weak)


MODELS.register("crnn")(CRNN)
