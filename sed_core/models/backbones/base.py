"""The contract every SSL backbone meets, so FAP, alignment, fusion and freeze schedules work on any of them.

A backbone owns its front end (``features``: waveform -> what mixup mixes and what it encodes) and its encoder
(``forward``: features -> a token grid (B, T', F', D), time-major, F' = 1 when the encoder has only time
tokens). Its parameters sit under the official key names, so the official checkpoint maps onto
``state_dict()`` by a prefix rule (``load_official``), strictly: every key is used or listed as ignorable.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class TokenGrid:
    """Where the time tokens of a clip sit: centre of each token in seconds, and how many cover real audio."""

    centers_s: torch.Tensor  # (T',) float64, increasing
    n_valid: int  # tokens 0..n_valid-1 lie (mostly) on the clip; the rest cover padding


class Backbone(nn.Module):
    """Base class of the SSL encoders. Subclasses set ``embed_dim`` and implement the four methods below."""

    embed_dim: int = 768
    sample_rate: int = 16000

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) waveform at 16 kHz -> the encoder's input features (B, ...), padded or cut to its grid."""
        raise NotImplementedError

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features -> token grid (B, T', F', D), time-major; F' = 1 for time-only encoders."""
        raise NotImplementedError

    def token_grid(self, n_samples: int) -> TokenGrid:
        """Timestamps of the T' time tokens for a clip of ``n_samples`` samples (before padding)."""
        raise NotImplementedError

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Trainable parameters in groups from input to output (embeddings, block 0, ..., final norm).

        Layer-wise learning-rate decay and gradual unfreezing walk these from the top; every parameter of the
        backbone is in exactly one group.
        """
        raise NotImplementedError

    def load_official(self, path) -> None:
        """Load the official checkpoint at ``path`` strictly (see ``official_checkpoint.load_strict``)."""
        raise NotImplementedError


def frame_centers(n_tokens: int, frames_per_token: int, hop_s: float, win_s: float) -> torch.Tensor:
    """Centre times (s) of tokens that each cover ``frames_per_token`` consecutive analysis frames.

    Frame i of a front end with hop ``hop_s`` and window ``win_s`` spans [i * hop, i * hop + win]; a token
    covering frames k*P .. k*P + P - 1 is centred at (k*P + (P - 1) / 2) * hop + win / 2.
    """
    k = torch.arange(n_tokens, dtype=torch.float64)
    return (k * frames_per_token + (frames_per_token - 1) / 2) * hop_s + win_s / 2


def valid_tokens(n_real_frames: int, frames_per_token: int, n_tokens: int) -> int:
    """Tokens whose centre frame lies on real (unpadded) frames."""
    n = 0
    for k in range(n_tokens):
        if k * frames_per_token + (frames_per_token - 1) / 2 < n_real_frames:
            n = k + 1
    return max(n, 1)
