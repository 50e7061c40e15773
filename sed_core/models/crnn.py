"""The CRNN of the DCASE 2022 Task 4 baseline, with an optional SSL branch fused in (ASiT-CRNN and relatives).

CNN -> [fusion with FAP-pooled, time-aligned SSL tokens] -> BiGRU -> frame head + weak pooling.
Keys follow DESED_task's ``CRNN`` (``cnn.cnn.conv0.weight``, ``rnn.rnn.weight_ih_l0``, ``dense.weight``), so
without a backbone a paper-size instance has its 1,112,420 parameters in the same places; the backbone sits
under ``backbone.`` with its official key names, the fusion under ``fusion.``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from sed_core.config.schema import ExperimentConfig
from sed_core.errors import ConfigError
from sed_core.features.logmel import LogMel
from sed_core.models.alignment import align, frequency_average
from sed_core.models.cnn import CNN
from sed_core.models.output import SEDOutput
from sed_core.models.registries import BACKBONES, FUSIONS, MODELS, POOLINGS


class BidirectionalGRU(nn.Module):
    def __init__(self, n_in: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.GRU(n_in, hidden_size, num_layers=num_layers, bidirectional=True, batch_first=True,
                          dropout=dropout if num_layers > 1 else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, 2 * hidden_size)."""
        return self.rnn(x)[0]


