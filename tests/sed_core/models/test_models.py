from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sed_core.config import config_from_dict
from sed_core.errors import ConfigError
from sed_core.models import POOLINGS, build_model
from sed_core.models.build import count_parameters


def test_paper_crnn_matches_the_reference_layout(backbone_layouts_dir: Path):
    ref = json.loads((backbone_layouts_dir / "dcase2022_crnn_baseline.json").read_text())
    model = build_model(config_from_dict({"preset": "crnn_baseline"}), device="meta")
    assert count_parameters(model) == ref["n_params"] == 1_112_420
    ours = {k: list(v.shape) for k, v in model.state_dict().items() if not k.startswith("frontend")}
    theirs = {k: shape for k, shape, _ in ref["state_dict"]}
    # the attention pooling's head lives in the pooling module; every other key and shape is the reference's
    renamed = {k.replace("pooling.dense_softmax", "dense_softmax"): v for k, v in ours.items()}
    assert renamed == theirs


def test_paper_frame_grid_is_156_frames_of_64_ms():
    model = build_model(config_from_dict({"preset": "crnn_baseline"}), device="meta")
    assert model.output_frames(160_000) == 156
    assert model.frame_hop_s == pytest.approx(0.064)


@pytest.mark.parametrize("pooling", POOLINGS.names())
@pytest.mark.parametrize("activation", ["glu", "cg"])
def test_contract_every_pooling_and_activation(pooling: str, activation: str):
    cfg = config_from_dict({"preset": "tiny", "model": {"pooling": pooling, "cnn": {"activation": activation}}})
    torch.manual_seed(0)
    model = build_model(cfg)
    n_samples = int(cfg.data.clip_seconds * cfg.data.sample_rate)
    audio = torch.randn(3, n_samples)
    out = model(model.inputs(audio))
    frames = model.output_frames(n_samples)
    assert out.strong.shape == (3, frames, 10) and out.weak.shape == (3, 10)
    assert torch.isfinite(out.strong).all() and ((out.weak >= 0) & (out.weak <= 1)).all()
    (out.strong.mean() + out.weak.mean()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []
    model.eval()
    with torch.no_grad():
        a, b = model(model.inputs(audio)), model(model.inputs(audio))
    assert torch.equal(a.strong, b.strong) and torch.equal(a.weak, b.weak)


def test_unknown_pooling_names_field_and_close_match():
    with pytest.raises(ConfigError, match=r"model\.pooling: unknown weak pooling 'atention' "
                                          r"\(did you mean 'attention'\?\)"):
        build_model(config_from_dict({"preset": "tiny", "model": {"pooling": "atention"}}), device="meta")


def test_glu_is_the_baselines_linear_times_sigmoid_of_input():
    from sed_core.models.activations import GLU, ContextGating

    torch.manual_seed(0)
    glu, cg = GLU(4), ContextGating(4)
    cg.load_state_dict(glu.state_dict())
    x = torch.randn(2, 4, 3, 5)
    lin = torch.einsum("bctf,oc->botf", x, glu.linear.weight) + glu.linear.bias[None, :, None, None]
    assert torch.allclose(glu(x), lin * torch.sigmoid(x), atol=1e-6)
    assert torch.allclose(cg(x), x * torch.sigmoid(lin), atol=1e-6)
