"""ATST clip and ATST-Frame: official layouts, front end, token order, checkpoint mapping, token grid, groups."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchaudio

from sed_core.errors import CheckpointError, ConfigError
from sed_core.models import BACKBONES
from sed_core.models.backbones.atst import (
    ATSTClip,
    ATSTFrame,
    ATSTSpec,
    patchify,
)

SR = 16000
TINY_CLIP = 2 * SR

build_asit = BACKBONES.get("asit").build
build_atst_clip = BACKBONES.get("atst_clip").build
build_atst_frame = BACKBONES.get("atst_frame").build

FAMILIES = {  # name: (builder, class, layout file, wrapper prefix in the layout)
    "atst_clip": (build_atst_clip, ATSTClip, "atst_clip_base.json", "encoder."),
    "atst_frame": (build_atst_frame, ATSTFrame, "atst_frame_base.json", "atst."),
}
NOT_CARRIED = {"mask_embed"}  # pre-training mask token, unused by the fine-tuning forward


def layout(backbone_layouts_dir: Path, name: str) -> dict:
    return json.loads((backbone_layouts_dir / FAMILIES[name][2]).read_text())


def tiny(name: str, seed: int = 0, clip_samples: int = TINY_CLIP, spec: ATSTSpec | None = None):
    torch.manual_seed(seed)
    _, cls, _, _ = FAMILIES[name]
    if spec is not None:
        return cls(spec, clip_samples=clip_samples, drop_path=0.0).eval()
    return FAMILIES[name][0]("tiny", clip_samples=clip_samples, drop_path=0.0).eval()


def official_checkpoint(name: str, model, layout_name: str = "plain") -> dict:
    """``model``'s weights in an official checkpoint layout, with the pre-training keys that come with it."""
    state = dict(model.state_dict())
    dim = model.spec.dim
    state["mask_embed"] = torch.randn(1, 1, dim)
    if name == "atst_clip":
        prefix = "module.backbone." if layout_name == "plain" else "backbone."
        teacher = {prefix + k: v for k, v in state.items()}
        head = "module.head." if layout_name == "plain" else "head."
        teacher[head + "mlp.0.weight"] = torch.randn(64, dim)
        teacher[head + "last_layer.weight_g"] = torch.randn(16, 1)
        return {"teacher": teacher, "student": {"module.backbone.cls_token": torch.zeros(1)}, "epoch": 100}
    if layout_name == "plain":  # ATST-SED's atst_as2M.ckpt: fine-tuned on AudioSet-strong
        sd = {"encoder.encoder." + k: v for k, v in state.items()}
        sd["encoder.encoder.teacher_module.blocks.0.norm1.weight"] = torch.randn(dim)
        sd["head.linear.weight"] = torch.randn(407, dim)
        sd["head.linear.bias"] = torch.randn(407)
    else:  # audiossl pre-training checkpoint (FrameATSTLightningModule)
        sd = {"model.teacher.encoder." + k: v for k, v in state.items()}
        sd.update({"model.student.encoder." + k: v.clone() for k, v in state.items()})
        sd["model.student.projector.0.weight"] = torch.randn(4096, dim)
        sd["model.student.predictor.0.weight"] = torch.randn(4096, 256)
        sd["model.teacher.projector.0.weight"] = torch.randn(4096, dim)
    return {"state_dict": sd, "hyper_parameters": {"arch": "tiny"}, "epoch": 3}


def save(tmp_path: Path, checkpoint: dict, name: str = "ckpt.pt") -> Path:
    path = tmp_path / name
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize("name", FAMILIES)
def test_base_state_dict_matches_the_official_layout(backbone_layouts_dir: Path, name: str) -> None:
    ref = layout(backbone_layouts_dir, name)
    prefix = FAMILIES[name][3]
    expected = [(k[len(prefix):], tuple(s)) for k, s, _ in ref["state_dict"]]
    assert {k for k, _ in expected} - {k for k, _ in expected if k not in NOT_CARRIED} == NOT_CARRIED
    with torch.device("meta"):
        model = FAMILIES[name][0]("base", clip_samples=10 * SR, drop_path=0.1)
    ours = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert ours == [(k, s) for k, s in expected if k not in NOT_CARRIED]  # same keys, shapes and order
    n_not_carried = sum(torch.Size(s).numel() for k, s in expected if k in NOT_CARRIED)
    assert sum(p.numel() for p in model.parameters()) == ref["n_params"] - n_not_carried
    assert all(p.requires_grad for p in model.parameters())  # trainability is the freeze schedule's decision


