"""Pre-norm ViT parts under timm's key names (``blocks.{i}.norm1``, ``attn.qkv``, ``mlp.fc1`` ...).

ASiT, SSAST and AudioMAE all use this block; their checkpoints load into it key for key.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class DropPath(nn.Module):
    """Stochastic depth per sample (drop the residual branch with probability ``p`` in training)."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # (B, H, N, d_head)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """x + DropPath(Attn(LN(x))); x + DropPath(MLP(LN(x)))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_path: float = 0.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    """Conv2d patchify of a (B, 1, H, W) input -> (B, D, H', W'); key ``patch_embed.proj``."""

    def __init__(self, dim: int, patch: tuple[int, int], stride: tuple[int, int], in_chans: int = 1) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def drop_path_rates(depth: int, rate: float) -> list[float]:
    """timm's linearly increasing stochastic depth over the blocks."""
    return [rate * i / max(depth - 1, 1) for i in range(depth)]


def resize_grid_embedding(pos: torch.Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int],
                          n_prefix: int, *, mode: str = "bicubic") -> torch.Tensor:
    """Resize a (1, n_prefix + H*W, D) row-major position embedding to another (H, W) patch grid (``mode``:
    timm's bicubic, or the bilinear of a model's reference code), corners not aligned."""
    prefix, grid = pos[:, :n_prefix], pos[:, n_prefix:]
    d = grid.shape[-1]
    grid = grid.reshape(1, old_grid[0], old_grid[1], d).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=new_grid, mode=mode, align_corners=False)
    return torch.cat([prefix, grid.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], d)], dim=1)
