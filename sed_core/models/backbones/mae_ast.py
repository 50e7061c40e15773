"""MAE-AST Patch (Baade et al. 2022): a post-LN fairseq Transformer over 16x16 patches of an unnormalised fbank.

Layout: tests/data/backbone_layouts/mae_ast_patch_12l.json (the wrapper's ``mae_ast.*`` keys without
prefix). Official checkpoint (e.g. ``chunk_patch_75_12LayerEncoder.pt``): a fairseq dict, weights under
``ckpt['model']`` with no prefix, hyper-parameters under ``ckpt['cfg']['model']`` / ``['task']``.

Recipe (AlanBaade/MAE-AST-Public ``mae_ast/models/mae_ast.py``, ``forward(mask=False, features_only=True)``):
kaldi fbank (povey window, 25/10 ms, 128 bins, no mean subtraction, no scaling) -> ``BatchNorm2d(1,
affine=False)`` x 0.5 -> 16x16 patches, token t*8 + f (time-major, as ``nn.Unfold``) -> ``post_extract_proj``
Linear(256, D) -> + 1-D sinusoid position of the token index -> ``encoder.layer_norm`` (applied to the
encoder's INPUT, because ``layer_norm_first`` is False) -> dropout -> post-LN layers
(x = LN(x + attn(x)); x = LN(x + fc2(gelu(fc1(x))))), no final norm.

Official keys this module does not carry (``IGNORABLE``; listed in the layout, unused when encoding):
- ``encoder_mask_emb``, ``decoder_mask_emb``: mask tokens of pre-training (features are taken with mask=False).
- ``layer_norm.{weight,bias}`` (128): created by the official class but never called in its forward.
- ``enc_sine_pos_embed.pe`` (1, 48000, D): a deterministic table; we compute the rows we need (non-persistent
  buffer) and ``load_official`` checks that the stored table equals ours.
- ``dec_sine_pos_embed.pe``, ``decoder.layers.{0,1}.*``, ``decoder.layer_norm.*``,
  ``final_proj_reconstruction.*``, ``final_proj_classification.*``: the pre-training decoder and its heads.
Kept, although not trainable: ``batch_norm.running_mean/running_var/num_batches_tracked``, the input normaliser
(used as is in eval mode; in training mode it normalises by batch statistics and updates them, as the official
module does).

``drop_path`` adds per-sample stochastic depth on both residual branches of every layer (timm's linear rule);
the official model has none (its regularisers, kept here, are dropout 0.1 and attention dropout 0.1), so
``drop_path=0`` is the official fine-tuning behaviour.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from sed_core.errors import CheckpointError
from sed_core.models.backbones.base import Backbone, TokenGrid, frame_centers, valid_tokens
from sed_core.models.backbones.kaldi_fbank import FbankSpec, KaldiFbank
from sed_core.models.backbones.official_checkpoint import check_depth, load_strict, pick, read_checkpoint
from sed_core.models.backbones.vit import DropPath, drop_path_rates

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MAEASTSpec:
    dim: int
    depth: int
    heads: int
    ffn_dim: int
    patch: int = 16
    n_mels: int = 128
    dropout: float = 0.1
    attention_dropout: float = 0.1


VARIANTS = {
    "base": MAEASTSpec(dim=768, depth=12, heads=12, ffn_dim=3072),
    "tiny": MAEASTSpec(dim=32, depth=2, heads=2, ffn_dim=128),
}

# the official front end: torchaudio.compliance.kaldi.fbank defaults except use_energy=False and 128 bins
FBANK = FbankSpec(n_mels=128, window_type="povey", htk_compat=False, subtract_mean=False)


def sinusoid_table(n_positions: int, dim: int) -> torch.Tensor:
    """(1, n_positions, dim) float32: sin at even, cos at odd channels, as the official SinusoidalPositionalEncoding."""
    if dim % 2:
        raise ValueError(f"sinusoidal position embeddings need an even width, got {dim}")
    position = torch.arange(n_positions, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(1, n_positions, dim)
    table[0, :, 0::2] = torch.sin(position * div_term)
    table[0, :, 1::2] = torch.cos(position * div_term)
    return table


class SinusoidalPositions(nn.Module):
    """The first ``n_positions`` rows of the official table, kept out of the state_dict (non-persistent)."""

    def __init__(self, n_positions: int, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.register_buffer("pe", sinusoid_table(n_positions, dim), persistent=False)

    def forward(self, n: int) -> torch.Tensor:
        """(1, n, dim)."""
        if n <= self.pe.shape[1]:
            return self.pe[:, :n]
        return sinusoid_table(n, self.dim).to(self.pe)


class SelfAttention(nn.Module):
    """fairseq MultiheadAttention (self-attention, separate q/k/v projections with bias, no key padding)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, D)."""
        b, n, d = x.shape
        q, k, v = (proj(x).reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class EncoderLayer(nn.Module):
    """fairseq TransformerSentenceEncoderLayer with layer_norm_first=False (post-LN), plus optional DropPath."""

    def __init__(self, spec: MAEASTSpec, drop_path: float) -> None:
        super().__init__()
        self.self_attn = SelfAttention(spec.dim, spec.heads, spec.attention_dropout)
        self.self_attn_layer_norm = nn.LayerNorm(spec.dim, eps=1e-5)
        self.fc1 = nn.Linear(spec.dim, spec.ffn_dim)
        self.fc2 = nn.Linear(spec.ffn_dim, spec.dim)
        self.final_layer_norm = nn.LayerNorm(spec.dim, eps=1e-5)
        self.dropout = nn.Dropout(spec.dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, D)."""
        x = self.self_attn_layer_norm(x + self.drop_path(self.dropout(self.self_attn(x))))
        h = self.dropout(self.fc2(F.gelu(self.fc1(x))))  # the official activation dropout is 0
        return self.final_layer_norm(x + self.drop_path(h))


