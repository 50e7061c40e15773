"""Kaldi-compatible log mel filterbanks (torchaudio.compliance.kaldi), the front end of the ViT audio encoders."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torchaudio
from torch import nn


@dataclass(frozen=True)
class FbankSpec:
    """One encoder's recipe: kaldi options, input scaling, normalisation and target length."""

    n_mels: int = 128
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    window_type: str = "hanning"
    htk_compat: bool = True
    use_energy: bool = False
    subtract_mean: bool = True  # wav - wav.mean() before the fbank (AST/ASiT recipe)
    waveform_scale: float = 1.0  # BEATs multiplies by 2**15
    norm_mean: float = 0.0
    norm_std: float = 0.5  # features are (x - mean) / (2 * std); 0.5 leaves them unscaled
    target_frames: int | None = None  # zero-pad or cut to this many frames (before normalising)


class KaldiFbank(nn.Module):
    """(B, S) waveform -> (B, T, n_mels) normalised log fbank, T = ``target_frames`` when set."""

    def __init__(self, spec: FbankSpec, sample_rate: int = 16000) -> None:
        super().__init__()
        self.spec = spec
        self.sample_rate = sample_rate

    @property
    def hop_s(self) -> float:
        return self.spec.frame_shift_ms / 1000

    @property
    def win_s(self) -> float:
        return self.spec.frame_length_ms / 1000

    def real_frames(self, n_samples: int) -> int:
        """Frames kaldi computes for ``n_samples`` (snip_edges): 1 + (S - window) // shift."""
        win = int(self.sample_rate * self.win_s)
        hop = int(self.sample_rate * self.hop_s)
        return 1 + (n_samples - win) // hop if n_samples >= win else 0

    def n_frames(self, n_samples: int) -> int:
        return self.spec.target_frames or self.real_frames(n_samples)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = self.spec
        rows = []
        for wav in waveform.float():
            if spec.subtract_mean:
                wav = wav - wav.mean()
            fbank = torchaudio.compliance.kaldi.fbank(
                (wav * spec.waveform_scale).unsqueeze(0), htk_compat=spec.htk_compat,
                sample_frequency=self.sample_rate, use_energy=spec.use_energy, window_type=spec.window_type,
                num_mel_bins=spec.n_mels, dither=0.0, frame_length=spec.frame_length_ms,
                frame_shift=spec.frame_shift_ms,
            )
            if spec.target_frames is not None:
                pad = spec.target_frames - fbank.shape[0]
                fbank = nn.functional.pad(fbank, (0, 0, 0, pad)) if pad > 0 else fbank[: spec.target_frames]
            rows.append(fbank)
        return (torch.stack(rows) - spec.norm_mean) / (2 * spec.norm_std)


def patch_aligned_frames(spec: FbankSpec, clip_samples: int, patch: int, target_frames: int | None) -> int:
    """``target_frames`` when set (an official fixed length), else the clip's frames rounded up to whole patches."""
    if target_frames is not None:
        return target_frames
    return -(-KaldiFbank(spec).real_frames(clip_samples) // patch) * patch
