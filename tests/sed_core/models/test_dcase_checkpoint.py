"""Conversion test without downloads: a model saved in DESED_task's key layout loads through the mapping."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sed_core.config import config_from_dict
from sed_core.errors import CheckpointError
from sed_core.models import build_model
from sed_core.models.dcase_checkpoint import load_dcase_crnn, ours_to_official


@pytest.fixture()
def paper_models():
    cfg = config_from_dict({"preset": "crnn_baseline"})
    torch.manual_seed(1)
    source = build_model(cfg).eval()
    torch.manual_seed(2)
    target = build_model(cfg).eval()
    return source, target


def official_lightning_checkpoint(student: torch.nn.Module, teacher: torch.nn.Module) -> dict:
    state = {f"sed_student.{k}": v for k, v in ours_to_official(student.state_dict()).items()}
    state |= {f"sed_teacher.{k}": v for k, v in ours_to_official(teacher.state_dict()).items()}
    state["mel_spec.spectrogram.window"] = torch.hamming_window(2048, periodic=False)
    return {"state_dict": state, "epoch": 3}


def test_official_layout_round_trip_gives_identical_outputs(paper_models, tmp_path: Path, backbone_layouts_dir: Path):
    import json

    source, target = paper_models
    official = ours_to_official(source.state_dict())
    ref = json.loads((backbone_layouts_dir / "dcase2022_crnn_baseline.json").read_text())
    assert {k: list(v.shape) for k, v in official.items()} == {k: s for k, s, _ in ref["state_dict"]}
    path = tmp_path / "baseline.ckpt"
    torch.save(official_lightning_checkpoint(source, target), path)
    load_dcase_crnn(target, path, role="student")
    audio = torch.randn(2, 160_000)
    with torch.no_grad():
        a, b = source(source.inputs(audio)), target(target.inputs(audio))
    assert torch.equal(a.strong, b.strong) and torch.equal(a.weak, b.weak)


def test_top_level_plain_dicts_load_too(paper_models, tmp_path: Path):
    source, target = paper_models
    path = tmp_path / "plain.ckpt"
    torch.save({"sed_teacher": ours_to_official(source.state_dict())}, path)
    load_dcase_crnn(target, path, role="teacher")
    assert torch.equal(target.dense.weight, source.dense.weight)


def test_mismatched_architecture_names_the_keys(tmp_path: Path, paper_models):
    source, _ = paper_models
    path = tmp_path / "baseline.ckpt"
    torch.save({"sed_student": ours_to_official(source.state_dict())}, path)
    other = build_model(config_from_dict({"preset": "crnn_baseline", "model": {"cnn": {"activation": "cg"}}}))
    with pytest.raises(CheckpointError, match=r"missing \['cnn\.cnn\.cg0\.linear\.bias'.*unexpected \['cnn\.cnn\.glu0"):
        load_dcase_crnn(other, path)


def test_truncated_file_is_a_clear_error(tmp_path: Path, paper_models):
    path = tmp_path / "broken.ckpt"
    path.write_bytes(b"PK\x03\x04 not a checkpoint")
    with pytest.raises(CheckpointError, match=r"broken.ckpt: cannot read a DESED_task CRNN checkpoint \(RuntimeError"):
        load_dcase_crnn(paper_models[1], path)


def test_asit_crnn_reference_layout_matches_and_round_trips(tmp_path: Path, backbone_layouts_dir: Path):
    """Our paper model in CRNN_asit's key layout (asit.asit.v.*, cat_tf, cg) equals asit_crnn_crnn_asit.json."""
    import json

    ref = json.loads((backbone_layouts_dir / "asit_crnn_crnn_asit.json").read_text())
    paper = build_model(config_from_dict({}), device="meta")
    official = {k: list(v.shape) for k, v in ours_to_official(paper.state_dict()).items()}
    theirs = {k: s for k, s, _ in ref["state_dict"] if not k.startswith("asit.asit.mlp_head.")}
    assert official == theirs  # every key but the wrapper's unused mlp_head
    cfg = config_from_dict({"preset": "tiny", "model": {
        "backbone": {"name": "asit", "variant": "tiny", "init": "random", "drop_path": 0.0},
        "fusion": {"name": "concat"}, "cnn": {"activation": "cg"}}})
    torch.manual_seed(3)
    source = build_model(cfg).eval()
    state = ours_to_official(source.state_dict())
    state["asit.asit.mlp_head.1.weight"] = torch.zeros(10, 32)
    path = tmp_path / "asit_crnn.ckpt"
    torch.save({"state_dict": {f"sed_student.{k}": v for k, v in state.items()}}, path)
    torch.manual_seed(4)
    target = build_model(cfg).eval()
    load_dcase_crnn(target, path)
    inputs = source.inputs(torch.randn(2, 64_000))
    with torch.no_grad():
        assert torch.equal(source(inputs).strong, target(inputs).strong)