@pytest.mark.parametrize("name", FAMILIES)
def test_paper_size_ten_second_clip_gives_the_official_grid(backbone_layouts_dir: Path, name: str) -> None:
    ref = layout(backbone_layouts_dir, name)
    with torch.device("meta"):  # shapes only; the front end's buffers stay real, so features run on the CPU
        model = FAMILIES[name][0]("base", clip_samples=10 * SR, drop_path=0.1).eval()
    features = model.features(torch.randn(2, 10 * SR) * 0.1)
    assert features.shape == (2, 64, 1001) and torch.isfinite(features).all()
    tokens = model(features.to("meta"))
    wrapper = ref["output"]["wrapper_output"]  # (B, 250, 768) for clip ATST, (B, 768, 250) for ATST-Frame
    t, d = (wrapper[1], wrapper[2]) if name == "atst_clip" else (wrapper[2], wrapper[1])
    assert tokens.shape == (2, t, 1, d) == (2, 250, 1, 768)
    centers = model.token_grid(10 * SR).centers_s
    assert len(centers) == tokens.shape[1]
    assert centers.diff()[0].item() == pytest.approx(ref["frame_hop_s"])


def test_patches_are_time_tokens_with_mel_major_vectors(backbone_layouts_dir: Path) -> None:
    features = torch.zeros(2, 64, 1001)
    bumped = features.clone()
    bumped[1, 10, 14] = 1.0  # mel 10, frame 14: time patch 3, frame 2 inside it
    diff = (patchify(bumped) - patchify(features)).nonzero().tolist()
    assert diff == [[1, 3, 10 * 4 + 2]]
    output = layout(backbone_layouts_dir, "atst_clip")["output"]
    expected = output["grid_check_bump_mel10_frame14_nonzero_[token,vector_idx]"]
    assert [d[1:] for d in diff] == expected
    assert patchify(features).shape == (2, 250, 256)


def test_patchify_equals_a_slow_reference() -> None:
    x = torch.randn(2, 64, 23)
    ref = torch.empty(2, 5, 256)
    for t in range(5):
        for mel in range(64):
            for f in range(4):
                ref[:, t, mel * 4 + f] = x[:, mel, 4 * t + f]
    assert torch.equal(patchify(x), ref)


