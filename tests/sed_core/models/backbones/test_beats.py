"""BEATs iter3: official layout, front end, token order and grid, checkpoint conversion, bad checkpoints."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchaudio

from sed_core.errors import CheckpointError, ConfigError
from sed_core.models import BACKBONES
from sed_core.models.backbones.beats import (
    VARIANTS,
    BEATs,
    BEATsSpec,
    official_cfg,
    relative_position_bucket,
    scale_grad,
)

SR = 16000
BASE_CLIP = 10 * SR
TINY_CLIP = 4 * SR

build_beats = BACKBONES.get("beats").build


@pytest.fixture(scope="module")
def layout(backbone_layouts_dir: Path) -> dict:
    return json.loads((backbone_layouts_dir / "beats_iter3.json").read_text())


@pytest.fixture(scope="module")
def base_meta() -> BEATs:
    with torch.device("meta"):
        return build_beats("base", clip_samples=BASE_CLIP, drop_path=0.0)


def tiny(seed: int = 0, drop_path: float = 0.0) -> BEATs:
    torch.manual_seed(seed)
    return build_beats("tiny", clip_samples=TINY_CLIP, drop_path=drop_path).eval()


def tiny_features(model: BEATs, batch: int = 2) -> torch.Tensor:
    return model.features(0.1 * torch.randn(batch, TINY_CLIP, generator=torch.Generator().manual_seed(7)))


def perturb(model: BEATs, seed: int) -> None:
    """Move the parameters that start at constants (norms, gates, weight-norm scale) off their init."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))


def save_official(path: Path, model: BEATs, *, cfg: dict | None = None, extra: dict | None = None) -> Path:
    """The official layout: {'cfg': BEATsConfig entries, 'model': state_dict with no prefix}."""
    torch.save({"cfg": official_cfg(model.spec) if cfg is None else cfg,
                "model": {**model.state_dict(), **(extra or {})}}, path)
    return path


def test_base_state_dict_equals_official_layout(layout: dict, base_meta: BEATs) -> None:
    ours = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in base_meta.state_dict().items()]
    assert ours == [[k.removeprefix("encoder."), shape, dtype] for k, shape, dtype in layout["state_dict"]]
    assert sum(p.numel() for p in base_meta.parameters()) == layout["n_params"] == 90_311_792
    assert sum(v.numel() for v in base_meta.state_dict().values()) == layout["n_state_dict_elements"]
    shared_keys = layout["relative_attention_bias_shared_keys"]  # listed without the wrapper's prefix
    assert len(shared_keys) == 12 and all(base_meta.get_parameter(k) is base_meta.get_parameter(shared_keys[0])
                                          for k in shared_keys)


def test_base_official_cfg_matches_published_iter3(layout: dict) -> None:
    ours, published = official_cfg(VARIANTS["base"]), layout["constructor_args"]["cfg"]
    assert set(ours) <= set(published)
    assert ours == {k: published[k] for k in ours}


@pytest.mark.slow
def test_base_ten_second_clip_shapes_and_grid(layout: dict) -> None:
    torch.manual_seed(0)
    model = build_beats("base", clip_samples=BASE_CLIP, drop_path=0.0).eval()
    features = model.features(0.1 * torch.randn(1, BASE_CLIP))
    assert features.shape == (1, 998, 128)  # layout "input": (B, 998, 128), not padded
    with torch.no_grad():
        out = model(features)
    t, f = layout["output"]["wrapper_output"][1], layout["output"]["patch_conv_out"][3]
    assert out.shape == (1, t, f, 768) == (1, 62, 8, 768)
    assert t * f == layout["output"]["encoder_hidden"][1]
    grid = model.token_grid(BASE_CLIP)
    assert len(grid.centers_s) == out.shape[1] and grid.n_valid == 62
    assert torch.all(torch.diff(grid.centers_s) > 0)
    assert grid.centers_s[0].item() == pytest.approx(7.5 * 0.01 + 0.0125)
    assert torch.allclose(torch.diff(grid.centers_s), torch.full((61,), layout["frame_hop_s"], dtype=torch.float64))


