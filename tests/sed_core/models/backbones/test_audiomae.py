from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchaudio

from sed_core.errors import CheckpointError
from sed_core.models import BACKBONES
from sed_core.models.backbones.audiomae import AudioMAE, AudioMAESpec, sincos_pos_embed

SR = 16000
CLIP_10S = 10 * SR
CLIP_4S = 4 * SR
PREFIX = "audioMAE.encoder."

build_audiomae = BACKBONES.get("audiomae").build


@pytest.fixture(scope="module")
def layout(backbone_layouts_dir: Path) -> dict:
    return json.loads((backbone_layouts_dir / "audiomae_vitb16.json").read_text())


@pytest.fixture(scope="module")
def base_meta() -> AudioMAE:
    with torch.device("meta"):
        return build_audiomae("base", clip_samples=CLIP_10S, drop_path=0.1)


def tiny(seed: int = 0, spec: AudioMAESpec | None = None) -> AudioMAE:
    torch.manual_seed(seed)
    if spec is None:
        model = build_audiomae("tiny", clip_samples=CLIP_4S, drop_path=0.0)
    else:
        model = AudioMAE(spec, clip_samples=CLIP_4S)
    with torch.no_grad():
        for p in model.parameters():  # LayerNorms away from identity; pos_embed too, so a wrong row shows
            p.normal_(0, 0.1)
    return model.eval()


def identity_blocks(model: AudioMAE) -> AudioMAE:
    """Zero each residual branch's output layer: the blocks pass tokens through unchanged."""
    with torch.no_grad():
        for block in model.blocks:
            for layer in (block.attn.proj, block.mlp.fc2):
                layer.weight.zero_()
                layer.bias.zero_()
    return model


def official_checkpoint(model: AudioMAE, *, extra_pos: int = 0) -> dict:
    """``model`` saved as AudioMAE's misc.save_model dict of a MaskedAutoencoderViT (decoder width 16)."""
    d, dd = model.embed_dim, 16
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["pos_embed"] = torch.cat([state["pos_embed"], torch.randn(1, extra_pos, d)], dim=1)
    state.update({
        "mask_token": torch.randn(1, 1, dd), "decoder_pos_embed": torch.randn(1, state["pos_embed"].shape[1], dd),
        "decoder_embed.weight": torch.randn(dd, d), "decoder_embed.bias": torch.randn(dd),
        "decoder_blocks.0.attn.tau": torch.randn(1, 4, 1, 1), "decoder_blocks.0.norm1.weight": torch.randn(dd),
        "decoder_norm.weight": torch.randn(dd), "decoder_norm.bias": torch.randn(dd),
        "decoder_pred.weight": torch.randn(256, dd), "decoder_pred.bias": torch.randn(256),
    })
    return {"model": state, "optimizer": {"state": {}, "param_groups": []}, "epoch": 32, "scaler": {"scale": 1.0},
            "args": argparse.Namespace(model="mae_vit_base_patch16", mask_ratio=0.8, norm_pix_loss=True)}


