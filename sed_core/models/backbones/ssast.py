"""SSAST (Gong et al., AAAI 2022), the 16x16 patch model ("SSAST-Base-Patch-400"), as compared in ASiT-CRNN.

Layout: tests/data/backbone_layouts/ssast_patch_base.json (the reference wrapper's ``ssast.`` keys without
that prefix: ``v.cls_token``, ``v.pos_embed``, ``v.dist_token``, ``v.patch_embed.proj``, ``v.blocks.*``,
``v.norm``). The official code (YuanGongND/ssast ``ASTModel``) is a timm DeiT-base-distilled: a cls and a
distillation token, LayerNorm eps 1e-6, and a trainable position embedding over a **frequency-major** patch grid:
the input is transposed to (mel, time), so token f * T' + t holds frequency patch f, time patch t.

Layout keys this module does not carry:

- ``v.head.*`` and ``v.head_dist.*`` (timm's 1000-class heads): created by ``timm.create_model`` and never used
  by any SSAST forward; they are in the official checkpoint, so ``load_official`` lists them as ignorable.
- ``mlp_head.*`` (LayerNorm + Linear(768, label_dim)): the fine-tuning classifier added by ``ASTModel`` when
  ``pretrain_stage=False``; the SED forward never calls it and the pre-trained checkpoint does not hold it (a
  fine-tuned ASTModel state does, so it is ignorable too).

Official checkpoint (SSAST-Base-Patch-400.pth): the raw ``state_dict()`` of ``DataParallel(ASTModel(
pretrain_stage=True, input_tdim=1024))``, every key under ``module.``. Pre-training only: ``p_input_fdim`` /
``p_input_tdim`` (the pre-training input size, read here to know the position grid), ``mask_embed``,
``cpredlayer.*``, ``gpredlayer.*``. Its ``v.pos_embed`` covers an 8 x 64 (freq x time) grid; like the official
fine-tuning code, a shorter time grid is cut from the middle (62 patches: time patches 1..62) and a longer one
is interpolated bilinearly.

``forward`` returns every token; the frequency pooling happens outside the backbone
(``sed_core.models.alignment.frequency_average``): by default the reference wrapper's ``AvgPool2d([8, 1],
padding=[1, 0])`` (a zero row averaged in, frequency patch 7 dropped: the sum of patches 0..6 over 8, what the
paper's backbone comparison ran), or the mean of all 8 with ``model.backbone.ssast_pooling: mean``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from sed_core.errors import CheckpointError
from sed_core.models.backbones.base import Backbone, TokenGrid, frame_centers, valid_tokens
from sed_core.models.backbones.kaldi_fbank import FbankSpec, KaldiFbank, patch_aligned_frames
from sed_core.models.backbones.official_checkpoint import check_depth, load_strict, read_checkpoint, strip_prefixes
from sed_core.models.backbones.vit import Block, PatchEmbed, drop_path_rates

logger = logging.getLogger(__name__)

NORM_MEAN, NORM_STD = -6.030435443767988, 4.102992546322562  # ASiT-CRNN's SSL-comparison statistics
N_PREFIX = 2  # cls + distillation token


@dataclass(frozen=True)
class SSASTSpec:
    dim: int
    depth: int
    heads: int
    patch: int = 16
    n_mels: int = 128
    target_frames: int | None = 998  # the reference feeds a 10 s clip unpadded; None: the clip's frames


VARIANTS = {
    "base": SSASTSpec(dim=768, depth=12, heads=12),
    "tiny": SSASTSpec(dim=32, depth=2, heads=2, target_frames=None),
}


def n_patches(length: int, patch: int) -> int:
    """Patches a non-overlapping Conv2d (kernel = stride = ``patch``) makes along an axis of ``length``."""
    return (length - patch) // patch + 1


class SSASTViT(nn.Module):
    """The ``v`` of ``ASTModel``: timm DeiT-distilled parts, in the official state_dict order."""

    def __init__(self, spec: SSASTSpec, grid: tuple[int, int], drop_path: float) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, spec.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, N_PREFIX + grid[0] * grid[1], spec.dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, spec.dim))
        self.patch_embed = PatchEmbed(spec.dim, (spec.patch, spec.patch), (spec.patch, spec.patch))
        self.blocks = nn.ModuleList(Block(spec.dim, spec.heads, drop_path=r)
                                    for r in drop_path_rates(spec.depth, drop_path))
        self.norm = nn.LayerNorm(spec.dim, eps=1e-6)
        for p in (self.cls_token, self.pos_embed, self.dist_token):
            nn.init.trunc_normal_(p, std=0.02)


class SSAST(Backbone):
    """(B, S) -> fbank (B, frames, 128) -> tokens (B, T', 8, D), T' = frames // 16 (62 for 998 frames)."""

    CHECKPOINT_PREFIXES = ("module.",)
    IGNORABLE = (r"p_input_fdim", r"p_input_tdim", r"mask_embed", r"cpredlayer\..*", r"gpredlayer\..*",
                 r"v\.head\..*", r"v\.head_dist\..*", r"mlp_head\..*")
    HINT = ("expected an official SSAST patch checkpoint (the raw DataParallel state_dict of ASTModel, model_size "
            "'base': keys module.v.cls_token, module.v.dist_token, module.v.blocks.*, module.p_input_tdim)")

    def __init__(self, spec: SSASTSpec, *, clip_samples: int, drop_path: float = 0.0) -> None:
        super().__init__()
        self.spec = spec
        self.embed_dim = spec.dim
        fbank = FbankSpec(n_mels=spec.n_mels, norm_mean=NORM_MEAN, norm_std=NORM_STD)
        frames = patch_aligned_frames(fbank, clip_samples, spec.patch, spec.target_frames)
        self.frontend = KaldiFbank(FbankSpec(**{**fbank.__dict__, "target_frames": frames}))
        self.grid = (n_patches(spec.n_mels, spec.patch), n_patches(frames, spec.patch))  # (F', T')
        self.v = SSASTViT(spec, self.grid, drop_path)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) -> (B, frames, n_mels) normalised Kaldi fbank."""
        return self.frontend(waveform)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, frames, n_mels) -> (B, T', F', D); the encoder's own token order is frequency-major (f * T' + t)."""
        v = self.v
        x = v.patch_embed(features.transpose(1, 2).unsqueeze(1))  # (B, D, F', T'): input as (B, 1, mel, time)
        b, d, f, t = x.shape
        if (f, t) != self.grid:
            raise ValueError(f"SSAST expects features of {self.frontend.spec.target_frames} frames x "
                             f"{self.spec.n_mels} mel bins (a {self.grid[0]} x {self.grid[1]} patch grid), got "
                             f"{tuple(features.shape[1:])}; compute them with features()")
        x = x.flatten(2).transpose(1, 2)  # (B, F'T', D)
        x = torch.cat([v.cls_token.expand(b, -1, -1), v.dist_token.expand(b, -1, -1), x], dim=1) + v.pos_embed
        for block in v.blocks:
            x = block(x)
        x = v.norm(x)[:, N_PREFIX:]
        return x.reshape(b, f, t, d).transpose(1, 2)  # (B, T', F', D)

    def token_grid(self, n_samples: int) -> TokenGrid:
        fb = self.frontend
        t = self.grid[1]
        centers = frame_centers(t, self.spec.patch, fb.hop_s, fb.win_s)
        return TokenGrid(centers, valid_tokens(fb.real_frames(n_samples), self.spec.patch, t))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        v = self.v
        embed = [v.cls_token, v.pos_embed, v.dist_token, *v.patch_embed.parameters()]
        return [embed, *[list(b.parameters()) for b in v.blocks], list(v.norm.parameters())]

    def load_official(self, path: str | Path) -> None:
        checkpoint = read_checkpoint(path)
        if not all(isinstance(value, torch.Tensor) for value in checkpoint.values()):
            nested = sorted(str(k) for k, value in checkpoint.items() if not isinstance(value, torch.Tensor))
            raise CheckpointError(f"{path}: found non-tensor top-level entries {nested[:6]} (a wrapped checkpoint "
                                  f"of another model family?); {self.HINT}")
        state = strip_prefixes(checkpoint, self.CHECKPOINT_PREFIXES)
        self._check_architecture(state, path)
        pos = state.get("v.pos_embed")
        if pos is not None and pos.shape != self.v.pos_embed.shape:
            state = {**state, "v.pos_embed": self._adapt_pos_embed(pos, state, path)}
        ignored = load_strict(self, state, source=str(path), ignorable=self.IGNORABLE, hint=self.HINT)
        logger.info("loaded SSAST weights from %s (ignored %d pre-training keys)", path, len(ignored))

    def _check_architecture(self, state: dict, path) -> None:
        w = state.get("v.patch_embed.proj.weight")
        if w is None:
            return  # load_strict names the missing keys
        own = self.v.patch_embed.proj.weight
        if tuple(w.shape) != tuple(own.shape):
            raise CheckpointError(
                f"{path}: v.patch_embed.proj.weight is {tuple(w.shape)} (width {w.shape[0]}, patch "
                f"{w.shape[2]} mel x {w.shape[3]} frames) but model.backbone (ssast, width {self.spec.dim}, "
                f"{self.spec.patch}x{self.spec.patch} patches) expects {tuple(own.shape)}; use the variant of that "
                f"width, or the patch (not the frame) SSAST checkpoint"
            )
        check_depth(state, "v.blocks.", self.spec.depth, path=path)

    def _pretrain_grid(self, pos: torch.Tensor, state: dict, path) -> tuple[int, int]:
        """(F, T) patch grid of the checkpoint's pos_embed, from ``p_input_fdim/tdim`` when present."""
        n = pos.shape[1] - N_PREFIX
        if "p_input_fdim" in state and "p_input_tdim" in state:
            p = self.spec.patch
            grid = (n_patches(int(state["p_input_fdim"]), p), n_patches(int(state["p_input_tdim"]), p))
            if grid[0] * grid[1] == n:
                return grid
            raise CheckpointError(f"{path}: pos_embed {tuple(pos.shape)} does not hold the {grid[0]} x {grid[1]} "
                                  f"patch grid of p_input_fdim/p_input_tdim {int(state['p_input_fdim'])}/"
                                  f"{int(state['p_input_tdim'])}; the checkpoint is inconsistent")
        f = self.grid[0]
        if n % f:
            raise CheckpointError(f"{path}: pos_embed {tuple(pos.shape)} is not {N_PREFIX} + a grid of {f} "
                                  f"frequency patches; is it an SSAST over {self.spec.n_mels} mel bins?")
        return f, n // f

    def _adapt_pos_embed(self, pos: torch.Tensor, state: dict, path) -> torch.Tensor:
        """Cut (middle) or bilinearly interpolate the frequency-major grid as the official fine-tuning does."""
        old = self._pretrain_grid(pos, state, path)
        f, t = self.grid
        logger.info("SSAST checkpoint %s: adapting pos_embed from a %dx%d to a %dx%d (freq x time) patch grid",
                    path, *old, f, t)
        prefix, d = pos[:, :N_PREFIX], pos.shape[-1]
        grid = pos[:, N_PREFIX:].reshape(1, old[0], old[1], d).permute(0, 3, 1, 2)  # (1, D, F, T)
        if t < old[1]:
            start = old[1] // 2 - t // 2
            grid = grid[:, :, :, start:start + t]
        elif t > old[1]:
            grid = F.interpolate(grid, size=(old[0], t), mode="bilinear", align_corners=False)
        if f < old[0]:
            start = old[0] // 2 - f // 2
            grid = grid[:, :, start:start + f, :]
        elif f > old[0]:
            grid = F.interpolate(grid, size=(f, t), mode="bilinear", align_corners=False)
        return torch.cat([prefix, grid.permute(0, 2, 3, 1).reshape(1, f * t, d)], dim=1)
