from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torchaudio

from sed_core.errors import CheckpointError
from sed_core.models import BACKBONES
from sed_core.models.backbones.ssast import SSAST, SSASTSpec

SR = 16000
CLIP_10S = 10 * SR
CLIP_4S = 4 * SR
NOT_CARRIED = r"ssast\.v\.head\..*|ssast\.v\.head_dist\..*|ssast\.mlp_head\..*"

build_ssast = BACKBONES.get("ssast").build


@pytest.fixture(scope="module")
def layout(backbone_layouts_dir: Path) -> dict:
    return json.loads((backbone_layouts_dir / "ssast_patch_base.json").read_text())


@pytest.fixture(scope="module")
def base_meta() -> SSAST:
    with torch.device("meta"):
        return build_ssast("base", clip_samples=CLIP_10S, drop_path=0.1)


def tiny(seed: int = 0) -> SSAST:
    torch.manual_seed(seed)
    model = build_ssast("tiny", clip_samples=CLIP_4S, drop_path=0.0).eval()
    with torch.no_grad():
        for p in model.parameters():  # LayerNorms away from identity, so a wrong mapping shows
            p.normal_(0, 0.1)
    return model


def identity_blocks(model: SSAST) -> SSAST:
    """Zero each residual branch's output layer: the blocks pass tokens through unchanged."""
    with torch.no_grad():
        for block in model.v.blocks:
            for layer in (block.attn.proj, block.mlp.fc2):
                layer.weight.zero_()
                layer.bias.zero_()
    return model


