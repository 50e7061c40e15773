"""ASiT (Ahmed et al.): a ViT-B/16 over a Kaldi fbank, as fused into the DCASE CRNN by ASiT-CRNN.

Layout: tests/data/backbone_layouts/asit_vitb16.json (the wrapper's ``asit.v.*`` keys without prefix).
Official checkpoint: ``ckpt['teacher']`` with keys under ``backbone.`` (or ``module.backbone.``); the
pre-training heads ``head_cls.*`` / ``head_recons.*`` are not used. A checkpoint pre-trained on another patch
grid (592 frames at 32 kHz: pos_embed (1, 297, 768)) has its position embedding resized explicitly.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from sed_core.errors import CheckpointError
from sed_core.models.backbones.base import (
    Backbone,
    TokenGrid,
    frame_centers,
    valid_tokens,
)
from sed_core.models.backbones.kaldi_fbank import FbankSpec, KaldiFbank, patch_aligned_frames
from sed_core.models.backbones.official_checkpoint import (
    check_depth,
    load_strict,
    pick,
    read_checkpoint,
    strip_prefixes,
)
from sed_core.models.backbones.vit import (
    Block,
    PatchEmbed,
    drop_path_rates,
    resize_grid_embedding,
)

logger = logging.getLogger(__name__)

NORM_MEAN, NORM_STD = -4.2677393, 4.5689974


@dataclass(frozen=True)
class ViTSpec:
    dim: int
    depth: int
    heads: int
    patch: int = 16
    n_mels: int = 128
    target_frames: int | None = 1024  # None: the clip's fbank frames rounded up to whole patches


VARIANTS = {
    "base": ViTSpec(dim=768, depth=12, heads=12),
    "tiny": ViTSpec(dim=32, depth=2, heads=2, target_frames=None),
}


class ASiT(Backbone):
    """(B, S) -> fbank (B, frames, 128) -> tokens (B, frames/16, 8, D)."""

    CHECKPOINT_PREFIXES = ("module.backbone.", "backbone.")
    IGNORABLE = (r"(module\.)?head_cls\..*", r"(module\.)?head_recons\..*")

    def __init__(self, spec: ViTSpec, *, clip_samples: int, drop_path: float = 0.1) -> None:
        super().__init__()
        self.spec = spec
        self.embed_dim = spec.dim
        fbank = FbankSpec(n_mels=spec.n_mels, norm_mean=NORM_MEAN, norm_std=NORM_STD)
        frames = patch_aligned_frames(fbank, clip_samples, spec.patch, spec.target_frames)
        self.frontend = KaldiFbank(FbankSpec(**{**fbank.__dict__, "target_frames": frames}))
        self.grid = (frames // spec.patch, spec.n_mels // spec.patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, spec.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid[0] * self.grid[1], spec.dim))
        self.patch_embed = PatchEmbed(spec.dim, (spec.patch, spec.patch), (spec.patch, spec.patch))
        self.blocks = nn.ModuleList(Block(spec.dim, spec.heads, drop_path=r)
                                    for r in drop_path_rates(spec.depth, drop_path))
        self.norm = nn.LayerNorm(spec.dim, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.frontend(waveform)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(features.unsqueeze(1))  # (B, D, T', F')
        b, d, t, f = x.shape
        x = x.flatten(2).transpose(1, 2)  # (B, T'F', D), token t*F' + f
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 1:].reshape(b, t, f, d)

    def token_grid(self, n_samples: int) -> TokenGrid:
        fb = self.frontend
        centers = frame_centers(self.grid[0], self.spec.patch, fb.hop_s, fb.win_s)
        return TokenGrid(centers, valid_tokens(fb.real_frames(n_samples), self.spec.patch, self.grid[0]))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        embed = [self.cls_token, self.pos_embed, *self.patch_embed.parameters()]
        return [embed, *[list(b.parameters()) for b in self.blocks], list(self.norm.parameters())]

    def load_official(self, path: str | Path) -> None:
        state = strip_prefixes(pick(read_checkpoint(path), ("teacher",), path=path), self.CHECKPOINT_PREFIXES)
        self._check_architecture(state, path)
        pos = state.get("pos_embed")
        if pos is not None and pos.shape != self.pos_embed.shape:
            state = {**state, "pos_embed": self._resize_pos_embed(pos, path)}
        ignored = load_strict(self, state, source=str(path), ignorable=self.IGNORABLE,
                              hint="expected an official ASiT teacher (keys backbone.cls_token, backbone.blocks.*)")
        logger.info("loaded ASiT weights from %s (ignored %d pre-training head keys)", path, len(ignored))

    def _check_architecture(self, state: dict, path) -> None:
        w = state.get("patch_embed.proj.weight")
        if w is None:
            return  # load_strict names the missing keys
        if tuple(w.shape) != tuple(self.patch_embed.proj.weight.shape):
            raise CheckpointError(
                f"{path}: patch_embed.proj.weight is {tuple(w.shape)} (width {w.shape[0]}, {w.shape[1]} input "
                f"channel(s), patch {tuple(w.shape[2:])}) but model.backbone (asit, width {self.spec.dim}) expects "
                f"{tuple(self.patch_embed.proj.weight.shape)}; use the variant of that width or another checkpoint"
            )
        check_depth(state, "blocks.", self.spec.depth, path=path)

    def _resize_pos_embed(self, pos: torch.Tensor, path) -> torch.Tensor:
        n_patches = pos.shape[1] - 1
        freq = self.grid[1]
        if n_patches % freq:
            raise CheckpointError(f"{path}: pos_embed {tuple(pos.shape)} is not a grid of {freq} frequency patches "
                                  f"(is the checkpoint an ASiT over {self.spec.n_mels} mel bins?)")
        old = (n_patches // freq, freq)
        logger.info("ASiT checkpoint %s: resizing pos_embed from a %dx%d to a %dx%d (time x freq) patch grid "
                    "(bilinear, as the ASiT-CRNN reference code)", path, *old, *self.grid)
        # the reference's rule: bilinear (timm's bicubic gives tokens 1 % apart for a 592-frame checkpoint)
        return resize_grid_embedding(pos, old, self.grid, n_prefix=1, mode="bilinear")