def test_features_follow_official_preprocess() -> None:
    model = tiny()
    wav = 0.1 * torch.randn(2, TINY_CLIP)
    reference = torch.stack([torchaudio.compliance.kaldi.fbank(w.unsqueeze(0) * 2 ** 15, num_mel_bins=128,
                                                               sample_frequency=16000, frame_length=25,
                                                               frame_shift=10) for w in wav])
    assert torch.equal(model.features(wav), (reference - 15.41663) / (2 * 6.55582))
    assert model.features(wav[:, : 3 * SR]).shape == model.features(wav[:, :]).shape == (2, 398, 128)
    assert model.features(torch.cat([wav, wav], dim=1)).shape == (2, 398, 128)


def test_token_order_is_time_major() -> None:
    model = tiny()
    model.encoder = torch.nn.Identity()  # only the patch embedding, its norm and projection remain
    features = tiny_features(model, batch=1)
    bumped = features.clone()
    bumped[:, 3 * 16:4 * 16, 5 * 16:6 * 16] += 1.0  # time patch 3, frequency patch 5
    with torch.no_grad():
        changed = (model(bumped) - model(features)).abs().amax(-1) > 0  # (1, T', F')
    assert changed.nonzero().tolist() == [[0, 3, 5]]


def test_tiny_forward_grid_and_gradients() -> None:
    model = tiny().train()
    features = tiny_features(model)
    out = model(features)
    assert out.shape == (2, 24, 8, 32) and torch.isfinite(out).all()
    out.square().mean().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0] == []
    grid = model.token_grid(TINY_CLIP)
    assert len(grid.centers_s) == out.shape[1] and grid.n_valid == 24
    assert model.token_grid(2 * SR).n_valid == 12  # 198 real frames: token 11 centred on frame 183.5, 12 on 199.5


def test_eval_is_deterministic_and_layerdrop_acts_in_training() -> None:
    model = tiny(drop_path=0.999999)
    features = tiny_features(model)
    with torch.no_grad():
        assert torch.equal(model(features), model(features))
        pre_layers = []
        model.encoder.layer_norm.register_forward_hook(lambda m, i, o: pre_layers.append(o))
        eval_out = model(features)
        model.train()
        train_out = model(features)
    assert torch.equal(train_out, pre_layers[-1].reshape(train_out.shape))  # every layer dropped
    assert not torch.equal(eval_out, train_out)


def test_scale_grad_is_identity_forward_and_scales_backward() -> None:
    x = torch.randn(3, 4, requires_grad=True)
    y = scale_grad(x, 0.6)
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, 0.6))


def test_relative_position_buckets() -> None:
    rel = torch.arange(-1000, 1001)
    buckets = relative_position_bucket(rel, num_buckets=320, max_distance=800)
    assert buckets[rel == 0].item() == 0
    assert torch.equal(buckets[(rel > 0) & (rel < 80)], 160 + rel[(rel > 0) & (rel < 80)])
    assert torch.equal(buckets[(rel < 0) & (rel > -80)], -rel[(rel < 0) & (rel > -80)])
    assert set(buckets[rel >= 800].tolist()) == {319} and set(buckets[rel <= -800].tolist()) == {159}
    assert torch.all(torch.diff(buckets[rel >= 1]) >= 0) and buckets.min() >= 0 and buckets.max() < 320


@pytest.mark.parametrize("model", ["tiny", "base"])
def test_layer_groups_partition_parameters(model: str, base_meta: BEATs) -> None:
    backbone = tiny() if model == "tiny" else base_meta
    groups = backbone.layer_groups()
    flat = [id(p) for group in groups for p in group]
    assert len(flat) == len(set(flat)) == len(list(backbone.parameters()))
    assert set(flat) == {id(p) for p in backbone.parameters()}
    assert len(groups) == backbone.spec.depth + 1
    first, layer0 = {id(p) for p in groups[0]}, {id(p) for p in groups[1]}
    assert id(backbone.patch_embedding.weight) in first and id(backbone.encoder.pos_conv[0].weight_v) in first
    assert id(backbone.encoder.layers[0].self_attn.relative_attention_bias.weight) in layer0


@pytest.mark.parametrize("finetuned", [False, True])
def test_official_checkpoint_loads_into_a_fresh_model(tmp_path: Path, finetuned: bool) -> None:
    source = tiny(seed=1)
    perturb(source, seed=1)
    cfg, extra = official_cfg(source.spec), {}
    if finetuned:  # *_finetuned_on_AS2M*.pt: an AudioSet classifier we do not carry
        cfg = {**cfg, "finetuned_model": True, "predictor_class": 527}
        extra = {"predictor.weight": torch.randn(527, 32), "predictor.bias": torch.zeros(527)}
    path = save_official(tmp_path / "BEATs_iter3.pt", source, cfg=cfg, extra=extra)
    stored = torch.load(path, weights_only=True)["model"]
    assert sum(k.endswith(".self_attn.relative_attention_bias.weight") for k in stored) == source.spec.depth
    target = tiny(seed=2)
    features = tiny_features(source)
    with torch.no_grad():
        assert not torch.allclose(target(features), source(features))
        target.load_official(path)
        assert torch.equal(target(features), source(features))
    shared = target.encoder.layers[0].self_attn.relative_attention_bias
    assert all(layer.self_attn.relative_attention_bias is shared for layer in target.encoder.layers)