def official_sincos(embed_dim: int, grid_size: tuple[int, int]) -> np.ndarray:
    """AudioMAE util/pos_embed.py ``get_2d_sincos_pos_embed_flexible(..., cls_token=True)``, written out plainly."""
    def one_d(dim: int, pos: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    grid = np.stack(np.meshgrid(np.arange(grid_size[1], dtype=np.float32), np.arange(grid_size[0], dtype=np.float32)))
    grid = grid.reshape(2, 1, grid_size[0], grid_size[1])
    emb = np.concatenate([one_d(embed_dim // 2, grid[0]), one_d(embed_dim // 2, grid[1])], axis=1)
    return np.concatenate([np.zeros([1, embed_dim]), emb], axis=0)


def test_base_state_dict_matches_the_layout_key_for_key(layout: dict, base_meta: AudioMAE) -> None:
    expected = [(k.removeprefix(PREFIX), shape) for k, shape, _ in layout["state_dict"]
                if not k.startswith(PREFIX + "head.")]
    head = sum(torch.Size(s).numel() for k, s, _ in layout["state_dict"] if k.startswith(PREFIX + "head."))
    assert head == 1000 * 768 + 1000
    assert [(k, list(v.shape)) for k, v in base_meta.state_dict().items()] == expected
    params = list(base_meta.parameters())
    assert sum(p.numel() for p in params) == layout["n_params"] - head == 85_648_128
    assert sum(p.numel() for p in params if p.requires_grad) == layout["n_params_trainable"] - head
    assert [n for n, p in base_meta.named_parameters() if not p.requires_grad] == ["pos_embed"]


def test_the_frozen_position_table_is_audiomae_sincos() -> None:
    ours = sincos_pos_embed(768, (8, 64))
    assert ours.shape == (1, 513, 768)
    torch.testing.assert_close(ours[0], torch.from_numpy(official_sincos(768, (8, 64))).float(), rtol=0, atol=1e-6)
    model = build_audiomae("tiny", clip_samples=CLIP_4S, drop_path=0.0)
    assert torch.equal(model.pos_embed.detach(), sincos_pos_embed(32, (8, 25)))


def test_base_output_shape_for_a_10s_clip(layout: dict, base_meta: AudioMAE) -> None:
    features = base_meta.features(torch.randn(1, CLIP_10S))  # the front end has no weights: runs on the CPU
    assert list(features.shape[1:]) == [998, 128]  # layout input: (B, 998, 128), not padded
    with torch.device("meta"):
        tokens = base_meta(torch.empty(2, *features.shape[1:]))
    b, t_out, d = layout["output"]["wrapper_output"]
    assert tuple(tokens.shape) == (b, t_out, 8, d)
    assert tokens.shape[1] * tokens.shape[2] == layout["output"]["patch_tokens"][1]


def test_front_end_is_the_reference_kaldi_recipe(base_meta: AudioMAE) -> None:
    torch.manual_seed(0)
    wav = torch.randn(2, CLIP_10S)
    ours = base_meta.features(wav)
    for i in range(2):
        w = (wav[i] - wav[i].mean()).unsqueeze(0)
        ref = torchaudio.compliance.kaldi.fbank(w, htk_compat=True, sample_frequency=SR, use_energy=False,
                                                window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10)
        ref = (ref - -6.030435443767988) / (4.102992546322562 * 2)
        torch.testing.assert_close(ours[i], ref, rtol=0, atol=1e-6)


def test_tokens_are_time_major() -> None:
    model = identity_blocks(tiny())
    t, f = model.grid
    x = torch.randn(1, model.frontend.spec.target_frames, 128)
    bumped = x.clone()
    bumped[0, 3 * 16:4 * 16, 5 * 16:6 * 16] += 1.0  # time patch 3, frequency patch 5
    with torch.no_grad():
        changed = (model(bumped) - model(x)).abs().amax(dim=-1)[0]  # (T', F')
    assert changed.shape == (t, f)
    assert torch.nonzero(changed > 1e-6).tolist() == [[3, 5]]


def test_the_layout_token_index_is_time_major(layout: dict) -> None:
    (index,) = layout["output"]["grid_check_bump_at_time_patch3_freq_patch5_changes_token"]
    assert index == 3 * 8 + 5


def test_a_short_clip_uses_the_prefix_of_the_position_table() -> None:
    model = identity_blocks(tiny(spec=AudioMAESpec(dim=32, depth=2, heads=2, target_frames=None, pos_frames=1024)))
    with torch.no_grad():
        model.patch_embed.proj.weight.zero_()
        model.patch_embed.proj.bias.zero_()
        tokens = model(torch.randn(1, model.frontend.spec.target_frames, 128))[0]
    t, f = model.grid
    assert model.pos_embed.shape == (1, 1 + 64 * 8, 32) and t == 25
    expected = model.norm(model.pos_embed[0, 1:1 + t * f]).reshape(t, f, -1)
    torch.testing.assert_close(tokens, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("extra_pos", [0, 24])
def test_official_checkpoint_loads_and_gives_the_same_output(tmp_path: Path, extra_pos: int) -> None:
    source = tiny(seed=1)
    path = tmp_path / "pretrained.pth"
    torch.save(official_checkpoint(source, extra_pos=extra_pos), path)
    target = tiny(seed=2)
    target.load_official(path)
    assert not target.pos_embed.requires_grad
    x = torch.randn(2, source.frontend.spec.target_frames, 128)
    with torch.no_grad():
        assert torch.equal(target(x), source(x))


def save(checkpoint: dict, path: Path) -> Path:
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize("case, message", [
    ("asit_teacher", r"expected the weights under one of \['model'\]"),
    ("ssast", r"expected the weights under one of \['model'\]"),
    ("beats", r"missing \['blocks.0.attn.proj.bias'.*expected the official AudioMAE pre-training checkpoint"),
    ("fine_tuned", "fine-tuned AudioMAE"),
    ("wider", "width 64"),
    ("deeper", "3 encoder blocks"),
    ("missing", r"missing \['norm.weight'\]"),
    ("unexpected", r"unexpected \['extra'\]"),
    ("short_pos", "pre-trained on a shorter input"),
])
def test_bad_checkpoints_raise_naming_the_problem(tmp_path: Path, case: str, message: str) -> None:
    model = tiny()
    checkpoint = official_checkpoint(model)
    state = checkpoint["model"]
    if case == "asit_teacher":
        checkpoint = {"teacher": {f"backbone.{k}": v for k, v in state.items()}}
    elif case == "ssast":
        checkpoint = {f"module.v.{k}": v for k, v in state.items()}
    elif case == "beats":
        checkpoint = {"cfg": {"encoder_layers": 2}, "model": {"patch_embedding.weight": torch.randn(32, 1, 16, 16),
                                                             "encoder.layers.0.fc1.weight": torch.randn(64, 32)}}
    elif case == "fine_tuned":
        state["fc_norm.weight"], state["fc_norm.bias"] = state.pop("norm.weight"), state.pop("norm.bias")
    elif case == "wider":
        checkpoint = official_checkpoint(AudioMAE(AudioMAESpec(dim=64, depth=2, heads=2, target_frames=None,
                                                               pos_frames=None), clip_samples=CLIP_4S))
    elif case == "deeper":
        state["blocks.2.norm1.weight"] = torch.ones(32)
    elif case == "missing":
        del state["norm.weight"]
    elif case == "unexpected":
        state["extra"] = torch.ones(1)
    elif case == "short_pos":
        state["pos_embed"] = state["pos_embed"][:, :-8]
    with pytest.raises(CheckpointError, match=message):
        tiny().load_official(save(checkpoint, tmp_path / "bad.pth"))


def test_token_grid_matches_forward_and_marks_padding(base_meta: AudioMAE) -> None:
    grid = base_meta.token_grid(CLIP_10S)
    assert len(grid.centers_s) == 62 == base_meta.grid[0]
    assert grid.n_valid == 62
    assert torch.all(grid.centers_s.diff() > 0)
    assert grid.centers_s[0].item() == pytest.approx(7.5 * 0.01 + 0.0125)
    assert grid.centers_s.diff()[0].item() == pytest.approx(0.16)
    assert base_meta.token_grid(CLIP_4S).n_valid == 25
    model = tiny()
    with torch.no_grad():
        tokens = model(model.features(torch.randn(1, CLIP_4S)))
    assert tokens.shape[1] == len(model.token_grid(CLIP_4S).centers_s) == model.token_grid(CLIP_4S).n_valid


@pytest.mark.parametrize("model", ["tiny", "base"])
def test_layer_groups_partition_the_trainable_parameters(model: str, base_meta: AudioMAE) -> None:
    m = tiny() if model == "tiny" else base_meta
    groups = m.layer_groups()
    assert len(groups) == 1 + m.spec.depth + 1
    flat = [id(p) for g in groups for p in g]
    assert len(flat) == len(set(flat))
    assert set(flat) == {id(p) for p in m.parameters() if p.requires_grad}
    assert {id(p) for p in m.parameters()} - set(flat) == {id(m.pos_embed)}  # frozen sin-cos table


def test_every_trainable_parameter_gets_a_gradient() -> None:
    model = tiny().train()
    model(torch.randn(2, model.frontend.spec.target_frames, 128)).square().mean().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0] == ["pos_embed"]


def test_features_of_another_length_are_refused() -> None:
    model = tiny()
    with pytest.raises(ValueError, match="compute them with features"):
        model(torch.randn(1, model.frontend.spec.target_frames + 32, 128))
