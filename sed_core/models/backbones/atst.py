"""ATST (Li & Li): a ViT over 64-mel x 4-frame patches, as clip-level ATST and as ATST-Frame.

Both encoders share the front end (log mel, 64 bins, hop 10 ms) and the transformer (pre-norm blocks, width
768, 12 heads, no qkv bias, LayerNorm eps 1e-6, "cut" position embedding: the first rows of a learned table).
A patch is all 64 mel bins of 4 consecutive frames, flattened mel-major (index mel * 4 + frame, einops
``(p1 p2 c)``) and embedded by ``patch_embed.patch_embed`` (Linear 256 -> D); the tokens are time patches, so
a 10 s clip (1001 frames, the 1001st dropped) gives 250 tokens, one every 0.04 s, and F' = 1.

- ``atst_clip`` (layout tests/data/backbone_layouts/atst_clip_base.json, the wrapper's ``encoder.*``
  keys without prefix): ASiT-CRNN's clip_atst_model.py. A ``cls_token`` is prepended, position rows 0..T are
  added to [cls, tokens], the final ``norm`` is applied and the cls token dropped. Official checkpoint:
  ``ckpt['teacher']`` (DINO-style save of the DDP-wrapped teacher), keys under ``module.backbone.`` (or
  ``backbone.``); the pre-training heads ``(module.)head|projector|predictor.*`` are ignorable.
- ``atst_frame`` (layout atst_frame_base.json, the wrapper's ``atst.*`` keys without prefix): ATST-SED's
  FrameAST. No cls token; position rows 1..T are added (row 0 is unused), the final norm is ``norm_frame``.
  Official checkpoints, ``ckpt['state_dict']`` (Lightning):
  * ATST-SED's ``atst_as2M.ckpt`` layout: keys under ``encoder.encoder.``; ignorable: the fine-tuning head
    ``head.*`` and a distillation teacher ``encoder.encoder.teacher_module.*`` (skipped by ATST-SED too);
  * audiossl's pre-training layout (``FrameATSTLightningModule``): the teacher encoder under
    ``model.teacher.encoder.``; ignorable: ``model.student.*`` and ``model.teacher.projector|predictor.*``.
  Not supported (a CheckpointError names the keys): ATST-SED's C2F layout (``encoder.encoder.frame_encoder.``,
  whose other keys the official loader does not document) and its remap of a clip-ATST encoder into a
  FrameAST (``norm`` renamed ``norm_frame``, ``cls_token`` dropped): that is the clip model, load it as
  ``atst_clip``.

Layout keys we do not carry: ``mask_embed`` (1, 1, 768) of both layouts, the masked-patch token of
pre-training. The fine-tuning forward never reads it (mask_index is None), so it would be a parameter without
a gradient; it is in every official checkpoint and is ignorable on load. Hence 85,419,264 parameters for
``atst_clip`` base and 85,418,496 for ``atst_frame`` base (the layouts' counts minus 768); every other key and
shape equals the layout's, in the same order.

Differences from the official code, on purpose:
- top_db (80 dB below the maximum) is taken per clip. ASiT-CRNN does so (its transform sees one clip);
  ATST-SED applies AmplitudeToDB to the whole batch, so its floor depends on the loudest clip of the batch
  (features 0.4 % apart on batches of mixed loudness); a clip's features would then depend on its batch mates,
  so the batch rule is not offered.
- The waveform is zero-padded or cut at the end to the model's length (10 s for base), as the datasets do
  (pad_to); clips longer than 10 s are cut at the end rather than centre-cropped (CentralCrop), so that the
  tokens start at t = 0.
- ATST-Frame's ``atst_dropout`` (dropout inside the blocks) is not offered: ATST-SED trains with 0.0. Stochastic
  depth is ``drop_path`` (clip ATST: 0.1 in the official recipe).
- The official ATST-SED wrapper freezes the encoder (requires_grad False); here every parameter is an ordinary
  trainable parameter and the freeze schedule decides.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torchaudio
from torch import nn
from torch.nn import functional as F

from sed_core.errors import CheckpointError
from sed_core.models.backbones.base import Backbone, TokenGrid, frame_centers, valid_tokens
from sed_core.models.backbones.official_checkpoint import load_strict, pick, read_checkpoint, strip_prefixes
from sed_core.models.backbones.vit import Block, drop_path_rates

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
N_FFT = 1024
HOP = 160
N_MELS = 64
F_MIN, F_MAX = 60.0, 7800.0
TOP_DB = 80.0
NORM_MIN, NORM_MAX = -79.6482, 50.6842  # MinMax to [-1, 1]
FRAME_DB_CLAMP = (-50.0, 80.0)  # ATST-SED's ATSTNorm only
PATCH_MELS, PATCH_FRAMES = 64, 4


@dataclass(frozen=True)
class ATSTSpec:
    dim: int
    depth: int
    heads: int
    target_samples: int | None = 10 * SAMPLE_RATE  # None: the clip's own length


VARIANTS = {
    "base": ATSTSpec(dim=768, depth=12, heads=12),
    "tiny": ATSTSpec(dim=32, depth=2, heads=2, target_samples=None),
}


class ATSTMel(nn.Module):
    """(B, S) waveform -> (B, 64, 1 + S // 160) scaled log mel.

    torchaudio MelSpectrogram(16 kHz, n_fft 1024, hann window, hop 160, 60-7800 Hz, 64 HTK mels, power 2,
    centred reflect-padded frames) -> 10 log10(max(x, 1e-10)) -> floor at the clip's maximum - 80 dB
    [-> clamp(-50, 80) for ATST-Frame] -> (x - min) / (max - min) * 2 - 1 with min -79.6482, max 50.6842.
    The window and filterbank are non-persistent buffers, so they stay out of the state_dict.
    """

    def __init__(self, db_clamp: tuple[float, float] | None) -> None:
        super().__init__()
        self.db_clamp = db_clamp
        with torch.device("cpu"):  # real values even when the model is built on the meta device
            self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
            fbank = torchaudio.functional.melscale_fbanks(N_FFT // 2 + 1, F_MIN, F_MAX, N_MELS, SAMPLE_RATE)
            self.register_buffer("fbank", fbank, persistent=False)  # (513, 64)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(waveform.float(), N_FFT, hop_length=HOP, window=self.window, center=True,
                          pad_mode="reflect", return_complex=True).abs().pow(2)  # (B, 513, T)
        mel = torch.matmul(spec.transpose(1, 2), self.fbank).transpose(1, 2)  # (B, 64, T)
        db = 10.0 * torch.log10(mel.clamp(min=1e-10))
        db = torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - TOP_DB)
        if self.db_clamp is not None:
            db = db.clamp(*self.db_clamp)
        return (db - NORM_MIN) / (NORM_MAX - NORM_MIN) * 2.0 - 1.0


def patchify(features: torch.Tensor) -> torch.Tensor:
    """(B, 64, W) mel x frames -> (B, W // 4, 256) patches; frames past the last whole patch are dropped.

    Patch k holds frames 4k..4k+3 of all 64 mel bins, vector index mel * 4 + frame (einops
    'b c (h p1) (w p2) -> b (w h) (p1 p2 c)' with h = c = 1).
    """
    b, n_mels, width = features.shape
    if n_mels != PATCH_MELS:
        raise ValueError(f"ATST expects {PATCH_MELS} mel bins, got features of shape {tuple(features.shape)}")
    t = width // PATCH_FRAMES
    x = features[:, :, : t * PATCH_FRAMES].reshape(b, n_mels, t, PATCH_FRAMES)
    return x.permute(0, 2, 1, 3).reshape(b, t, n_mels * PATCH_FRAMES)


class LinearPatchEmbed(nn.Module):
    """(B, 64, W) -> (B, W // 4, D); key ``patch_embed.patch_embed`` as in the official PatchEmbed_v2."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.patch_embed = nn.Linear(PATCH_MELS * PATCH_FRAMES, dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.patch_embed(patchify(features))


def _init_weights(module: nn.Module) -> None:
    """The official init: truncated normal (std 0.02) Linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class _ATSTEncoder(Backbone):
    """What both ATST encoders share. Subclasses register ``cls_token`` (or not) before calling ``_build``."""

    CHECKPOINT_KEYS: tuple[str, ...] = ()
    CHECKPOINT_PREFIXES: tuple[str, ...] = ()
    IGNORABLE: tuple[str, ...] = ()
    HINT = ""
    NAME = ""
    n_prefix_tokens = 0

    def _build(self, spec: ATSTSpec, *, clip_samples: int, drop_path: float,
               db_clamp: tuple[float, float] | None) -> None:
        self.spec = spec
        self.embed_dim = spec.dim
        self.target_samples = spec.target_samples or clip_samples
        self.n_tokens = (1 + self.target_samples // HOP) // PATCH_FRAMES
        if self.n_tokens < 1:
            raise ValueError(f"a clip of {clip_samples} samples is shorter than one ATST patch "
                             f"({PATCH_FRAMES} frames of {HOP} samples)")
        self.frontend = ATSTMel(db_clamp)
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.n_tokens, spec.dim))
        self.patch_embed = LinearPatchEmbed(spec.dim)
        self.blocks = nn.ModuleList(Block(spec.dim, spec.heads, qkv_bias=False, drop_path=r)
                                    for r in drop_path_rates(spec.depth, drop_path))

    def _init_parameters(self) -> None:
        self.apply(_init_weights)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    @property
    def final_norm(self) -> nn.LayerNorm:
        raise NotImplementedError

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) -> (B, 64, 1 + target_samples // 160), the waveform zero-padded or cut at the end first."""
        pad = self.target_samples - waveform.shape[-1]
        waveform = F.pad(waveform, (0, pad)) if pad > 0 else waveform[..., : self.target_samples]
        return self.frontend(waveform)

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T, D) patch embeddings -> (B, n_prefix + T, D) with position embeddings added."""
        raise NotImplementedError

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, 64, W) -> (B, W // 4, 1, D), at most as many tokens as the position table holds."""
        x = self.patch_embed(features)  # (B, T, D), token t = frames 4t..4t+3
        if x.shape[1] > self.n_tokens:
            raise ValueError(f"{self.NAME}: {x.shape[1]} time patches but the position embedding holds "
                             f"{self.n_tokens}; features must have at most {self.n_tokens * PATCH_FRAMES + 3} "
                             f"frames (use features(), which pads or cuts to the model's length)")
        x = self._embed(x)
        for block in self.blocks:
            x = block(x)
        return self.final_norm(x)[:, self.n_prefix_tokens:].unsqueeze(2)

    def token_grid(self, n_samples: int) -> TokenGrid:
        # centred STFT: frame k is centred at k * hop (no half-window offset)
        centers = frame_centers(self.n_tokens, PATCH_FRAMES, HOP / SAMPLE_RATE, 0.0)
        real_frames = math.ceil(n_samples / HOP)  # frames centred on the clip
        return TokenGrid(centers, valid_tokens(real_frames, PATCH_FRAMES, self.n_tokens))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        embed = [*([self.cls_token] if self.n_prefix_tokens else []), self.pos_embed, *self.patch_embed.parameters()]
        return [embed, *[list(b.parameters()) for b in self.blocks], list(self.final_norm.parameters())]

    def _official_state(self, path: str | Path) -> dict[str, torch.Tensor]:
        return strip_prefixes(pick(read_checkpoint(path), self.CHECKPOINT_KEYS, path=path), self.CHECKPOINT_PREFIXES)

    def load_official(self, path: str | Path) -> None:
        state = self._official_state(path)
        self._check_family(state, path)
        self._check_architecture(state, path)
        state = self._cut_pos_embed(state, path)
        ignored = load_strict(self, state, source=str(path), ignorable=self.IGNORABLE, hint=self.HINT)
        logger.info("loaded %s weights from %s (ignored %d pre-training keys)", self.NAME, path, len(ignored))

    def _check_family(self, state: Mapping[str, torch.Tensor], path) -> None:
        """Raise when ``state`` is another model family; subclasses add the other ATST encoder."""
        if "patch_embed.patch_embed.weight" not in state and "patch_embed.proj.weight" in state:
            raise CheckpointError(f"{path}: the checkpoint has a Conv2d patch embedding (patch_embed.proj: an "
                                  f"ASiT/AST-style ViT), not ATST's linear patch_embed.patch_embed; {self.HINT}")

    def _check_architecture(self, state: Mapping[str, torch.Tensor], path) -> None:
        w = state.get("patch_embed.patch_embed.weight")
        own = self.patch_embed.patch_embed.weight
        if w is not None and tuple(w.shape) != tuple(own.shape):
            raise CheckpointError(
                f"{path}: patch_embed.patch_embed.weight is {tuple(w.shape)} (width {w.shape[0]}, patch vector "
                f"{w.shape[-1]}) but model.backbone ({self.NAME}, width {self.spec.dim}, 64 mel x 4 frame "
                f"patches) expects {tuple(own.shape)}; use the variant of that width or another checkpoint"
            )
        depth = 1 + max((int(k.split(".")[1]) for k in state if k.startswith("blocks.")), default=-1)
        if depth > 0 and depth != self.spec.depth:
            raise CheckpointError(f"{path}: the checkpoint has {depth} transformer blocks but the model has "
                                  f"{self.spec.depth}; use the matching model.backbone.variant")

    def _cut_pos_embed(self, state: dict[str, torch.Tensor], path) -> dict[str, torch.Tensor]:
        """The official "cut" rule reads the first rows of the table, so a longer table is cut to ours."""
        pos = state.get("pos_embed")
        if pos is None or pos.ndim != 3 or pos.shape[-1] != self.spec.dim or pos.shape[1] == self.pos_embed.shape[1]:
            return state  # load_strict names missing or wrongly shaped keys
        if pos.shape[1] < self.pos_embed.shape[1]:
            raise CheckpointError(
                f"{path}: pos_embed {tuple(pos.shape)} covers {pos.shape[1] - 1} time patches "
                f"({(pos.shape[1] - 1) * PATCH_FRAMES * HOP / SAMPLE_RATE:.2f} s) but the model needs "
                f"{self.n_tokens}; use clips of at most that length"
            )
        logger.info("%s checkpoint %s: cutting pos_embed from %d to %d rows", self.NAME, path, pos.shape[1],
                    self.pos_embed.shape[1])
        return {**state, "pos_embed": pos[:, : self.pos_embed.shape[1]]}


class ATSTClip(_ATSTEncoder):
    """Clip-level ATST: (B, S) -> mel (B, 64, 1001) -> [cls, 250 tokens] -> (B, 250, 1, D) (cls dropped)."""

    NAME = "atst_clip"
    CHECKPOINT_KEYS = ("teacher",)
    CHECKPOINT_PREFIXES = ("module.backbone.", "backbone.")
    IGNORABLE = (r"mask_embed", r"(module\.)?(head|projector|predictor)\..*")
    HINT = ("expected an official clip-ATST teacher (ckpt['teacher'] with keys module.backbone.cls_token, "
            "module.backbone.patch_embed.patch_embed.weight, module.backbone.blocks.*, module.backbone.norm.*)")
    n_prefix_tokens = 1

    def __init__(self, spec: ATSTSpec, *, clip_samples: int, drop_path: float = 0.1) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, spec.dim))
        self._build(spec, clip_samples=clip_samples, drop_path=drop_path, db_clamp=None)
        self.norm = nn.LayerNorm(spec.dim, eps=1e-6)
        self._init_parameters()
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    @property
    def final_norm(self) -> nn.LayerNorm:
        return self.norm

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        b, t, _ = tokens.shape
        x = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1)
        return x + self.pos_embed[:, : t + 1]

    def _check_family(self, state: Mapping[str, torch.Tensor], path) -> None:
        super()._check_family(state, path)
        if "norm_frame.weight" in state and "cls_token" not in state:
            raise CheckpointError(f"{path}: this is an ATST-Frame encoder (norm_frame, no cls_token), not a "
                                  f"clip-ATST one; use model.backbone.name atst_frame")