class TransformerEncoder(nn.Module):
    """Keys ``encoder.layers.{i}.*`` and ``encoder.layer_norm``, which normalises the input of the first layer."""

    def __init__(self, spec: MAEASTSpec, drop_path: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(spec, r) for r in drop_path_rates(spec.depth, drop_path))
        self.layer_norm = nn.LayerNorm(spec.dim, eps=1e-5)
        self.dropout = nn.Dropout(spec.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, D)."""
        x = self.dropout(self.layer_norm(x))
        for layer in self.layers:
            x = layer(x)
        return x


class MAEAST(Backbone):
    """(B, S) -> fbank (B, frames, 128) -> tokens (B, frames // 16, 8, D)."""

    CHECKPOINT_KEYS = ("model",)
    IGNORABLE = (
        r"encoder_mask_emb", r"decoder_mask_emb", r"layer_norm\.(weight|bias)",
        r"enc_sine_pos_embed\.pe", r"dec_sine_pos_embed\.pe",
        r"decoder\.layers\.\d+\.[\w.]+", r"decoder\.layer_norm\.(weight|bias)",
        r"final_proj_(reconstruction|classification)\.(weight|bias)",
    )
    HINT = ("expected an official MAE-AST fairseq checkpoint (ckpt['model'] with post_extract_proj.*, batch_norm.*, "
            "encoder.layers.*, decoder.*)")

    def __init__(self, spec: MAEASTSpec, *, clip_samples: int, drop_path: float = 0.0) -> None:
        super().__init__()
        self.spec = spec
        self.embed_dim = spec.dim
        frontend = KaldiFbank(FBANK)
        frames = frontend.real_frames(clip_samples)
        if frames < spec.patch:
            raise ValueError(f"MAE-AST needs at least {spec.patch} fbank frames (one patch), but a clip of "
                             f"{clip_samples} samples gives {frames}; use longer clips")
        self.frontend = KaldiFbank(FbankSpec(**{**FBANK.__dict__, "target_frames": frames}))
        self.grid = (frames // spec.patch, spec.n_mels // spec.patch)
        self.post_extract_proj = nn.Linear(spec.patch * spec.patch, spec.dim)
        self.batch_norm = nn.BatchNorm2d(1, affine=False)
        self.enc_sine_pos_embed = SinusoidalPositions(self.grid[0] * self.grid[1], spec.dim)
        self.encoder = TransformerEncoder(spec, drop_path)
        self.encoder.apply(_init_bert)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) -> (B, frames, 128) log fbank, unnormalised (the model normalises)."""
        return self.frontend(waveform)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, 128) fbank -> (B, T'F', D) patch embeddings + positions, token t*F' + f (the encoder's input)."""
        p = self.spec.patch
        b, t, f = features.shape
        t_tok, f_tok = t // p, f // p
        x = self.batch_norm(features.unsqueeze(1)).squeeze(1) * 0.5  # the official "mean 0, std 0.5"
        x = x[:, : t_tok * p, : f_tok * p].reshape(b, t_tok, p, f_tok, p)
        patches = x.permute(0, 1, 3, 2, 4).reshape(b, t_tok * f_tok, p * p)  # nn.Unfold order, time-major
        x = self.post_extract_proj(patches)
        return x + self.enc_sine_pos_embed(x.shape[1])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, 128) fbank -> (B, T // 16, 8, D) tokens, time-major."""
        b, t, f = features.shape
        x = self.encoder(self.embed(features))
        return x.reshape(b, t // self.spec.patch, f // self.spec.patch, self.spec.dim)

    def token_grid(self, n_samples: int) -> TokenGrid:
        fb = self.frontend
        centers = frame_centers(self.grid[0], self.spec.patch, fb.hop_s, fb.win_s)
        return TokenGrid(centers, valid_tokens(fb.real_frames(n_samples), self.spec.patch, self.grid[0]))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """[patch projection + the encoder's input LayerNorm], then one group per layer (no final norm)."""
        embed = [*self.post_extract_proj.parameters(), *self.encoder.layer_norm.parameters()]
        return [embed, *[list(layer.parameters()) for layer in self.encoder.layers]]

    def load_official(self, path: str | Path) -> None:
        checkpoint = read_checkpoint(path)
        state = dict(pick(checkpoint, self.CHECKPOINT_KEYS, path=path))
        self._check_config(checkpoint.get("cfg"), path)
        if "post_extract_proj.weight" in state and "batch_norm.running_mean" in state:
            self._check_architecture(state, path)
            self._check_positions(state.get("enc_sine_pos_embed.pe"), path)
        # otherwise another family or a damaged file: load_strict names the missing and unexpected keys
        ignored = load_strict(self, state, source=str(path), ignorable=self.IGNORABLE, hint=self.HINT)
        logger.info("loaded MAE-AST weights from %s (ignored %d pre-training keys)", path, len(ignored))

    def _check_config(self, cfg: object, path) -> None:
        """Compare the fairseq ``cfg`` (when the checkpoint has one) with what this module implements."""
        if not isinstance(cfg, Mapping):
            logger.info("%s: no fairseq 'cfg' in the checkpoint; the architecture is checked from the weights only",
                        path)
            return
        s = self.spec
        expected = {
            "model": {"ast_kernel_size_time": s.patch, "ast_kernel_size_chan": s.patch,
                      "ast_kernel_stride_time": s.patch, "ast_kernel_stride_chan": s.patch,
                      "encoder_layers": s.depth, "encoder_embed_dim": s.dim, "encoder_ffn_embed_dim": s.ffn_dim,
                      "encoder_attention_heads": s.heads, "activation_fn": "gelu", "layer_norm_first": False,
                      "enc_sine_pos": True, "enc_conv_pos": False},
            "task": {"feature_type": "fbank", "feature_dim": s.n_mels},
        }
        wrong = []
        for section, fields in expected.items():
            found = cfg.get(section)
            if not isinstance(found, Mapping):
                continue
            wrong += [f"{section}.{k}={found[k]!r} (expected {v!r})" for k, v in fields.items()
                      if k in found and found[k] != v]
        if wrong:
            raise CheckpointError(
                f"{path}: the checkpoint's cfg describes another MAE-AST than model.backbone (mae_ast, "
                f"{s.depth} layers, width {s.dim}, {s.heads} heads, {s.patch}x{s.patch} patches over a {s.n_mels}-bin "
                f"fbank, post-LN, sinusoidal positions): {'; '.join(wrong)}; use the 12-layer Patch checkpoint "
                f"(chunk_patch_75_12LayerEncoder.pt) or the matching variant"
            )

    def _check_architecture(self, state: dict, path) -> None:
        w = state["post_extract_proj.weight"]
        own = tuple(self.post_extract_proj.weight.shape)
        if tuple(w.shape) != own:
            raise CheckpointError(
                f"{path}: post_extract_proj.weight is {tuple(w.shape)} (width {w.shape[0]}, {w.shape[1]} values per "
                f"patch) but model.backbone (mae_ast, width {self.spec.dim}, {self.spec.patch}x{self.spec.patch} "
                f"patches) expects {own}; use the variant of that width or another checkpoint"
            )
        check_depth(state, "encoder.layers.", self.spec.depth, path=path, what="encoder layers")

    def _check_positions(self, stored: torch.Tensor | None, path) -> None:
        """The stored table must be the sinusoid table we compute (we do not load it)."""
        if stored is None:
            raise CheckpointError(f"{path}: enc_sine_pos_embed.pe is missing, but MAE-AST Patch adds sinusoidal "
                                  f"position embeddings before its encoder; {self.HINT}")
        if stored.ndim != 3 or stored.shape[0] != 1 or stored.shape[2] != self.spec.dim:
            raise CheckpointError(f"{path}: enc_sine_pos_embed.pe is {tuple(stored.shape)}, expected "
                                  f"(1, max_token_length, {self.spec.dim}) for width {self.spec.dim}")
        n_used = self.enc_sine_pos_embed.pe.shape[1]
        if stored.shape[1] < n_used:
            raise CheckpointError(f"{path}: enc_sine_pos_embed.pe has {stored.shape[1]} positions, fewer than the "
                                  f"{n_used} tokens of a {self.grid[0]}x{self.grid[1]} patch grid")
        ours = sinusoid_table(stored.shape[1], self.spec.dim)
        stored = stored.float()
        # rows far down the table differ by float32 rounding of exp/sin across platforms (~3e-3 at row 48000)
        err_used = (stored[:, :n_used] - ours[:, :n_used]).abs().max().item()
        err_all = (stored - ours).abs().max().item()
        if err_used > 1e-3 or err_all > 1e-2:
            raise CheckpointError(
                f"{path}: enc_sine_pos_embed.pe is not the sinusoid table MAE-AST defines (largest difference "
                f"{err_used:.3g} over the {n_used} rows used, {err_all:.3g} over all {stored.shape[1]}); the "
                f"checkpoint comes from another position encoding"
            )


def _init_bert(module: nn.Module) -> None:
    """fairseq init_bert_params for the encoder's linear layers: N(0, 0.02) weights, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
