"""ASiT: the official layout key for key, the token grid, and strict loading of official-layout checkpoints."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sed_core.errors import CheckpointError
from sed_core.models import BACKBONES
from sed_core.models.backbones.asit import ASiT, ViTSpec

TEN_S = 160_000
FOUR_S = 64_000

build_asit = BACKBONES.get("asit").build


def official_teacher(model: ASiT, prefix: str = "backbone.") -> dict:
    """An ASiT pre-training checkpoint: {'teacher': FullPipeline state} with heads, as main_ASiT.py saves it."""
    teacher = {f"{prefix}{k}": v.clone() for k, v in model.state_dict().items()}
    teacher[f"{prefix.replace('backbone.', '')}head_cls.mlp.0.weight"] = torch.randn(4, model.embed_dim)
    teacher[f"{prefix.replace('backbone.', '')}head_recons.convTrans.weight"] = torch.randn(4, 1, 2, 2)
    return {"teacher": teacher, "student": teacher, "epoch": 99}


def test_base_matches_the_official_layout_key_for_key(backbone_layouts_dir: Path):
    ref = json.loads((backbone_layouts_dir / "asit_vitb16.json").read_text())
    with torch.device("meta"):
        model = build_asit("base", clip_samples=TEN_S, drop_path=0.1)
    theirs = [(k.removeprefix("asit.v."), shape) for k, shape, _ in ref["state_dict"] if k.startswith("asit.v.")]
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == theirs
    assert sum(p.numel() for p in model.parameters()) == ref["n_params_backbone_only_(asit.v)"] == 85_648_128
    official = [(k.removeprefix("backbone."), s) for k, s, _ in ref["official_teacher_state_dict_1024"]
                if k.startswith("backbone.")]
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == official


def test_base_token_grid_for_a_ten_second_clip():
    torch.manual_seed(0)
    model = build_asit("base", clip_samples=TEN_S, drop_path=0.0).eval()
    features = model.features(torch.randn(1, TEN_S))
    assert features.shape == (1, 1024, 128)
    assert torch.allclose(features[0, 998:], torch.full((26, 128), 4.2677393 / (2 * 4.5689974)))  # padded rows
    with torch.no_grad():
        assert model(features).shape == (1, 64, 8, 768)
    grid = model.token_grid(TEN_S)
    assert len(grid.centers_s) == 64 and grid.n_valid == 62


def test_tokens_are_time_major():
    torch.manual_seed(0)
    model = build_asit("tiny", clip_samples=FOUR_S, drop_path=0.0).eval()
    x = model.features(torch.randn(1, FOUR_S))
    y = x.clone()
    y[0, 16 * 3: 16 * 4, 16 * 5: 16 * 6] += 1.0  # time patch 3, frequency patch 5
    with torch.no_grad():
        # without attention mixing, only that token changes: compare the patch embeddings
        a = model.patch_embed(x.unsqueeze(1))
        b = model.patch_embed(y.unsqueeze(1))
    changed = (a - b).abs().sum(dim=1)[0].nonzero().tolist()
    assert changed == [[3, 5]]
    with torch.no_grad():
        assert model(x).shape == (1, len(model.token_grid(FOUR_S).centers_s), 8, 32)


@pytest.mark.parametrize("prefix", ["backbone.", "module.backbone."])
def test_official_checkpoint_round_trip(tmp_path: Path, prefix: str):
    torch.manual_seed(1)
    source = build_asit("tiny", clip_samples=FOUR_S, drop_path=0.0).eval()
    path = tmp_path / "asit.pth"
    torch.save(official_teacher(source, prefix), path)
    torch.manual_seed(2)
    target = build_asit("tiny", clip_samples=FOUR_S, drop_path=0.0).eval()
    target.load_official(path)
    x = source.features(torch.randn(2, FOUR_S))
    with torch.no_grad():
        assert torch.equal(source(x), target(x))


def test_pretraining_grid_is_resized_explicitly(tmp_path: Path, caplog):
    """A checkpoint pre-trained on 592 frames (37 x 8 patches) loads into the 1024-frame (64 x 8) model."""
    spec = ViTSpec(dim=32, depth=2, heads=2, target_frames=592)
    source = ASiT(spec, clip_samples=TEN_S)
    path = tmp_path / "asit_32k.pth"
    torch.save(official_teacher(source), path)
    target = ASiT(ViTSpec(dim=32, depth=2, heads=2, target_frames=1024), clip_samples=TEN_S)
    with caplog.at_level("INFO"):
        target.load_official(path)
    assert "resizing pos_embed from a 37x8 to a 64x8" in caplog.text
    assert torch.equal(target.pos_embed[:, 0], source.pos_embed[:, 0])  # the cls position is kept
    assert torch.equal(target.blocks[0].attn.qkv.weight, source.blocks[0].attn.qkv.weight)
    # the reference code's rule, rebuilt here: the (time x freq) grid resized bilinearly, corners not aligned
    grid = source.pos_embed[:, 1:].detach().reshape(1, 37, 8, 32).permute(0, 3, 1, 2)
    expected = torch.nn.functional.interpolate(grid, size=(64, 8), mode="bilinear", align_corners=False)
    assert torch.allclose(target.pos_embed[:, 1:].detach(), expected.permute(0, 2, 3, 1).reshape(1, 64 * 8, 32),
                          atol=0, rtol=0)
    bicubic = torch.nn.functional.interpolate(grid, size=(64, 8), mode="bicubic", align_corners=False)
    assert not torch.allclose(expected, bicubic)  # the rule matters


def test_wrong_width_names_the_mismatch(tmp_path: Path):
    source = ASiT(ViTSpec(dim=64, depth=2, heads=2, target_frames=None), clip_samples=FOUR_S)
    path = tmp_path / "wide.pth"
    torch.save(official_teacher(source), path)
    target = build_asit("tiny", clip_samples=FOUR_S, drop_path=0.0)
    with pytest.raises(CheckpointError, match=r"width 64.*expects \(32, 1, 16, 16\)"):
        target.load_official(path)


def test_wrong_depth_names_the_mismatch(tmp_path: Path):
    source = ASiT(ViTSpec(dim=32, depth=3, heads=2, target_frames=None), clip_samples=FOUR_S)
    path = tmp_path / "deep.pth"
    torch.save(official_teacher(source), path)
    with pytest.raises(CheckpointError, match="3 transformer blocks but the model has 2"):
        build_asit("tiny", clip_samples=FOUR_S, drop_path=0.0).load_official(path)


def test_missing_and_unexpected_keys_are_named(tmp_path: Path):
    source = build_asit("tiny", clip_samples=FOUR_S, drop_path=0.0)
    checkpoint = official_teacher(source)
    del checkpoint["teacher"]["backbone.norm.bias"]
    checkpoint["teacher"]["backbone.fc_norm.weight"] = torch.ones(32)
    path = tmp_path / "odd.pth"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"missing \['norm.bias'\].*unexpected \['fc_norm.weight'\]"):
        build_asit("tiny", clip_samples=FOUR_S, drop_path=0.0).load_official(path)


def test_another_family_is_refused(tmp_path: Path):
    path = tmp_path / "beats.pt"
    torch.save({"cfg": {}, "model": {"encoder.layers.0.fc1.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(CheckpointError, match=r"under one of \['teacher'\].*found top-level keys \['cfg', 'model'\]"):
        build_asit("tiny", clip_samples=FOUR_S, drop_path=0.0).load_official(path)


def test_prefixes_are_stripped_only_at_the_start(tmp_path: Path):
    source = build_asit("tiny", clip_samples=FOUR_S, drop_path=0.0)
    checkpoint = official_teacher(source)
    checkpoint["teacher"]["extra.backbone.norm.weight"] = torch.ones(32)
    path = tmp_path / "nested.pth"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"unexpected \['extra.backbone.norm.weight'\]"):
        build_asit("tiny", clip_samples=FOUR_S, drop_path=0.0).load_official(path)


def test_layer_groups_partition_the_parameters():
    model = build_asit("tiny", clip_samples=FOUR_S, drop_path=0.0)
    groups = model.layer_groups()
    assert len(groups) == 2 + 2  # embeddings, 2 blocks, final norm
    ids = [id(p) for g in groups for p in g]
    assert sorted(ids) == sorted(id(p) for p in model.parameters()) and len(set(ids)) == len(ids)
