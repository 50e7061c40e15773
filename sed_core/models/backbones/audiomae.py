"""AudioMAE (Huang et al., NeurIPS 2022) ViT-B/16 encoder, as compared in ASiT-CRNN.

Layout: tests/data/backbone_layouts/audiomae_vitb16.json (the reference wrapper's ``audioMAE.encoder.``
keys without that prefix: ``cls_token``, ``pos_embed``, ``patch_embed.proj``, ``blocks.*``, ``norm``). The
encoder is facebookresearch/AudioMAE ``models_vit.vit_base_patch16`` (timm ViT, LayerNorm eps 1e-6,
``global_pool=False``: final ``norm``, no ``fc_norm``) with a 16x16 Conv2d over the (time, mel) fbank, so its
tokens are **time-major** (t * 8 + f).

``pos_embed`` (1, 513, 768) is AudioMAE's fixed 2-D sin-cos table (``get_2d_sincos_pos_embed_flexible`` with
``patch_hw`` = (8, 64)), a parameter with ``requires_grad=False`` in pre-training and fine-tuning alike: it counts
in ``parameters()`` (layout n_params) but not in the trainable count (layout n_params_trainable), and it is left
out of ``layer_groups`` so no schedule that walks the groups unfreezes it. As in the reference wrapper, a clip of
T' < 64 time patches adds the prefix ``pos_embed[:, 1:T' * 8 + 1]`` (no interpolation; cls takes row 0).

Layout keys this module does not carry: ``head.weight`` (1000, 768) and ``head.bias``, timm's classification
head; the pre-trained checkpoint has no ``head`` (the reference loads it non-strictly and the head stays random
and unused), so a ``head.*`` present in a checkpoint is ignorable.

Front end: the reference (ASiT-CRNN's SSL comparison) feeds a 10 s clip **unpadded** (998 frames -> 62 time
patches) normalised with its own statistics (x + 6.0304) / (2 * 4.1030). AudioMAE's own AudioSet recipe pads
the fbank with zeros to 1024 frames (64 time patches, the whole pos_embed) and normalises with
(x + 4.2677) / (2 * 4.5690); the "base" variant follows the reference, because the layout is measured from it.

Official checkpoint: ``pretrained.pth`` = ``{'model', 'optimizer', 'epoch', 'scaler', 'args'}``; ``model`` is the
``MaskedAutoencoderViT`` state_dict without prefix. The encoder keys are used; ``mask_token``,
``decoder_pos_embed``, ``decoder_embed.*``, ``decoder_blocks.*``, ``decoder_norm.*``, ``decoder_pred.*`` are
pre-training only. A fine-tuned AudioMAE (``global_pool=True``) has ``fc_norm`` instead of ``norm`` and is refused.
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from sed_core.errors import CheckpointError
from sed_core.models.backbones.base import Backbone, TokenGrid, frame_centers, valid_tokens
from sed_core.models.backbones.kaldi_fbank import FbankSpec, KaldiFbank, patch_aligned_frames
from sed_core.models.backbones.official_checkpoint import check_depth, load_strict, pick, read_checkpoint
from sed_core.models.backbones.vit import Block, PatchEmbed, drop_path_rates

logger = logging.getLogger(__name__)

NORM_MEAN, NORM_STD = -6.030435443767988, 4.102992546322562  # ASiT-CRNN's SSL-comparison statistics


@dataclass(frozen=True)
class AudioMAESpec:
    dim: int
    depth: int
    heads: int
    patch: int = 16
    n_mels: int = 128
    target_frames: int | None = 998  # the reference feeds a 10 s clip unpadded; None: the clip's frames
    pos_frames: int | None = 1024  # frames the sin-cos table covers (pre-training length); None: target_frames


VARIANTS = {
    "base": AudioMAESpec(dim=768, depth=12, heads=12),
    "tiny": AudioMAESpec(dim=32, depth=2, heads=2, target_frames=None, pos_frames=None),
}


def sincos_pos_embed(dim: int, patch_hw: tuple[int, int]) -> torch.Tensor:
    """AudioMAE's fixed table (1, 1 + H*W, dim): row 1 + i*W + j = [sincos(j), sincos(i)], row 0 zeros (cls).

    AudioMAE passes ``patch_hw`` = (mel patches, time patches) although its tokens are time-major, so row k
    encodes (k mod W, k div W), not the token's (time, mel) position; the pre-trained model learned with this.
    """
    if dim % 4:
        raise ValueError(f"the 2-D sin-cos position embedding needs a width divisible by 4, got {dim}")
    h, w = patch_hw
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))  # (D/4,)

    def sincos(pos: torch.Tensor) -> torch.Tensor:  # (M,) -> (M, D/2)
        angle = pos[:, None] * omega[None, :]
        return torch.cat([angle.sin(), angle.cos()], dim=1)

    rows = torch.arange(h, dtype=torch.float64).repeat_interleave(w)
    cols = torch.arange(w, dtype=torch.float64).repeat(h)
    table = torch.cat([sincos(cols), sincos(rows)], dim=1)
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), table]).float().unsqueeze(0)


def n_patches(length: int, patch: int) -> int:
    """Patches a non-overlapping Conv2d (kernel = stride = ``patch``) makes along an axis of ``length``."""
    return (length - patch) // patch + 1


class AudioMAE(Backbone):
    """(B, S) -> fbank (B, frames, 128) -> tokens (B, T', 8, D), T' = frames // 16 (62 for 998 frames)."""

    IGNORABLE = (r"mask_token", r"decoder_pos_embed", r"decoder_embed\..*", r"decoder_blocks\..*",
                 r"decoder_norm\..*", r"decoder_pred\..*", r"head\..*")
    HINT = ("expected the official AudioMAE pre-training checkpoint (pretrained.pth: ckpt['model'] with keys "
            "cls_token, pos_embed, patch_embed.proj.*, blocks.*, norm.*, decoder_*)")

    def __init__(self, spec: AudioMAESpec, *, clip_samples: int, drop_path: float = 0.0) -> None:
        super().__init__()
        self.spec = spec
        self.embed_dim = spec.dim
        fbank = FbankSpec(n_mels=spec.n_mels, norm_mean=NORM_MEAN, norm_std=NORM_STD)
        frames = patch_aligned_frames(fbank, clip_samples, spec.patch, spec.target_frames)
        pos_frames = spec.pos_frames or frames
        if pos_frames < frames:
            raise ValueError(f"AudioMAESpec: pos_frames ({pos_frames}) must cover target_frames ({frames})")
        self.frontend = KaldiFbank(FbankSpec(**{**fbank.__dict__, "target_frames": frames}))
        self.grid = (n_patches(frames, spec.patch), n_patches(spec.n_mels, spec.patch))  # (T', F')
        pos_hw = (self.grid[1], n_patches(pos_frames, spec.patch))  # AudioMAE's patch_hw: (mel, time)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, spec.dim))
        self.pos_embed = nn.Parameter(sincos_pos_embed(spec.dim, pos_hw), requires_grad=False)
        self.patch_embed = PatchEmbed(spec.dim, (spec.patch, spec.patch), (spec.patch, spec.patch))
        self.blocks = nn.ModuleList(Block(spec.dim, spec.heads, drop_path=r)
                                    for r in drop_path_rates(spec.depth, drop_path))
        self.norm = nn.LayerNorm(spec.dim, eps=1e-6)
        nn.init.normal_(self.cls_token, std=0.02)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) -> (B, frames, n_mels) normalised Kaldi fbank."""
        return self.frontend(waveform)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, frames, n_mels) -> (B, T', F', D), tokens time-major as in the encoder (t * F' + f)."""
        x = self.patch_embed(features.unsqueeze(1))  # (B, D, T', F')
        b, d, t, f = x.shape
        if (t, f) != self.grid:
            raise ValueError(f"AudioMAE expects features of {self.frontend.spec.target_frames} frames x "
                             f"{self.spec.n_mels} mel bins (a {self.grid[0]} x {self.grid[1]} patch grid), got "
                             f"{tuple(features.shape[1:])}; compute them with features()")
        x = x.flatten(2).transpose(1, 2) + self.pos_embed[:, 1:t * f + 1]  # (B, T'F', D), prefix of the table
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(b, -1, -1)
        x = torch.cat([cls, x], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x[:, 1:]).reshape(b, t, f, d)

    def token_grid(self, n_samples: int) -> TokenGrid:
        fb = self.frontend
        t = self.grid[0]
        centers = frame_centers(t, self.spec.patch, fb.hop_s, fb.win_s)
        return TokenGrid(centers, valid_tokens(fb.real_frames(n_samples), self.spec.patch, t))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Trainable parameters only: the frozen sin-cos ``pos_embed`` is in no group (see the module docstring)."""
        embed = [self.cls_token, *self.patch_embed.parameters()]
        return [embed, *[list(b.parameters()) for b in self.blocks], list(self.norm.parameters())]

    def load_official(self, path: str | Path) -> None:
        with torch.serialization.safe_globals([argparse.Namespace]):  # misc.save_model stores the run's args
            checkpoint = read_checkpoint(path)
        state = dict(pick(checkpoint, ("model",), path=path))
        if "fc_norm.weight" in state and "norm.weight" not in state:
            raise CheckpointError(f"{path}: this is a fine-tuned AudioMAE (global_pool: fc_norm.* after mean "
                                  f"pooling, no final norm.*); the backbone uses the encoder's final norm, so load "
                                  f"the pre-training checkpoint (pretrained.pth)")
        self._check_architecture(state, path)
        pos = state.get("pos_embed")
        if pos is not None and pos.shape != self.pos_embed.shape:
            state["pos_embed"] = self._cut_pos_embed(pos, path)
        ignored = load_strict(self, state, source=str(path), ignorable=self.IGNORABLE, hint=self.HINT)
        logger.info("loaded AudioMAE weights from %s (ignored %d pre-training keys)", path, len(ignored))

    def _check_architecture(self, state: dict, path) -> None:
        w = state.get("patch_embed.proj.weight")
        if w is None:
            return  # load_strict names the missing keys
        own = self.patch_embed.proj.weight
        if tuple(w.shape) != tuple(own.shape):
            raise CheckpointError(
                f"{path}: patch_embed.proj.weight is {tuple(w.shape)} (width {w.shape[0]}, {w.shape[1]} input "
                f"channel(s), patch {tuple(w.shape[2:])}) but model.backbone (audiomae, width {self.spec.dim}) "
                f"expects {tuple(own.shape)}; use the variant of that width or another checkpoint"
            )
        check_depth(state, "blocks.", self.spec.depth, path=path, what="encoder blocks")

    def _cut_pos_embed(self, pos: torch.Tensor, path) -> torch.Tensor:
        """Keep the prefix of a longer table (what the reference's forward uses); a shorter one cannot serve."""
        need = self.pos_embed.shape[1]
        if pos.ndim != 3 or pos.shape[1] < need or pos.shape[2] != self.pos_embed.shape[2]:
            raise CheckpointError(f"{path}: pos_embed is {tuple(pos.shape)} but the model needs "
                                  f"{tuple(self.pos_embed.shape)} (1 + {need - 1} patch positions); the checkpoint "
                                  f"was pre-trained on a shorter input than this front end produces")
        logger.info("AudioMAE checkpoint %s: using the first %d of %d pos_embed rows", path, need, pos.shape[1])
        return pos[:, :need]
