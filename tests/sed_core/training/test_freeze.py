"""Freeze schedules, layer-wise lr decay from the backbone's own groups, and two-phase training end to end."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sed_core.config import config_from_dict
from sed_core.errors import ConfigError
from sed_core.models import build_model
from sed_core.models.freeze_schedule import apply_freeze, trainable_count
from sed_core.training.parameter_groups import parameter_groups
from sed_core.training.reporter import NullReporter
from sed_core.training.trainer import LAST_DIR, Trainer, fit


def ssl_config(root: Path | str = "data/synth/tiny", out: Path | str = "runs/x", *, freeze: dict | None = None,
               epochs: int = 2, **backbone):
    return config_from_dict({
        "preset": "tiny", "data": {"root": str(root)}, "output_dir": str(out),
        "training": {"epochs": epochs, "steps_per_epoch": 2},
        "model": {"backbone": {"name": "asit", "variant": "tiny", "init": "random", "drop_path": 0.0,
                               "freeze": freeze or {}, **backbone},
                  "fusion": {"name": "concat"}},
    })


@pytest.mark.parametrize("schedule, expected", [
    ("frozen", [0, 0, 0, 0, 0, 0]),
    ("full", [3, 3, 3, 3, 3, 3]),
    ("two_phase", [0, 0, 3, 3, 3, 3]),
    ("gradual", [0, 1, 2, 3, 3, 3]),
])
def test_trainable_groups_per_epoch(schedule: str, expected: list[int]):
    own = {"frozen": {}, "full": {"trainable_groups": 3}, "two_phase": {"trainable_groups": 3, "phase1_epochs": 2},
           "gradual": {"trainable_groups": 3, "unfreeze_every": 1}}[schedule]
    cfg = ssl_config(freeze={"schedule": schedule, **own}, epochs=6).model.backbone.freeze
    assert [trainable_count(cfg, 4, epoch) for epoch in range(6)] == expected


def test_reference_groups_and_learning_rates_at_paper_size():
    """asit_crnn.yaml: tfm_trainable_layers 12 of 14 groups (norm, blocks 11..1), lr 3.5e-4 * 0.5^depth."""
    cfg = config_from_dict({})
    model = build_model(cfg, device="meta")
    apply_freeze(model, cfg, epoch=0)
    groups = parameter_groups(model, cfg, epoch=0)
    assert [g["name"] for g in groups] == ["sed"] + [f"backbone.top{i}" for i in range(12)]
    assert [g["lr"] for g in groups[1:]] == pytest.approx([3.5e-4 * 0.5**i for i in range(12)])
    assert groups[1]["params"] == list(model.backbone.norm.parameters())
    assert groups[-1]["params"] == list(model.backbone.blocks[1].parameters())
    frozen = {n for n, p in model.backbone.named_parameters() if not p.requires_grad}
    assert frozen == {"cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
                      *(f"blocks.0.{n}" for n, _ in model.backbone.blocks[0].named_parameters())}
    sed = {id(p) for p in groups[0]["params"]}
    assert sed == {id(p) for n, p in model.named_parameters() if not n.startswith("backbone.")}


def test_every_group_unfreezes_when_asked():
    cfg = ssl_config(freeze={"trainable_groups": None})
    model = build_model(cfg)
    apply_freeze(model, cfg, epoch=0)
    assert all(p.requires_grad for p in model.backbone.parameters())
    assert len(parameter_groups(model, cfg, epoch=0)) == 1 + len(model.backbone.layer_groups())


def test_frozen_schedule_leaves_the_backbone_out_of_the_optimizer():
    cfg = ssl_config(freeze={"schedule": "frozen"})
    model = build_model(cfg)
    apply_freeze(model, cfg, epoch=0)
    assert [g["name"] for g in parameter_groups(model, cfg, epoch=0)] == ["sed"]
    assert not any(p.requires_grad for p in model.backbone.parameters())


def test_two_phase_trains_frozen_then_unfrozen_from_the_phase_one_weights(tiny_dataset: Path, tmp_path: Path):
    cfg = ssl_config(tiny_dataset, tmp_path / "run", epochs=3,
                     freeze={"schedule": "two_phase", "phase1_epochs": 1, "phase2_init": "last"})
    trainer = Trainer(cfg, reporter=NullReporter())
    initial = {k: v.clone() for k, v in trainer.student.backbone.state_dict().items()}
    trainer.start_epoch()
    trainer.run_epoch()
    after_phase1 = trainer.student.backbone.state_dict()
    assert all(torch.equal(initial[k], after_phase1[k]) for k in initial)  # frozen in phase 1
    assert [g["name"] for g in trainer.optimizer.param_groups] == ["sed"]
    trainer.epoch = 1
    trainer.start_epoch()
    assert len(trainer.optimizer.param_groups) == 1 + 4 and trainer.phase_start_step == trainer.step
    student = trainer.student.state_dict()
    assert all(torch.equal(student[k], v) for k, v in trainer.teacher.state_dict().items())  # teacher = student
    trainer.run_epoch()
    assert any(not torch.equal(initial[k], v) for k, v in trainer.student.backbone.state_dict().items())


def test_two_phase_resumes_across_the_switch_bit_identically(tiny_dataset: Path, tmp_path: Path):
    freeze = {"schedule": "two_phase", "phase1_epochs": 1}
    straight = fit(ssl_config(tiny_dataset, tmp_path / "straight", epochs=3, freeze=freeze))
    fit(ssl_config(tiny_dataset, tmp_path / "resumed", epochs=2, freeze=freeze))  # interrupted after the switch
    resumed = fit(ssl_config(tiny_dataset, tmp_path / "resumed", epochs=3, freeze=freeze))
    assert resumed.history == straight.history and resumed.metrics == straight.metrics
    a = torch.load(tmp_path / "straight" / LAST_DIR / "state.pt", weights_only=True)["student"]
    b = torch.load(tmp_path / "resumed" / LAST_DIR / "state.pt", weights_only=True)["student"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_missing_backbone_checkpoint_is_refused_before_training(tiny_dataset: Path, tmp_path: Path):
    cfg = ssl_config(tiny_dataset, tmp_path / "run", init="checkpoint")
    with pytest.raises(ConfigError, match=r"model\.backbone\.checkpoint: .*no checkpoint is set.*init=random"):
        Trainer(cfg, reporter=None)
    cfg = ssl_config(tiny_dataset, tmp_path / "run", init="checkpoint", checkpoint=str(tmp_path / "nope.pth"))
    with pytest.raises(ConfigError, match="nope.pth does not exist"):
        Trainer(cfg, reporter=None)


def test_training_starts_from_the_official_checkpoint(tiny_dataset: Path, tmp_path: Path):
    torch.manual_seed(5)
    source = build_model(ssl_config()).backbone
    path = tmp_path / "asit.pth"
    torch.save({"teacher": {f"backbone.{k}": v for k, v in source.state_dict().items()}}, path)
    trainer = Trainer(ssl_config(tiny_dataset, tmp_path / "run", init="checkpoint", checkpoint=str(path)), None)
    for k, v in source.state_dict().items():
        assert torch.equal(trainer.student.backbone.state_dict()[k], v)
        assert torch.equal(trainer.teacher.backbone.state_dict()[k], v)


@pytest.mark.parametrize("branches, ssl_mixed", [("all", True), ("cnn_only", False)])
def test_mixup_reaches_the_branches_asked_for(tiny_dataset: Path, tmp_path: Path, branches: str, ssl_mixed: bool):
    cfg = ssl_config(tiny_dataset, tmp_path / "run")
    cfg = cfg.model_copy(update={"training": cfg.training.model_copy(update={
        "mixup": cfg.training.mixup.model_copy(update={"branches": branches})})})
    trainer = Trainer(cfg, reporter=None)
    batch = next(iter(trainer.loader))
    inputs = trainer.student.inputs(batch.audio)
    mixed, _, _ = trainer._mix(inputs, batch.strong, batch.weak, batch.mask["strong"], batch.mask["weak"])
    assert not torch.equal(mixed["mel"], inputs["mel"])
    assert (not torch.equal(mixed["ssl"], inputs["ssl"])) == ssl_mixed