class CRNN(nn.Module):
    """Waveform (B, S) -> inputs {"mel": (B, n_mels, T)[, "ssl": backbone features]} -> SEDOutput."""

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__()
        mcfg = config.model
        n_classes = len(config.data.classes)
        self.sample_rate = config.data.sample_rate
        self.clip_samples = int(round(config.data.clip_seconds * config.data.sample_rate))
        self.frontend = LogMel(config.features, config.data.sample_rate)
        # ssl_only fusion reads no CNN features: no CNN is built, the CNN's pooling still sets the frame grid
        self.cnn = CNN(mcfg.cnn) if mcfg.fusion.name != "ssl_only" else None
        self.time_pooling = [p[0] for p in mcfg.cnn.pooling]
        freq_out = config.features.n_mels // math.prod(p[1] for p in mcfg.cnn.pooling)
        cnn_dim = mcfg.cnn.channels[-1] * freq_out
        self.backbone = self._build_backbone(config) if mcfg.backbone.enabled else None
        # the ASiT-CRNN reference code runs the SSL encoder under fp16 autocast, the rest of the model in fp32
        self.encoder_fp16 = config.training.precision == "fp16_encoder"
        if self.encoder_fp16 and self.backbone is None:
            raise ConfigError("training.precision: fp16_encoder autocasts the SSL encoder, and this model has none "
                              "(model.backbone.name: none); use fp32, bf16 or fp16")
        self.backbone_mode = mcfg.backbone.mode
        self.alignment = mcfg.backbone.alignment
        self.frequency_pooling = mcfg.backbone.ssast_pooling if mcfg.backbone.name == "ssast" else "mean"
        ssl_dim = self.backbone.embed_dim if self.backbone is not None else 0
        self.fusion = FUSIONS.get(mcfg.fusion.name)(cnn_dim, ssl_dim, mcfg.fusion.heads)
        self.rnn = BidirectionalGRU(self.fusion.out_dim, mcfg.rnn.hidden_size, mcfg.rnn.num_layers,
                                    mcfg.rnn.dropout_recurrent)
        self.dropout = nn.Dropout(mcfg.dropout)
        self.dense = nn.Linear(2 * mcfg.rnn.hidden_size, n_classes)
        self.pooling = POOLINGS.get(mcfg.pooling)(2 * mcfg.rnn.hidden_size, n_classes)
        self.time_pool = math.prod(self.time_pooling)
        self.frame_hop_s = config.features.hop_length * self.time_pool / self.sample_rate
        self.embedding_cache = None  # set by the trainer for a frozen, deterministic backbone

    def _build_backbone(self, config: ExperimentConfig) -> nn.Module:
        bcfg = config.model.backbone
        backbone = BACKBONES.get(bcfg.name).build(bcfg.variant, clip_samples=self.clip_samples,
                                                  drop_path=bcfg.drop_path)
        if backbone.sample_rate != self.sample_rate:
            raise ConfigError(f"data.sample_rate: the {bcfg.name} backbone expects {backbone.sample_rate} Hz audio "
                              f"but the data is {self.sample_rate} Hz; resample the data (sedstudy prepare-desed)")
        return backbone

    def inputs(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, S) -> the model's named input features (what mixup mixes).

        With an embedding cache attached (a frozen, deterministic backbone) the SSL branch arrives as its
        FAP-pooled tokens ("ssl_tokens", read from or written to the cache) instead of front-end features.
        """
        named = {"mel": self.frontend(waveform)}
        if self.backbone is not None and self.embedding_cache is not None:
            named["ssl_tokens"] = self.embedding_cache.tokens(waveform, self._tokens_of_waveform)
        elif self.backbone is not None:
            named["ssl"] = self.backbone.features(waveform)
        return named

    @torch.no_grad()
    def _tokens_of_waveform(self, waveform: torch.Tensor) -> torch.Tensor:
        return frequency_average(self.encode(self.backbone.features(waveform)), self.frequency_pooling)

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        """The backbone's tokens of its features, in fp32; under fp16 autocast with training.precision:
        fp16_encoder."""
        if not self.encoder_fp16:  # as it is (on the meta device too, where autocast does not exist)
            return self.backbone(features)
        with torch.autocast(device_type=features.device.type, dtype=torch.float16):
            tokens = self.backbone(features)
        return tokens.float()

    def output_frames(self, n_samples: int) -> int:
        return self.output_frames_of(self.frontend.n_frames(n_samples))

    def frame_times(self, n_frames: int) -> torch.Tensor:
        """Centre (s) of each CNN output frame: the mel frames it pools, STFT frames centred at k * hop."""
        hop_s = self.frontend.config.hop_length / self.sample_rate
        return (torch.arange(n_frames, dtype=torch.float64) * self.time_pool + (self.time_pool - 1) / 2) * hop_s

    def train(self, mode: bool = True) -> CRNN:
        super().train(mode)
        if self.backbone is not None and self.backbone_mode == "eval":
            self.backbone.eval()
        return self

    def output_frames_of(self, mel_frames: int) -> int:
        for p in self.time_pooling:
            mel_frames //= p
        return mel_frames

    def cnn_frames(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, T) -> (B, T', C * F')."""
        x = self.cnn(mel.transpose(1, 2).unsqueeze(1))  # (B, C, T', F')
        b, c, t, f = x.shape
        return x.permute(0, 2, 1, 3).reshape(b, t, c * f)

    def ssl_frames(self, features: torch.Tensor, n_frames: int, *, pooled: bool = False) -> torch.Tensor:
        """Backbone features -> tokens -> FAP -> (B, n_frames, D) aligned to the CNN frames.

        ``pooled``: ``features`` are already FAP-pooled tokens (B, T', D) (from the embedding cache).
        """
        if pooled:
            tokens = features
        else:
            trainable = any(p.requires_grad for p in self.backbone.parameters())
            with torch.set_grad_enabled(trainable and torch.is_grad_enabled()):
                tokens = frequency_average(self.encode(features), self.frequency_pooling)
        grid = self.backbone.token_grid(self.clip_samples)
        return align(tokens, grid, self.frame_times(n_frames), self.alignment)

    def forward(self, inputs: dict[str, torch.Tensor]) -> SEDOutput:
        mel = inputs["mel"]
        t = self.output_frames_of(mel.shape[-1])
        x = self.cnn_frames(mel) if self.cnn is not None else None  # (B, T', C*F')
        if self.backbone is None:
            ssl = None
        elif "ssl_tokens" in inputs:
            ssl = self.ssl_frames(inputs["ssl_tokens"], t, pooled=True)
        else:
            ssl = self.ssl_frames(inputs["ssl"], t)
        x = self.fusion(x, ssl)
        x = self.dropout(self.rnn(x))  # (B, T', 2H)
        strong = torch.sigmoid(self.dense(x))  # (B, T', n_classes)
        weak = self.pooling(x, strong)  # (B, n_classes)
        return SEDOutput(strong=strong, weak=weak)


MODELS.register("crnn")(CRNN)
