"""BEATs iter3 (Chen et al., 2023, "BEATs: Audio Pre-Training with Acoustic Tokenizers") over a Kaldi fbank.

A 16x16 patch embedding of the fbank (no absolute position embedding), a convolutional position embedding, and
a post-LN ("deep norm") Transformer whose attention adds a bucketed relative position bias gated per query
(the GRU-style gate of WavLM). Tokens follow the flattened time-major patch grid (t * F' + f); the relative
positions are taken along that flattened sequence, as in the official code.

Layout: tests/data/backbone_layouts/beats_iter3.json (the reference wrapper's ``encoder.*`` keys without
that prefix). ``state_dict()`` equals it key for key, in the same order, with the same shapes; we carry every
key of the layout. Two points:

- ``encoder.layers.{i}.self_attn.relative_attention_bias.weight``: one ``Embedding(num_buckets, heads)`` owned
  by layer 0 and shared by every layer, as in the official code. ``state_dict()`` lists it under each layer
  (12 keys, one tensor), ``parameters()`` once: 90,311,792 parameters, 90,354,032 state-dict elements.
- ``encoder.pos_conv.0.{bias,weight_g,weight_v}``: the old-style ``torch.nn.utils.weight_norm(dim=2)`` names;
  ``WeightNormConv1d`` computes ``weight = weight_g * weight_v / ||weight_v||`` itself.

Official checkpoint: ``BEATs_iter3.pt`` / ``BEATs_iter3_plus_AS2M.pt`` = ``{'cfg': dict, 'model': state_dict}``,
no key prefix; it loads strictly. The fine-tuned checkpoints (``*_finetuned_on_AS2M*.pt``) also hold an
AudioSet classifier ``predictor.weight`` / ``predictor.bias``, which we do not carry: those two keys are ignored.
``cfg`` is checked against the variant (sizes, relative-position settings, post-LN deep norm).

Training-time behaviour of the official model: ``encoder_layerdrop`` (each layer skipped for the whole batch
with probability p in training; 0.05 in the iter3 cfg) takes its p from the builder's ``drop_path`` (BEATs has
no per-sample drop-path); ``layer_wise_gradient_decay_ratio`` (0.6 in iter3) scales the gradient entering each
layer from above. The iter3 dropouts are all 0, so the module has none.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from einops import rearrange
from torch import nn
from torch.nn import functional as F

from sed_core.errors import CheckpointError, ConfigError
from sed_core.models.backbones.base import Backbone, TokenGrid, frame_centers, valid_tokens
from sed_core.models.backbones.kaldi_fbank import FbankSpec, KaldiFbank
from sed_core.models.backbones.official_checkpoint import load_strict, read_checkpoint

logger = logging.getLogger(__name__)

# official preprocess(): kaldi fbank of wav * 2**15 with torchaudio's defaults (povey window, no mean removal)
FBANK = FbankSpec(n_mels=128, window_type="povey", htk_compat=False, use_energy=False, subtract_mean=False,
                  waveform_scale=2.0 ** 15, norm_mean=15.41663, norm_std=6.55582)


@dataclass(frozen=True)
class BEATsSpec:
    """Sizes of one variant; the comments give the official cfg names."""

    dim: int  # encoder_embed_dim
    depth: int  # encoder_layers
    heads: int  # encoder_attention_heads
    ffn_dim: int  # encoder_ffn_embed_dim
    patch_dim: int = 512  # embed_dim: width of the patch embedding, projected to dim
    patch: int = 16  # input_patch_size
    n_mels: int = 128
    conv_pos: int = 128  # kernel of the convolutional position embedding
    conv_pos_groups: int = 16
    num_buckets: int = 320
    max_distance: int = 800
    grad_decay: float = 0.6  # layer_wise_gradient_decay_ratio


VARIANTS = {
    "base": BEATsSpec(dim=768, depth=12, heads=12, ffn_dim=3072),
    "tiny": BEATsSpec(dim=32, depth=2, heads=2, ffn_dim=64, patch_dim=16, conv_pos=16, conv_pos_groups=4),
}

# cfg keys that fix the architecture -> spec field; a key missing from a cfg reads as BEATsConfig's default
CFG_SIZES = {"encoder_embed_dim": "dim", "encoder_layers": "depth", "encoder_attention_heads": "heads",
             "encoder_ffn_embed_dim": "ffn_dim", "embed_dim": "patch_dim", "input_patch_size": "patch",
             "conv_pos": "conv_pos", "conv_pos_groups": "conv_pos_groups", "num_buckets": "num_buckets",
             "max_distance": "max_distance"}
CFG_FIXED = {"relative_position_embedding": True, "gru_rel_pos": True, "deep_norm": True,
             "layer_norm_first": False, "conv_bias": False, "activation_fn": "gelu"}
CFG_DEFAULTS = {"encoder_embed_dim": 768, "encoder_layers": 12, "encoder_attention_heads": 12,
                "encoder_ffn_embed_dim": 3072, "embed_dim": 512, "input_patch_size": -1, "conv_pos": 128,
                "conv_pos_groups": 16, "num_buckets": 320, "max_distance": 1280, "relative_position_embedding": False,
                "gru_rel_pos": False, "deep_norm": False, "layer_norm_first": False, "conv_bias": False,
                "activation_fn": "gelu", "layer_wise_gradient_decay_ratio": 1.0}
CFG_DROPOUTS = ("dropout", "attention_dropout", "activation_dropout", "dropout_input")


def official_cfg(spec: BEATsSpec) -> dict[str, object]:
    """The official ``ckpt['cfg']`` entries that describe a model of this spec (as BEATs_iter3.pt has them)."""
    fields = asdict(spec)
    return {**{key: fields[name] for key, name in CFG_SIZES.items()}, **CFG_FIXED,
            "layer_wise_gradient_decay_ratio": spec.grad_decay, "finetuned_model": False}


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the backward multiplies the gradient by ``scale`` (fairseq's GradMultiply)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.scale, None


def scale_grad(x: torch.Tensor, scale: float) -> torch.Tensor:
    return _ScaleGrad.apply(x, scale)


def relative_position_bucket(relative: torch.Tensor, num_buckets: int, max_distance: int) -> torch.Tensor:
    """T5's bidirectional buckets of ``relative`` = key position - query position (integer tensor).

    Half the buckets per direction; distances below a quarter of ``num_buckets`` get one bucket each, larger
    ones share log-spaced buckets up to ``max_distance`` (beyond it the last bucket).
    """
    half = num_buckets // 2
    exact = half // 2
    distance = relative.abs()
    log_ratio = torch.log(distance.clamp(min=exact).float() / exact) / math.log(max_distance / exact)
    large = (exact + (log_ratio * (half - exact)).long()).clamp(max=half - 1)
    return (relative > 0).long() * half + torch.where(distance < exact, distance, large)


class WeightNormConv1d(nn.Module):
    """Grouped "same" Conv1d with weight norm over the kernel axis: (B, C, T) -> (B, C, T).

    ``weight = weight_g * weight_v / ||weight_v||`` with the norm over output and input channels for each kernel
    tap (``torch.nn.utils.weight_norm(conv, dim=2)``); zero padding of kernel // 2 on each side, the extra last
    frame of an even kernel dropped (the official SamePad).
    """

    def __init__(self, channels: int, kernel: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        self.bias = nn.Parameter(torch.zeros(channels))
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(torch.empty(channels, channels // groups, kernel))
        nn.init.normal_(self.weight_v, std=math.sqrt(4 / (kernel * channels)))
        with torch.no_grad():
            self.weight_g.copy_(self._v_norm())

    def _v_norm(self) -> torch.Tensor:
        return torch.linalg.vector_norm(self.weight_v, dim=(0, 1), keepdim=True)  # (1, 1, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_v * (self.weight_g / self._v_norm())
        kernel = weight.shape[-1]
        out = F.conv1d(x, weight, self.bias, padding=kernel // 2, groups=self.groups)
        return out[..., : x.shape[-1]]


class RelPositionAttention(nn.Module):
    """Multi-head self-attention plus a gated relative position bias: (B, N, D), (H, N, N) -> (B, N, D).

    The bias of query i is scaled by a gate from that query, ``a * (b * grep_a - 1) + 2`` with (a, b) the
    sigmoids of two sums of ``grep_linear(q_i)``; only the layer that owns ``relative_attention_bias`` builds it.
    """

    def __init__(self, dim: int, heads: int, *, num_buckets: int, max_distance: int, owns_bias: bool) -> None:
        super().__init__()
        self.heads = heads
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.grep_a = nn.Parameter(torch.ones(1, heads, 1, 1))
        if owns_bias:
            self.relative_attention_bias = nn.Embedding(num_buckets, heads)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.grep_linear = nn.Linear(dim // heads, 8)

    def position_bias(self, n_tokens: int) -> torch.Tensor:
        """(H, N, N) bias of key j for query i, from the bucket of j - i."""
        pos = torch.arange(n_tokens, device=self.relative_attention_bias.weight.device)
        buckets = relative_position_bucket(pos[None, :] - pos[:, None], self.num_buckets, self.max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor) -> torch.Tensor:
        q, k, v = (rearrange(proj(x), "b n (h e) -> b h n e", h=self.heads)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))
        gate_a, gate_b = torch.sigmoid(self.grep_linear(q).unflatten(-1, (2, 4)).sum(-1)).chunk(2, dim=-1)
        gate = gate_a * (gate_b * self.grep_a - 1.0) + 2.0  # (B, H, N, 1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=gate * position_bias)  # (B, H, N, E)
        return self.out_proj(rearrange(out, "b h n e -> b n (h e)"))


class EncoderLayer(nn.Module):
    """Post-LN block with deep-norm residual scaling alpha = (2 * depth) ** 0.25: (B, N, D) -> (B, N, D)."""

    def __init__(self, spec: BEATsSpec, *, owns_bias: bool) -> None:
        super().__init__()
        self.self_attn = RelPositionAttention(spec.dim, spec.heads, num_buckets=spec.num_buckets,
                                              max_distance=spec.max_distance, owns_bias=owns_bias)
        self.self_attn_layer_norm = nn.LayerNorm(spec.dim)
        self.fc1 = nn.Linear(spec.dim, spec.ffn_dim)
        self.fc2 = nn.Linear(spec.ffn_dim, spec.dim)
        self.final_layer_norm = nn.LayerNorm(spec.dim)
        self.alpha = math.pow(2 * spec.depth, 1 / 4)

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor) -> torch.Tensor:
        x = self.self_attn_layer_norm(x * self.alpha + self.self_attn(x, position_bias))
        return self.final_layer_norm(x * self.alpha + self.fc2(F.gelu(self.fc1(x))))


class TransformerEncoder(nn.Module):
    """(B, N, D) -> LayerNorm(x + conv position embedding) -> post-LN layers -> (B, N, D)."""

    def __init__(self, spec: BEATsSpec, *, layerdrop: float) -> None:
        super().__init__()
        # index 0 keeps the official key encoder.pos_conv.0.*
        self.pos_conv = nn.Sequential(WeightNormConv1d(spec.dim, spec.conv_pos, spec.conv_pos_groups), nn.GELU())
        self.layers = nn.ModuleList(EncoderLayer(spec, owns_bias=i == 0) for i in range(spec.depth))
        for layer in self.layers[1:]:
            layer.self_attn.relative_attention_bias = self.layers[0].self_attn.relative_attention_bias
        self.layer_norm = nn.LayerNorm(spec.dim)
        self.layerdrop = layerdrop
        self.grad_decay = spec.grad_decay
        self._init_weights(spec.depth)

    def _init_weights(self, depth: int) -> None:
        """The official random init: BERT's normal(0, 0.02), then deep norm's scaled Xavier."""
        for module in self.layers.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
        beta = math.pow(8 * depth, -1 / 4)
        for layer in self.layers:
            attn = layer.self_attn
            for linear, gain in ((attn.k_proj, 1.0), (attn.v_proj, beta), (attn.q_proj, 1.0),
                                 (attn.out_proj, beta), (layer.fc1, beta), (layer.fc2, beta)):
                nn.init.xavier_normal_(linear.weight, gain=gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer_norm(x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2))
        position_bias = self.layers[0].self_attn.position_bias(x.shape[1])
        for layer in self.layers:
            if self.grad_decay != 1.0:
                x = scale_grad(x, self.grad_decay)
            if self.training and self.layerdrop > 0 and torch.rand(()).item() < self.layerdrop:
                continue
            x = layer(x, position_bias)
        return x


class BEATs(Backbone):
    """(B, S) -> fbank (B, frames, 128) -> tokens (B, frames // 16, 8, D)."""

    IGNORABLE = (r"predictor\.(weight|bias)",)

    def __init__(self, spec: BEATsSpec, *, clip_samples: int, drop_path: float = 0.0) -> None:
        super().__init__()
        self.spec = spec
        self.embed_dim = spec.dim
        frames = KaldiFbank(FBANK).real_frames(clip_samples)
        if frames < spec.patch:
            raise ConfigError(f"data.clip_seconds: a clip of {clip_samples} samples gives {frames} fbank frames, "
                              f"fewer than one BEATs patch ({spec.patch} frames); use clips of at least 0.2 s")
        self.frontend = KaldiFbank(FbankSpec(**{**asdict(FBANK), "target_frames": frames}))
        self.grid = (frames // spec.patch, spec.n_mels // spec.patch)
        self.post_extract_proj = nn.Linear(spec.patch_dim, spec.dim) if spec.patch_dim != spec.dim else nn.Identity()
        self.patch_embedding = nn.Conv2d(1, spec.patch_dim, kernel_size=spec.patch, stride=spec.patch, bias=False)
        self.encoder = TransformerEncoder(spec, layerdrop=drop_path)
        self.layer_norm = nn.LayerNorm(spec.patch_dim)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) -> (B, frames, 128), padded or cut to the clip's frame count (998 for 10 s; not padded to
        whole patches: the patch embedding drops the last frames % 16, as the official model does)."""
        return self.frontend(waveform)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, frames, mels) -> (B, frames // 16, mels // 16, D)."""
        x = self.patch_embedding(features.unsqueeze(1))  # (B, C, T', F')
        b, _, t, f = x.shape
        x = self.post_extract_proj(self.layer_norm(x.flatten(2).transpose(1, 2)))  # (B, T'F', D), token t*F' + f
        return self.encoder(x).reshape(b, t, f, self.embed_dim)

    def token_grid(self, n_samples: int) -> TokenGrid:
        fb = self.frontend
        centers = frame_centers(self.grid[0], self.spec.patch, fb.hop_s, fb.win_s)
        return TokenGrid(centers, valid_tokens(fb.real_frames(n_samples), self.spec.patch, self.grid[0]))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Patch embedding, its norm and projection, the conv position embedding and the encoder's input norm;
        then one group per layer (the shared relative position bias with layer 0, which owns it)."""
        enc = self.encoder
        embed = [*self.patch_embedding.parameters(), *self.layer_norm.parameters(),
                 *self.post_extract_proj.parameters(), *enc.pos_conv.parameters(), *enc.layer_norm.parameters()]
        shared = enc.layers[0].self_attn.relative_attention_bias.weight
        layers = [[p for p in layer.parameters() if i == 0 or p is not shared] for i, layer in enumerate(enc.layers)]
        return [embed, *layers]

    def load_official(self, path: str | Path) -> None:
        checkpoint = read_checkpoint(path)
        state = checkpoint.get("model")
        if not isinstance(state, Mapping):
            raise CheckpointError(f"{path}: not an official BEATs checkpoint: expected top-level keys 'cfg' and "
                                  f"'model' (BEATs_iter3*.pt), found {sorted(map(str, checkpoint))[:10]}")
        self._check_family(state, path)
        self._check_architecture(state, path)
        cfg = checkpoint.get("cfg")
        if isinstance(cfg, Mapping):
            self._check_cfg(cfg, path)
        self._check_shared_bias(state, path)
        ignored = load_strict(self, state, source=str(path), ignorable=self.IGNORABLE,
                              hint="expected an official BEATs checkpoint ({'cfg', 'model'}, no key prefix)")
        logger.info("loaded BEATs weights from %s (ignored %s)", path, ignored or "nothing")

    @staticmethod
    def _check_family(state: Mapping, path) -> None:
        if "patch_embedding.weight" in state or any(k.startswith("encoder.layers.") for k in state):
            return
        stems = sorted({k.split(".")[0] for k in state})[:8]
        raise CheckpointError(f"{path}: the weights under 'model' are not a BEATs encoder (no patch_embedding.weight "
                              f"or encoder.layers.*; top-level names {stems}); is it another model family, e.g. a "
                              f"ViT (cls_token, blocks.*)? use that backbone's name or an official BEATs checkpoint")

    def _check_architecture(self, state: Mapping, path) -> None:
        found = _describe(state)
        expected = _describe_spec(self.spec)
        if found is None or found == expected:
            return  # missing keys are named by load_strict
        fits = [name for name, spec in VARIANTS.items() if _describe_spec(spec) == found]
        fix = f"use model.backbone.variant {fits[0]!r}" if fits else "no beats variant has this size"
        raise CheckpointError(f"{path}: the checkpoint is a BEATs of {_format(found)} but the model is "
                              f"{_format(expected)}; {fix}")

    def _check_cfg(self, cfg: Mapping, path) -> None:
        expected = official_cfg(self.spec)
        wrong = [f"{key}={cfg.get(key, CFG_DEFAULTS[key])!r} (model: {expected[key]!r})"
                 for key in (*CFG_SIZES, *CFG_FIXED) if cfg.get(key, CFG_DEFAULTS[key]) != expected[key]]
        if wrong:
            raise CheckpointError(f"{path}: the checkpoint's cfg describes another BEATs architecture: "
                                  f"{', '.join(wrong)}; this module implements iter3 (relative position bias with "
                                  f"gates, post-LN deep norm) at the sizes of the chosen variant")
        decay = cfg.get("layer_wise_gradient_decay_ratio", CFG_DEFAULTS["layer_wise_gradient_decay_ratio"])
        if decay != self.spec.grad_decay:
            logger.warning("%s: cfg layer_wise_gradient_decay_ratio=%s; the model keeps %s", path, decay,
                           self.spec.grad_decay)
        active = {k: cfg[k] for k in CFG_DROPOUTS if cfg.get(k, 0.0)}
        if active:
            logger.warning("%s: cfg dropouts %s are not applied (this module has none, as iter3)", path, active)

    @staticmethod
    def _check_shared_bias(state: Mapping, path) -> None:
        """The official model has one relative position bias; its copies in the state dict must agree."""
        copies = {k: v for k, v in state.items() if k.endswith(".self_attn.relative_attention_bias.weight")}
        first = copies.get("encoder.layers.0.self_attn.relative_attention_bias.weight")
        if first is None:
            return
        differ = sorted(k for k, v in copies.items() if v.shape == first.shape and not torch.equal(v, first))
        if differ:
            raise CheckpointError(f"{path}: BEATs shares one relative position bias across layers, but {differ[:4]} "
                                  f"differ from layer 0's; not an official BEATs checkpoint")


def _describe(state: Mapping) -> tuple[int, ...] | None:
    """(patch, patch_dim, dim, depth, heads) read from the key shapes; None when a key is missing."""
    try:
        patch_w = state["patch_embedding.weight"]  # (patch_dim, 1, patch, patch)
        dim = state["encoder.layer_norm.weight"].shape[0]
        heads = state["encoder.layers.0.self_attn.grep_a"].shape[1]
    except KeyError:
        return None
    depth = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layers."))
    return patch_w.shape[-1], patch_w.shape[0], dim, depth, heads


def _describe_spec(spec: BEATsSpec) -> tuple[int, ...]:
    return spec.patch, spec.patch_dim, spec.dim, spec.depth, spec.heads


def _format(arch: tuple[int, ...]) -> str:
    patch, patch_dim, dim, depth, heads = arch
    return f"width {dim}, {depth} layers, {heads} heads (patch {patch}x{patch}, patch embedding {patch_dim})"
