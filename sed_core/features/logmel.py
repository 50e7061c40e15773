"""The DCASE 2022 baseline front end: mel magnitude -> dB (clamped) -> per-clip min-max scaling."""
from __future__ import annotations

import torch
import torchaudio
from torch import nn

from sed_core.config.schema import FeaturesConfig


class LogMel(nn.Module):
    """(B, S) waveform at ``sample_rate`` -> (B, n_mels, T) features, T = 1 + S // hop_length."""

    def __init__(self, config: FeaturesConfig, sample_rate: int) -> None:
        super().__init__()
        self.config = config
        window_fn = torch.hamming_window if config.window == "hamming" else torch.hann_window
        # the filterbank is computed eagerly; build it on the CPU even under a meta-device model build
        with torch.device("cpu"):
            self.mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate,
                n_fft=config.n_fft,
                win_length=config.win_length,
                hop_length=config.hop_length,
                f_min=config.f_min,
                f_max=config.f_max,
                n_mels=config.n_mels,
                window_fn=window_fn,
                wkwargs={"periodic": False},
                power=1,
            )

    def n_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.config.hop_length

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        mel = self.mel(waveform)  # (B, n_mels, T)
        db = 20.0 * torch.log10(torch.clamp(mel, min=cfg.amin))
        db = db.clamp(cfg.db_min, cfg.db_max)
        if cfg.scaler == "none":
            return db
        lo = db.amin(dim=(1, 2), keepdim=True)
        hi = db.amax(dim=(1, 2), keepdim=True)
        return (db - lo) / (hi - lo + 1e-8)
