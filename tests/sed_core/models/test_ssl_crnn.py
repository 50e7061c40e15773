"""The contract over every registry entry: backbones x fusions on the tiny CRNN."""
from __future__ import annotations

import pytest
import torch

from sed_core.config import config_from_dict
from sed_core.errors import ConfigError
from sed_core.models import BACKBONES, FUSIONS, build_model
from sed_core.models.freeze_schedule import apply_freeze

SSL_FUSIONS = [f for f in FUSIONS.names() if f != "cnn_only"]


def tiny_ssl_config(name: str = "asit", fusion: str = "concat", backbone: dict | None = None):
    backbone = {"name": name, "variant": "tiny", "init": "random", "drop_path": 0.0,
                "freeze": {"schedule": "full", "trainable_groups": None}, **(backbone or {})}
    if backbone.get("mode") == "eval":
        del backbone["drop_path"]  # no stochastic depth in eval mode: the field would have no effect
    return config_from_dict({"preset": "tiny", "model": {
        "backbone": backbone, "fusion": {"name": fusion, **({"heads": 2} if fusion == "cross_attention" else {})}}})


def check_contract(cfg, *, expect_backbone_grads: bool = True):
    torch.manual_seed(0)
    model = build_model(cfg)
    apply_freeze(model, cfg, epoch=cfg.training.epochs - 1)
    n_samples = int(cfg.data.clip_seconds * cfg.data.sample_rate)
    audio = torch.randn(3, n_samples)
    model.train()
    out = model(model.inputs(audio))
    frames = model.output_frames(n_samples)
    assert out.strong.shape == (3, frames, len(cfg.data.classes)) and out.weak.shape == (3, len(cfg.data.classes))
    assert torch.isfinite(out.strong).all() and ((out.weak >= 0) & (out.weak <= 1)).all()
    (out.strong.mean() + out.weak.mean()).backward()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    no_grad = [n for n, p in model.named_parameters() if n in trainable and (p.grad is None or not p.grad.any())]
    frozen_with_grad = [n for n, p in model.named_parameters() if n not in trainable and p.grad is not None]
    assert no_grad == [] and frozen_with_grad == []
    assert any(n.startswith("backbone.") for n in trainable) == expect_backbone_grads
    model.eval()
    with torch.no_grad():
        a, b = model(model.inputs(audio)), model(model.inputs(audio))
    assert torch.equal(a.strong, b.strong) and torch.equal(a.weak, b.weak)
    return model


@pytest.mark.parametrize("backbone", BACKBONES.names())
def test_contract_every_backbone(backbone: str):
    check_contract(tiny_ssl_config(backbone))


@pytest.mark.parametrize("fusion", SSL_FUSIONS)
def test_contract_every_fusion(fusion: str):
    check_contract(tiny_ssl_config("asit", fusion))


@pytest.mark.parametrize("alignment", ["nearest", "linear", "padded_linear"])
def test_contract_every_alignment(alignment: str):
    check_contract(tiny_ssl_config(backbone={"alignment": alignment}))


def test_frozen_backbone_gets_no_gradient_and_runs_without_graph():
    cfg = tiny_ssl_config(backbone={"freeze": {"schedule": "frozen"}})
    check_contract(cfg, expect_backbone_grads=False)


def test_eval_mode_backbone_stays_deterministic_in_training():
    cfg = tiny_ssl_config(backbone={"mode": "eval", "freeze": {"schedule": "frozen"}})
    model = build_model(cfg).train()
    assert model.cnn.training and not model.backbone.training
    x = model.inputs(torch.randn(2, 64_000))
    with torch.no_grad():
        a, b = model.ssl_frames(x["ssl"], 31), model.ssl_frames(x["ssl"], 31)
    assert torch.equal(a, b)


def test_paper_model_has_the_reference_part_sizes():
    model = build_model(config_from_dict({}), device="meta")
    parts = {name: sum(p.numel() for p in part.parameters()) for name, part in model.named_children()}
    assert parts["backbone"] == 85_648_128
    assert parts["cnn"] + parts["fusion"] + parts["rnn"] + parts["dense"] + parts["pooling"] == 1_227_236
    assert parts["fusion"] == 114_816  # cat_tf: Linear(128 + 768, 128)
    assert model.output_frames(160_000) == 156


def test_unknown_backbone_and_fusion_names_list_close_matches():
    with pytest.raises(ConfigError, match=r"model\.backbone\.name: unknown SSL backbone 'asitt' "
                                          r"\(did you mean 'asit'\?\)"):
        build_model(tiny_ssl_config("asitt"), device="meta")
    with pytest.raises(ConfigError, match=r"model\.fusion\.name: unknown fusion 'gate' \(did you mean 'gated'\?\)"):
        build_model(tiny_ssl_config("asit", "gate"), device="meta")


def test_unknown_variant_lists_the_variants():
    with pytest.raises(ConfigError, match=r"model\.backbone\.variant: asit has no variant 'huge'; "
                                          r"choose one of base, tiny"):
        build_model(tiny_ssl_config(backbone={"variant": "huge"}), device="meta")


def test_cross_attention_heads_must_divide_the_feature_size():
    with pytest.raises(ConfigError, match="model.fusion.heads must divide"):
        build_model(config_from_dict({"preset": "tiny", "model": {
            "backbone": {"name": "asit", "variant": "tiny", "init": "random"},
            "fusion": {"name": "cross_attention", "heads": 3}}}), device="meta")