def _bad_checkpoint(tmp_path: Path, case: str) -> Path:
    path = tmp_path / f"{case}.pt"
    source = tiny(seed=3)
    state = source.state_dict()
    if case == "asit_teacher":
        torch.save({"teacher": {"backbone.cls_token": torch.zeros(1, 1, 32),
                                "backbone.blocks.0.norm1.weight": torch.ones(32)}}, path)
    elif case == "vit_under_model":  # e.g. AudioMAE's {'model': ...}
        torch.save({"model": {"cls_token": torch.zeros(1, 1, 32), "blocks.0.norm1.weight": torch.ones(32)}}, path)
    elif case in ("wider", "deeper"):
        spec = BEATsSpec(**{**VARIANTS["tiny"].__dict__, **({"dim": 48} if case == "wider" else {"depth": 3})})
        save_official(path, BEATs(spec, clip_samples=TINY_CLIP))
    elif case == "missing":
        save_official(path, source, extra=None)
        ckpt = torch.load(path, weights_only=True)
        del ckpt["model"]["encoder.layers.1.fc2.bias"]
        torch.save(ckpt, path)
    elif case == "unexpected":
        save_official(path, source, extra={"encoder.extra_proj.weight": torch.zeros(2, 2)})
    elif case == "cfg_max_distance":
        save_official(path, source, cfg={**official_cfg(source.spec), "max_distance": 1280})
    elif case == "cfg_without_gates":
        cfg = official_cfg(source.spec)
        del cfg["gru_rel_pos"]  # BEATsConfig's default is False
        save_official(path, source, cfg=cfg)
    elif case == "unshared_bias":
        key = "encoder.layers.1.self_attn.relative_attention_bias.weight"
        save_official(path, source, extra={key: state[key] + 1.0})
    return path


@pytest.mark.parametrize(("case", "message"), [
    ("asit_teacher", r"not an official BEATs checkpoint.*'cfg' and 'model'.*teacher"),
    ("vit_under_model", r"not a BEATs encoder.*\['blocks', 'cls_token'\].*another model family"),
    ("wider", r"BEATs of width 48, 2 layers.*model is width 32, 2 layers.*no beats variant"),
    ("deeper", r"width 32, 3 layers.*model is width 32, 2 layers"),
    ("missing", r"missing \['encoder\.layers\.1\.fc2\.bias'\]"),
    ("unexpected", r"unexpected \['encoder\.extra_proj\.weight'\]"),
    ("cfg_max_distance", r"max_distance=1280 \(model: 800\)"),
    ("cfg_without_gates", r"gru_rel_pos=False \(model: True\)"),
    ("unshared_bias", r"encoder\.layers\.1\.self_attn\.relative_attention_bias\.weight.*differ from layer 0"),
])
def test_bad_checkpoints_name_the_problem(tmp_path: Path, case: str, message: str) -> None:
    path = _bad_checkpoint(tmp_path, case)
    with pytest.raises(CheckpointError, match=message):
        tiny().load_official(path)


def test_checkpoint_of_another_variant_names_the_fitting_one(tmp_path: Path) -> None:
    path = save_official(tmp_path / "tiny.pt", tiny())
    deeper = BEATs(BEATsSpec(**{**VARIANTS["tiny"].__dict__, "depth": 3}), clip_samples=TINY_CLIP)
    with pytest.raises(CheckpointError, match=r"use model\.backbone\.variant 'tiny'"):
        deeper.load_official(path)


def test_bad_variant_and_short_clip_raise() -> None:
    with pytest.raises(ConfigError, match=r"no variant 'large'.*base, tiny"):
        build_beats("large", clip_samples=TINY_CLIP, drop_path=0.0)
    with pytest.raises(ConfigError, match=r"fewer than one BEATs patch"):
        build_beats("tiny", clip_samples=1000, drop_path=0.0)
