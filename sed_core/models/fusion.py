"""How the aligned SSL embeddings (B, T, D_ssl) join the CNN features (B, T, D_cnn) before the RNN."""
from __future__ import annotations

import torch
from torch import nn

from sed_core.errors import ConfigError
from sed_core.models.registries import FUSIONS


@FUSIONS.register("concat")
class ConcatFusion(nn.Module):
    """The paper's: Linear(cat(cnn, ssl)) -> D_cnn (ASiT-CRNN's ``cat_tf``)."""

    def __init__(self, cnn_dim: int, ssl_dim: int, heads: int) -> None:
        super().__init__()
        self.out_dim = cnn_dim
        self.proj = nn.Linear(cnn_dim + ssl_dim, cnn_dim)

    def forward(self, cnn: torch.Tensor, ssl: torch.Tensor | None) -> torch.Tensor:
        return self.proj(torch.cat([cnn, ssl], dim=-1))


@FUSIONS.register("cnn_only")
class CNNOnly(nn.Module):
    """No SSL branch: the CRNN baseline (no parameters, so DESED_task CRNN checkpoints load unchanged)."""

    def __init__(self, cnn_dim: int, ssl_dim: int, heads: int) -> None:
        super().__init__()
        self.out_dim = cnn_dim

    def forward(self, cnn: torch.Tensor, ssl: torch.Tensor | None) -> torch.Tensor:
        return cnn


@FUSIONS.register("ssl_only")
class SSLOnly(nn.Module):
    """The SSL embeddings alone, projected to D_cnn; the CNN branch is not used."""

    def __init__(self, cnn_dim: int, ssl_dim: int, heads: int) -> None:
        super().__init__()
        self.out_dim = cnn_dim
        self.proj = nn.Linear(ssl_dim, cnn_dim)

    def forward(self, cnn: torch.Tensor, ssl: torch.Tensor | None) -> torch.Tensor:
        return self.proj(ssl)


@FUSIONS.register("sum")
class SumFusion(nn.Module):
    """cnn + Linear(ssl): the SSL embeddings projected to D_cnn and added."""

    def __init__(self, cnn_dim: int, ssl_dim: int, heads: int) -> None:
        super().__init__()
        self.out_dim = cnn_dim
        self.proj = nn.Linear(ssl_dim, cnn_dim)

    def forward(self, cnn: torch.Tensor, ssl: torch.Tensor | None) -> torch.Tensor:
        return cnn + self.proj(ssl)


@FUSIONS.register("gated")
class GatedFusion(nn.Module):
    """g * cnn + (1 - g) * Linear(ssl), g = sigmoid(Linear(cat(cnn, ssl))) per frame and feature."""

    def __init__(self, cnn_dim: int, ssl_dim: int, heads: int) -> None:
        super().__init__()
        self.out_dim = cnn_dim
        self.proj = nn.Linear(ssl_dim, cnn_dim)
        self.gate = nn.Linear(cnn_dim + ssl_dim, cnn_dim)

    def forward(self, cnn: torch.Tensor, ssl: torch.Tensor | None) -> torch.Tensor:
        g = torch.sigmoid(self.gate(torch.cat([cnn, ssl], dim=-1)))
        return g * cnn + (1 - g) * self.proj(ssl)


@FUSIONS.register("cross_attention")
class CrossAttentionFusion(nn.Module):
    """CNN frames attend over the projected SSL frames: LayerNorm(cnn + MHA(q=cnn, k=v=Linear(ssl)))."""

    def __init__(self, cnn_dim: int, ssl_dim: int, heads: int) -> None:
        super().__init__()
        if cnn_dim % heads:
            raise ConfigError(f"model.fusion.heads must divide the CNN feature size {cnn_dim}, got {heads}")
        self.out_dim = cnn_dim
        self.proj = nn.Linear(ssl_dim, cnn_dim)
        self.attention = nn.MultiheadAttention(cnn_dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(cnn_dim)

    def forward(self, cnn: torch.Tensor, ssl: torch.Tensor | None) -> torch.Tensor:
        memory = self.proj(ssl)
        attended, _ = self.attention(cnn, memory, memory, need_weights=False)
        return self.norm(cnn + attended)