def official_state(model: SSAST, *, extra_time: int = 0) -> dict[str, torch.Tensor]:
    """``model`` saved as the official pre-training DataParallel state_dict, pos_embed on a wider time grid."""
    f, t = model.grid
    d = model.embed_dim
    state = {f"module.{k}": v.clone() for k, v in model.state_dict().items()}
    pos = state["module.v.pos_embed"]
    grid = pos[:, 2:].reshape(1, f, t, d)
    left = torch.randn(1, f, extra_time // 2, d)
    right = torch.randn(1, f, extra_time - extra_time // 2, d)
    wide = torch.cat([left, grid, right], dim=2).reshape(1, f * (t + extra_time), d)
    state["module.v.pos_embed"] = torch.cat([pos[:, :2], wide], dim=1)
    frames = model.frontend.spec.target_frames + 16 * extra_time
    state.update({
        "module.p_input_fdim": torch.tensor(128), "module.p_input_tdim": torch.tensor(frames),
        "module.mask_embed": torch.randn(1, 1, d),
        "module.v.head.weight": torch.randn(1000, d), "module.v.head.bias": torch.randn(1000),
        "module.v.head_dist.weight": torch.randn(1000, d), "module.v.head_dist.bias": torch.randn(1000),
    })
    for head in ("cpredlayer", "gpredlayer"):
        state.update({f"module.{head}.0.weight": torch.randn(d, d), f"module.{head}.0.bias": torch.randn(d),
                      f"module.{head}.2.weight": torch.randn(256, d), f"module.{head}.2.bias": torch.randn(256)})
    return state


def test_base_state_dict_matches_the_layout_key_for_key(layout: dict, base_meta: SSAST) -> None:
    expected = [(k.removeprefix("ssast."), shape) for k, shape, _ in layout["state_dict"]
                if not re.fullmatch(NOT_CARRIED, k)]
    dropped = [k for k, _, _ in layout["state_dict"] if re.fullmatch(NOT_CARRIED, k)]
    assert len(dropped) == 8  # v.head, v.head_dist, mlp_head.0 (LayerNorm), mlp_head.1 (Linear): weight + bias
    ours = [(k, list(v.shape)) for k, v in base_meta.state_dict().items()]
    assert ours == expected
    dropped_numel = sum(torch.Size(s).numel() for k, s, _ in layout["state_dict"] if k in dropped)
    n_params = sum(p.numel() for p in base_meta.parameters())
    assert n_params == layout["n_params"] - dropped_numel == 85_637_376
    assert all(p.requires_grad for p in base_meta.parameters())


def test_base_output_shape_for_a_10s_clip(layout: dict, base_meta: SSAST) -> None:
    features = base_meta.features(torch.randn(1, CLIP_10S))  # the front end has no weights: runs on the CPU
    assert list(features.shape[1:]) == [998, 128]  # layout input: (B, 998, 128), not padded
    with torch.device("meta"):
        tokens = base_meta(torch.empty(2, *features.shape[1:]))
    b, t_out, d = layout["output"]["wrapper_output"]
    assert tuple(tokens.shape) == (b, t_out, 8, d)
    assert tokens.shape[1] * tokens.shape[2] == layout["output"]["patch_tokens"][1]


def test_front_end_is_the_reference_kaldi_recipe() -> None:
    torch.manual_seed(0)
    wav = torch.randn(2, CLIP_10S)
    model = build_ssast("tiny", clip_samples=CLIP_10S, drop_path=0.0)
    with torch.device("meta"):
        base_model = build_ssast("base", clip_samples=CLIP_10S, drop_path=0.0)
    ours = base_model.features(wav)  # the front end has no weights: it runs on the CPU waveform
    for i in range(2):
        w = (wav[i] - wav[i].mean()).unsqueeze(0)
        ref = torchaudio.compliance.kaldi.fbank(w, htk_compat=True, sample_frequency=SR, use_energy=False,
                                                window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10)
        ref = (ref - -6.030435443767988) / (4.102992546322562 * 2)
        torch.testing.assert_close(ours[i], ref, rtol=0, atol=1e-6)
    assert model.features(wav).shape == (2, 1008, 128)  # tiny: the clip's frames rounded up to whole patches


def test_frequency_major_tokens_come_out_time_major() -> None:
    model = identity_blocks(tiny())
    f, t = model.grid
    x = torch.randn(1, model.frontend.spec.target_frames, 128)
    bumped = x.clone()
    bumped[0, 3 * 16:4 * 16, 5 * 16:6 * 16] += 1.0  # time patch 3, frequency patch 5
    with torch.no_grad():
        changed = (model(bumped) - model(x)).abs().amax(dim=-1)[0]  # (T', F')
    assert changed.shape == (t, f)
    assert torch.nonzero(changed > 1e-6).tolist() == [[3, 5]]


def test_the_layout_token_index_is_frequency_major(layout: dict) -> None:
    (index,) = layout["output"]["grid_check_bump_at_time_patch3_freq_patch5_changes_token"]
    assert index == 5 * 62 + 3  # f * T' + t, the order forward() undoes


@pytest.mark.parametrize("extra_time", [0, 2])
def test_official_checkpoint_loads_and_gives_the_same_output(tmp_path: Path, extra_time: int) -> None:
    source = tiny(seed=1)
    path = tmp_path / "SSAST-Tiny-Patch.pth"
    torch.save(official_state(source, extra_time=extra_time), path)
    target = tiny(seed=2)
    target.load_official(path)
    x = torch.randn(2, source.frontend.spec.target_frames, 128)
    with torch.no_grad():
        assert torch.equal(target(x), source(x))


def test_a_shorter_pretraining_grid_is_interpolated_along_time(tmp_path: Path) -> None:
    model = tiny()
    f, t = model.grid
    state = official_state(model)
    rows = torch.arange(f, dtype=torch.float32)[:, None, None].expand(f, t - 4, model.embed_dim)
    state["module.v.pos_embed"] = torch.cat([torch.zeros(1, 2, model.embed_dim), rows.reshape(1, -1, model.embed_dim)],
                                            dim=1)
    state["module.p_input_tdim"] = torch.tensor(16 * (t - 4))
    torch.save(state, tmp_path / "short.pth")
    model.load_official(tmp_path / "short.pth")
    grid = model.v.pos_embed[0, 2:].detach().reshape(f, t, -1)
    assert torch.allclose(grid, torch.arange(f, dtype=torch.float32)[:, None, None].expand_as(grid))


def save(state: dict, path: Path) -> Path:
    torch.save(state, path)
    return path


@pytest.mark.parametrize("case, message", [
    ("asit_teacher", "non-tensor top-level entries"),
    ("audiomae", "non-tensor top-level entries"),
    ("wider", "width 64"),
    ("deeper", "3 transformer blocks"),
    ("frame_model", "patch 128 mel x 2 frames"),
    ("missing", r"missing \['v.norm.weight'\]"),
    ("unexpected", r"unexpected \['v.extra'\]"),
])
def test_bad_checkpoints_raise_naming_the_problem(tmp_path: Path, case: str, message: str) -> None:
    model = tiny()
    state = official_state(model)
    if case == "asit_teacher":
        state = {"teacher": {f"backbone.{k[len('module.v.'):]}": v for k, v in state.items()}, "epoch": 3}
    elif case == "audiomae":
        state = {"model": {k[len("module.v."):]: v for k, v in state.items() if k.startswith("module.v.")}}
    elif case == "wider":
        state = official_state(SSAST(SSASTSpec(dim=64, depth=2, heads=2, target_frames=None), clip_samples=CLIP_4S))
    elif case == "deeper":
        state["module.v.blocks.2.norm1.weight"] = torch.ones(32)
    elif case == "frame_model":
        state["module.v.patch_embed.proj.weight"] = torch.randn(32, 1, 128, 2)
    elif case == "missing":
        del state["module.v.norm.weight"]
    elif case == "unexpected":
        state["module.v.extra"] = torch.ones(1)
    with pytest.raises(CheckpointError, match=message):
        tiny().load_official(save(state, tmp_path / "bad.pth"))


def test_token_grid_matches_forward_and_marks_padding(base_meta: SSAST) -> None:
    grid = base_meta.token_grid(CLIP_10S)
    assert len(grid.centers_s) == 62 == base_meta.grid[1]
    assert grid.n_valid == 62
    assert torch.all(grid.centers_s.diff() > 0)
    assert grid.centers_s[0].item() == pytest.approx(7.5 * 0.01 + 0.0125)  # frames 0..15 of a 25 ms / 10 ms fbank
    assert grid.centers_s.diff()[0].item() == pytest.approx(0.16)
    assert base_meta.token_grid(CLIP_4S).n_valid == 25  # 398 real frames: centre frame 24*16+7.5 < 398 < 25*16+7.5
    model = tiny()
    with torch.no_grad():
        tokens = model(model.features(torch.randn(1, CLIP_4S)))
    assert tokens.shape[1] == len(model.token_grid(CLIP_4S).centers_s) == model.token_grid(CLIP_4S).n_valid


@pytest.mark.parametrize("model", ["tiny", "base"])
def test_layer_groups_partition_the_parameters(model: str, base_meta: SSAST) -> None:
    m = tiny() if model == "tiny" else base_meta
    groups = m.layer_groups()
    assert len(groups) == 1 + m.spec.depth + 1
    flat = [id(p) for g in groups for p in g]
    assert len(flat) == len(set(flat))
    assert set(flat) == {id(p) for p in m.parameters()}
    assert {id(p) for p in groups[0]} == {id(m.v.cls_token), id(m.v.dist_token), id(m.v.pos_embed),
                                          *map(id, m.v.patch_embed.parameters())}


def test_every_parameter_gets_a_gradient() -> None:
    model = tiny().train()
    model(torch.randn(2, model.frontend.spec.target_frames, 128)).square().mean().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0] == []


def test_features_of_another_length_are_refused() -> None:
    model = tiny()
    with pytest.raises(ValueError, match="compute them with features"):
        model(torch.randn(1, model.frontend.spec.target_frames + 32, 128))