def reference_forward(state: dict[str, torch.Tensor], features: torch.Tensor, *, clip: bool, heads: int,
                      depth: int) -> torch.Tensor:
    """The official AST / FrameAST get_intermediate_layers(n=1) written out from the state_dict's keys."""
    def ln(x: torch.Tensor, name: str) -> torch.Tensor:
        return torch.nn.functional.layer_norm(x, x.shape[-1:], state[name + ".weight"], state[name + ".bias"], 1e-6)

    def linear(x: torch.Tensor, name: str) -> torch.Tensor:
        return x @ state[name + ".weight"].T + state.get(name + ".bias", 0.0)

    b, _, width = features.shape
    t = width // 4
    patches = torch.stack([features[:, :, 4 * k: 4 * k + 4].reshape(b, 256) for k in range(t)], dim=1)
    x = linear(patches, "patch_embed.patch_embed")
    if clip:  # cls first, position rows 0..T
        x = torch.cat([state["cls_token"].expand(b, -1, -1), x], dim=1) + state["pos_embed"][:, : t + 1]
    else:  # no cls, position rows 1..T
        x = x + state["pos_embed"][:, 1: t + 1]
    n, d = x.shape[1], x.shape[2]
    for i in range(depth):
        q, k, v = linear(ln(x, f"blocks.{i}.norm1"), f"blocks.{i}.attn.qkv").reshape(b, n, 3, heads, -1).unbind(2)
        q, k, v = (y.transpose(1, 2) for y in (q, k, v))  # (B, H, N, d_head)
        attn = (q @ k.transpose(-2, -1) * (d // heads) ** -0.5).softmax(-1)
        x = x + linear((attn @ v).transpose(1, 2).reshape(b, n, d), f"blocks.{i}.attn.proj")
        hidden = torch.nn.functional.gelu(linear(ln(x, f"blocks.{i}.norm2"), f"blocks.{i}.mlp.fc1"))
        x = x + linear(hidden, f"blocks.{i}.mlp.fc2")
    x = ln(x, "norm" if clip else "norm_frame")
    return x[:, 1:] if clip else x


@pytest.mark.parametrize("name", FAMILIES)
def test_forward_equals_the_official_computation(name: str) -> None:
    model = tiny(name, seed=4)
    features = model.features(torch.randn(2, TINY_CLIP) * 0.1)
    with torch.no_grad():
        for p in model.parameters():  # the official init has zero biases and unit norms: make every key count
            p.normal_(0.0, 0.2)
        ours = model(features)
        ref = reference_forward(model.state_dict(), features, clip=name == "atst_clip", heads=model.spec.heads,
                                depth=model.spec.depth)
    assert ours.shape == (2, ref.shape[1], 1, ref.shape[2])
    torch.testing.assert_close(ours[:, :, 0], ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", FAMILIES)
def test_frames_past_the_last_whole_patch_are_dropped(name: str) -> None:
    model = tiny(name)
    features = torch.randn(1, 64, model.n_tokens * 4 + 1)
    last_frame, last_patch = features.clone(), features.clone()
    last_frame[..., -1] += 5.0
    last_patch[..., -2] += 5.0
    with torch.no_grad():
        assert torch.equal(model(features), model(last_frame))
        assert not torch.equal(model(features), model(last_patch))


@pytest.mark.parametrize("name", FAMILIES)
def test_features_follow_the_official_recipe(name: str) -> None:
    torch.manual_seed(0)
    wav = torch.zeros(2, 3 * SR)
    wav[0, SR: 2 * SR] = 0.5 * torch.randn(SR)  # loud burst in silence: top_db floor and dB clamp both act
    wav[1] = 1e-3 * torch.randn(3 * SR)
    mel = torchaudio.transforms.MelSpectrogram(SR, f_min=60, f_max=7800, hop_length=160, win_length=1024,
                                               n_fft=1024, n_mels=64)
    to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80)
    rows = []
    for clip in wav:  # the official transforms see one clip at a time
        db = to_db(mel(clip))
        if name == "atst_frame":
            db = db.clamp(min=-50, max=80)
        rows.append((db - -79.6482) / (50.6842 - -79.6482) * 2.0 - 1.0)
    ref = torch.stack(rows)
    ours = tiny(name, clip_samples=3 * SR).features(wav)
    assert ours.shape == ref.shape == (2, 64, 301)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    assert (ref[0] == ref[0].amin()).sum() > 100  # the floor (top_db or clamp) is exercised on the silence


def test_atst_frame_clamps_where_clip_atst_does_not() -> None:
    wav = torch.zeros(1, 2 * SR)
    wav[0, :4000] = 0.01 * torch.randn(4000)  # quiet: its top_db floor lies below -50 dB
    clip, frame = tiny("atst_clip").features(wav), tiny("atst_frame").features(wav)
    assert frame.amin() == pytest.approx((-50 + 79.6482) / (50.6842 + 79.6482) * 2 - 1, abs=1e-6)
    assert clip.amin() < frame.amin()


def test_base_pads_or_cuts_the_waveform_to_ten_seconds() -> None:
    with torch.device("meta"):
        model = build_atst_frame("base", clip_samples=4 * SR, drop_path=0.0)
    model.frontend.to("cpu")
    short = torch.randn(1, 4 * SR)
    padded = torch.nn.functional.pad(short, (0, 6 * SR))
    assert torch.equal(model.features(short), model.features(padded))
    long = torch.randn(1, 12 * SR)
    assert torch.equal(model.features(long), model.features(long[:, : 10 * SR]))
    assert model.features(short).shape == (1, 64, 1001)


@pytest.mark.parametrize(("name", "layout_name"), [("atst_clip", "plain"), ("atst_clip", "no_ddp"),
                                                   ("atst_frame", "plain"), ("atst_frame", "pretraining")])
def test_official_checkpoint_loads_to_the_same_outputs(tmp_path: Path, name: str, layout_name: str) -> None:
    source = tiny(name, seed=1)
    path = save(tmp_path, official_checkpoint(name, source, layout_name))
    target = tiny(name, seed=2)
    wav = torch.randn(2, TINY_CLIP) * 0.1
    with torch.no_grad():
        assert not torch.equal(source(source.features(wav)), target(target.features(wav)))
        target.load_official(path)
        assert torch.equal(source(source.features(wav)), target(target.features(wav)))


@pytest.mark.parametrize("name", FAMILIES)
def test_a_longer_position_table_is_cut_as_the_official_forward_does(tmp_path: Path, name: str) -> None:
    long = tiny(name, seed=1, clip_samples=3 * SR)
    path = save(tmp_path, official_checkpoint(name, long))
    short = tiny(name, seed=2, clip_samples=TINY_CLIP)
    short.load_official(path)
    assert short.pos_embed.shape[1] < long.pos_embed.shape[1]
    assert torch.equal(short.pos_embed, long.pos_embed[:, : short.pos_embed.shape[1]])
    features = short.features(torch.randn(1, TINY_CLIP))
    with torch.no_grad():
        assert torch.equal(short(features), long(features))  # "cut": the long model reads the same rows

    too_long = tiny(name, seed=3, clip_samples=4 * SR)
    with pytest.raises(CheckpointError, match="pos_embed"):
        too_long.load_official(path)


def _state(checkpoint: dict) -> dict:
    return checkpoint.get("teacher", checkpoint.get("state_dict"))


@pytest.mark.parametrize("name", FAMILIES)
def test_bad_checkpoints_name_the_problem(tmp_path: Path, name: str) -> None:
    model = tiny(name)
    key_prefix = "module.backbone." if name == "atst_clip" else "encoder.encoder."

    other = "atst_frame" if name == "atst_clip" else "atst_clip"
    with pytest.raises(CheckpointError, match="teacher" if name == "atst_clip" else "state_dict"):
        model.load_official(save(tmp_path, official_checkpoint(other, tiny(other)), "other_wrapping.pt"))

    wrong_width = official_checkpoint(name, tiny(name, spec=ATSTSpec(dim=48, depth=2, heads=2, target_samples=None)))
    with pytest.raises(CheckpointError, match="width 48"):
        model.load_official(save(tmp_path, wrong_width, "width.pt"))

    wrong_depth = official_checkpoint(name, tiny(name, spec=ATSTSpec(dim=32, depth=3, heads=2, target_samples=None)))
    with pytest.raises(CheckpointError, match="3 transformer blocks"):
        model.load_official(save(tmp_path, wrong_depth, "depth.pt"))

    missing = official_checkpoint(name, model)
    del _state(missing)[key_prefix + "blocks.1.mlp.fc2.bias"]
    with pytest.raises(CheckpointError, match=r"missing \['blocks.1.mlp.fc2.bias'\]"):
        model.load_official(save(tmp_path, missing, "missing.pt"))

    unexpected = official_checkpoint(name, model)  # a ViT with qkv bias is not ATST
    _state(unexpected)[key_prefix + "blocks.0.attn.qkv.bias"] = torch.zeros(96)
    with pytest.raises(CheckpointError, match=r"unexpected \['blocks.0.attn.qkv.bias'\]"):
        model.load_official(save(tmp_path, unexpected, "unexpected.pt"))

    asit = build_asit("tiny", clip_samples=TINY_CLIP, drop_path=0.0)
    asit_state = {"backbone." + k: v for k, v in asit.state_dict().items()}
    wrapping = {"teacher": asit_state} if name == "atst_clip" else {"state_dict": {
        "encoder.encoder." + k[len("backbone."):]: v for k, v in asit_state.items()}}
    with pytest.raises(CheckpointError, match="patch_embed.proj"):
        model.load_official(save(tmp_path, wrapping, "asit.pt"))


def test_the_other_atst_encoder_is_named(tmp_path: Path) -> None:
    frame_state = {"module.backbone." + k: v for k, v in tiny("atst_frame").state_dict().items()}
    with pytest.raises(CheckpointError, match="ATST-Frame encoder.*atst_frame"):
        tiny("atst_clip").load_official(save(tmp_path, {"teacher": frame_state}, "frame_as_teacher.pt"))

    clip_state = {"model.teacher.encoder." + k: v for k, v in tiny("atst_clip").state_dict().items()}
    with pytest.raises(CheckpointError, match="clip-ATST encoder.*atst_clip"):
        tiny("atst_frame").load_official(save(tmp_path, {"state_dict": clip_state}, "clip_lightning.pt"))

    c2f = {"encoder.encoder.frame_encoder." + k: v for k, v in tiny("atst_frame").state_dict().items()}
    with pytest.raises(CheckpointError, match="C2F"):
        tiny("atst_frame").load_official(save(tmp_path, {"state_dict": c2f}, "c2f.pt"))


@pytest.mark.parametrize("name", FAMILIES)
def test_token_grid_follows_the_centred_frames(name: str) -> None:
    with torch.device("meta"):
        base = FAMILIES[name][0]("base", clip_samples=10 * SR, drop_path=0.0)
    grid = base.token_grid(10 * SR)
    centers = grid.centers_s
    assert len(centers) == 250 and grid.n_valid == 250
    assert centers[0].item() == pytest.approx(0.015)  # frames 0..3 centred at 0, 10, 20, 30 ms
    assert torch.allclose(centers.diff(), torch.full((249,), 0.04, dtype=torch.float64))
    assert centers[-1].item() == pytest.approx(9.975)
    assert base.token_grid(6 * SR).n_valid == 150  # 6 s of audio padded to 10 s: tokens up to frame 599.5

    model = tiny(name)
    with torch.no_grad():
        tokens = model(model.features(torch.randn(1, TINY_CLIP)))
    grid = model.token_grid(TINY_CLIP)
    assert len(grid.centers_s) == tokens.shape[1] == 50 and grid.n_valid == 50
    assert (grid.centers_s.diff() > 0).all()


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("variant", ["tiny", "base"])
def test_layer_groups_partition_the_parameters(name: str, variant: str) -> None:
    with torch.device("meta"):
        model = FAMILIES[name][0](variant, clip_samples=TINY_CLIP, drop_path=0.0)
    groups = model.layer_groups()
    ids = [id(p) for group in groups for p in group]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    assert len(groups) == model.spec.depth + 2
    assert any(p is model.pos_embed for p in groups[0])
    assert [id(p) for p in groups[-1]] == [id(p) for p in model.final_norm.parameters()]


@pytest.mark.parametrize("name", FAMILIES)
def test_every_parameter_gets_a_gradient(name: str) -> None:
    model = tiny(name).train()
    model(model.features(torch.randn(2, TINY_CLIP))).square().mean().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


@pytest.mark.parametrize("name", FAMILIES)
def test_too_long_features_and_unknown_variants_raise(name: str) -> None:
    model = tiny(name)
    with pytest.raises(ValueError, match="position embedding holds 50"):
        model(torch.randn(1, 64, 4 * 51))
    with pytest.raises(ConfigError, match="no variant 'large'"):
        FAMILIES[name][0]("large", clip_samples=TINY_CLIP, drop_path=0.0)