class ATSTFrame(_ATSTEncoder):
    """ATST-Frame: (B, S) -> mel (B, 64, 1001), dB clamped to [-50, 80] -> 250 tokens -> (B, 250, 1, D)."""

    NAME = "atst_frame"
    CHECKPOINT_KEYS = ("state_dict",)
    CHECKPOINT_PREFIXES = ("encoder.encoder.", "model.teacher.encoder.")
    IGNORABLE = (r"mask_embed", r"head\..*", r"teacher_module\..*", r"model\.student\..*",
                 r"model\.teacher\.(projector|predictor)\..*")
    HINT = ("expected an official ATST-Frame Lightning checkpoint (ckpt['state_dict'] with keys "
            "encoder.encoder.pos_embed, encoder.encoder.blocks.*, encoder.encoder.norm_frame.*, as ATST-SED's "
            "atst_as2M.ckpt, or the pre-training layout model.teacher.encoder.*)")

    def __init__(self, spec: ATSTSpec, *, clip_samples: int, drop_path: float = 0.0) -> None:
        super().__init__()
        self._build(spec, clip_samples=clip_samples, drop_path=drop_path, db_clamp=FRAME_DB_CLAMP)
        self.norm_frame = nn.LayerNorm(spec.dim, eps=1e-6)
        self._init_parameters()

    @property
    def final_norm(self) -> nn.LayerNorm:
        return self.norm_frame

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens + self.pos_embed[:, 1: tokens.shape[1] + 1]  # row 0 belongs to no token

    def _check_family(self, state: Mapping[str, torch.Tensor], path) -> None:
        super()._check_family(state, path)
        if "cls_token" in state or "norm.weight" in state:
            raise CheckpointError(f"{path}: this is a clip-ATST encoder (cls_token, norm), not ATST-Frame; use "
                                  f"model.backbone.name atst_clip (ATST-SED's clip-into-frame remap is not offered)")
        if any(k.startswith("frame_encoder.") for k in state):
            raise CheckpointError(f"{path}: this is an ATST-SED C2F checkpoint (encoder.encoder.frame_encoder.*), "
                                  f"which is not supported; give a plain ATST-Frame checkpoint")
