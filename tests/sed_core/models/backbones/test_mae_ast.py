from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torchaudio
from torch import nn
from torch.nn import functional as F

from sed_core.errors import CheckpointError, ConfigError
from sed_core.models import BACKBONES
from sed_core.models.backbones.mae_ast import MAEAST, VARIANTS, MAEASTSpec, sinusoid_table
from sed_core.models.backbones.official_checkpoint import matches_any

SR = 16000
CLIP_10S = 10 * SR
CLIP_4S = 4 * SR

build_mae_ast = BACKBONES.get("mae_ast").build


@pytest.fixture(scope="module")
def layout(backbone_layouts_dir: Path) -> dict:
    return json.loads((backbone_layouts_dir / "mae_ast_patch_12l.json").read_text())


@pytest.fixture(scope="module")
def base() -> MAEAST:
    torch.manual_seed(0)
    return build_mae_ast("base", clip_samples=CLIP_10S, drop_path=0.1).eval()


def tiny(seed: int = 0, drop_path: float = 0.0) -> MAEAST:
    torch.manual_seed(seed)
    return build_mae_ast("tiny", clip_samples=CLIP_4S, drop_path=drop_path).eval()


def randomize_batch_norm(model: MAEAST) -> None:
    model.batch_norm.running_mean.fill_(-7.5)
    model.batch_norm.running_var.fill_(19.0)
    model.batch_norm.num_batches_tracked.fill_(1234)


def layout_keys(layout: dict) -> list[tuple[str, tuple[int, ...], str]]:
    return [(k.removeprefix("mae_ast."), tuple(s), d) for k, s, d in layout["state_dict"]]


EXPECTED_IGNORED = {
    "encoder_mask_emb", "decoder_mask_emb", "layer_norm.weight", "layer_norm.bias", "enc_sine_pos_embed.pe",
    "dec_sine_pos_embed.pe", "decoder.layer_norm.weight", "decoder.layer_norm.bias",
    "final_proj_reconstruction.weight", "final_proj_reconstruction.bias",
    "final_proj_classification.weight", "final_proj_classification.bias",
}
BUFFERS = ("batch_norm.", "_sine_pos_embed.pe")


def test_base_state_dict_equals_layout_minus_pretraining_keys(base: MAEAST, layout: dict) -> None:
    keys = layout_keys(layout)
    ignored = [k for k in keys if matches_any(k[0], MAEAST.IGNORABLE)]
    kept = [k for k in keys if not matches_any(k[0], MAEAST.IGNORABLE)]
    assert {k for k, _, _ in ignored if not k.startswith("decoder.layers.")} == EXPECTED_IGNORED
    assert {k.split(".")[2] for k, _, _ in ignored if k.startswith("decoder.layers.")} == {"0", "1"}
    ours = [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in base.state_dict().items()]
    assert ours == kept  # key for key, in order, with shapes and dtypes
    ignored_params = sum(math.prod(s) for k, s, _ in ignored if not any(b in k for b in BUFFERS))
    assert sum(p.numel() for p in base.parameters()) == layout["n_params"] - ignored_params == 85_253_376


def test_base_10s_clip_shapes_match_layout(base: MAEAST, layout: dict) -> None:
    wav = torch.randn(1, CLIP_10S) * 0.1
    with torch.no_grad():
        features = base.features(wav)
        assert tuple(features.shape[1:]) == (998, 128)  # layout "input": (B, 998, 128)
        tokens = base.embed(features)
        assert tuple(tokens.shape[1:]) == tuple(layout["output"]["encoder_x"][1:]) == (496, 768)
        grid = base(features)
    assert tuple(grid.shape) == (1, 62, 8, 768)
    assert torch.isfinite(grid).all()


def test_base_token_order_is_time_major_as_measured(base: MAEAST, layout: dict) -> None:
    features = torch.randn(1, 998, 128)
    bumped = features.clone()
    bumped[:, 3 * 16: 4 * 16, 5 * 16: 6 * 16] += 1.0  # time patch 3, frequency patch 5
    with torch.no_grad():
        changed = (base.embed(bumped) - base.embed(features)).abs().amax(dim=-1)[0].nonzero().flatten().tolist()
    assert changed == layout["output"]["grid_check_bump_at_time_patch3_freq_patch5_changes_token"] == [29]


def test_tiny_grid_token_order_end_to_end() -> None:
    model = tiny()
    for layer in model.encoder.layers:  # no attention mixing: each token only sees its own patch
        nn.init.zeros_(layer.self_attn.out_proj.weight)
        nn.init.zeros_(layer.self_attn.out_proj.bias)
    features = torch.randn(2, 398, 128)
    bumped = features.clone()
    bumped[1, 5 * 16: 6 * 16, 2 * 16: 3 * 16] -= 2.0  # clip 1, time patch 5, frequency patch 2
    with torch.no_grad():
        diff = (model(bumped) - model(features)).abs().amax(dim=-1)
    assert diff.shape == (2, 24, 8)
    assert diff.nonzero().tolist() == [[1, 5, 2]]


def test_front_end_is_the_reference_recipe() -> None:
    model = tiny()
    wav = torch.randn(2, CLIP_4S) * 0.3
    expected = torch.stack([torchaudio.compliance.kaldi.fbank(w.unsqueeze(0), sample_frequency=SR, use_energy=False,
                                                              num_mel_bins=128, frame_shift=10) for w in wav])
    assert torch.equal(model.features(wav), expected)
    assert model.features(wav[:, : SR * 3]).shape == expected.shape  # shorter audio is padded to the clip grid


def test_sinusoid_table_equals_the_official_formula() -> None:
    max_len, d = 600, 32
    position = torch.arange(max_len).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
    pe = torch.zeros(1, max_len, d)
    pe[0, :, 0::2] = torch.sin(position * div_term)
    pe[0, :, 1::2] = torch.cos(position * div_term)
    assert torch.equal(sinusoid_table(max_len, d), pe)
    assert "enc_sine_pos_embed.pe" not in tiny().state_dict()


def reference_forward(model: MAEAST, features: torch.Tensor) -> torch.Tensor:
    """The official MAE_AST.forward(mask=False, features_only=True) in eval, spelled out with fairseq's ops."""
    bn = model.batch_norm
    x = F.batch_norm(features.unsqueeze(1), bn.running_mean, bn.running_var, training=False, eps=bn.eps) * 0.5
    patches = nn.Unfold(kernel_size=(16, 16), stride=(16, 16))(x).transpose(-1, -2)
    x = F.linear(patches, model.post_extract_proj.weight, model.post_extract_proj.bias)
    x = x + sinusoid_table(48000, x.shape[-1])[:, : x.shape[1]]
    enc = model.encoder
    x = F.layer_norm(x, (x.shape[-1],), enc.layer_norm.weight, enc.layer_norm.bias, 1e-5).transpose(0, 1)  # T x B x C
    for layer in enc.layers:
        a = layer.self_attn
        residual = x
        x, _ = F.multi_head_attention_forward(
            x, x, x, x.shape[-1], a.heads, None, torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]), None,
            None, False, 0.0, a.out_proj.weight, a.out_proj.bias, training=False, need_weights=False,
            use_separate_proj_weight=True, q_proj_weight=a.q_proj.weight, k_proj_weight=a.k_proj.weight,
            v_proj_weight=a.v_proj.weight)
        x = layer.self_attn_layer_norm(residual + x)
        x = layer.final_layer_norm(x + layer.fc2(F.gelu(layer.fc1(x).float())))
    return x.transpose(0, 1)


def test_forward_equals_the_official_computation() -> None:
    model = tiny(seed=3)
    randomize_batch_norm(model)
    features = torch.randn(2, 398, 128) * 4 - 8
    with torch.no_grad():
        ours = model(features)
        expected = reference_forward(model, features)
    torch.testing.assert_close(ours.reshape(2, -1, 32), expected, atol=1e-5, rtol=1e-5)


def official_checkpoint(model: MAEAST, *, max_len: int = 48000, cfg: dict | None = None) -> dict:
    """The fairseq checkpoint the official pre-training writes for ``model``'s architecture."""
    s = model.spec
    own = model.state_dict()
    g = torch.Generator().manual_seed(7)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    state = {"encoder_mask_emb": rand(s.dim), "decoder_mask_emb": rand(s.dim)}
    state |= {k: v for k, v in own.items() if k.startswith("post_extract_proj.")}
    state |= {"layer_norm.weight": rand(s.n_mels), "layer_norm.bias": rand(s.n_mels)}
    state |= {k: v for k, v in own.items() if k.startswith("batch_norm.")}
    state["enc_sine_pos_embed.pe"] = sinusoid_table(max_len, s.dim)
    state |= {k: v for k, v in own.items() if k.startswith("encoder.")}
    state["dec_sine_pos_embed.pe"] = sinusoid_table(max_len, s.dim)
    layer0 = {k.removeprefix("encoder.layers.0."): v for k, v in own.items() if k.startswith("encoder.layers.0.")}
    for i in range(2):
        state |= {f"decoder.layers.{i}.{k}": rand(*v.shape) for k, v in layer0.items()}
    state |= {"decoder.layer_norm.weight": rand(s.dim), "decoder.layer_norm.bias": rand(s.dim)}
    for head in ("reconstruction", "classification"):
        state |= {f"final_proj_{head}.weight": rand(256, s.dim), f"final_proj_{head}.bias": rand(256)}
    model_cfg = {"_name": "mae_ast", "ast_kernel_size_chan": 16, "ast_kernel_size_time": 16,
                 "ast_kernel_stride_chan": 16, "ast_kernel_stride_time": 16, "encoder_layers": s.depth,
                 "encoder_embed_dim": s.dim, "encoder_ffn_embed_dim": s.ffn_dim, "encoder_attention_heads": s.heads,
                 "activation_fn": "gelu", "layer_norm_first": False, "enc_sine_pos": True, "enc_conv_pos": False,
                 "decoder_layers": 2, "encoder_layerdrop": 0.05, "random_mask_prob": 0.75}
    return {"args": None,
            "cfg": {"model": model_cfg | (cfg or {}), "task": {"_name": "mae_ast_pretraining", "feature_type": "fbank",
                                                               "feature_dim": 128, "sample_rate": 16000}},
            "model": state, "criterion": None,
            "optimizer_history": [{"criterion_name": "MAE_AST_Criterion", "optimizer_name": "FairseqAdam",
                                   "num_updates": 400000}],
            "extra_state": {"epoch": 42}, "last_optimizer_state": None}


def save(tmp_path: Path, checkpoint: dict, name: str = "chunk_patch_75_12LayerEncoder.pt") -> Path:
    path = tmp_path / name
    torch.save(checkpoint, path)
    return path


def test_official_checkpoint_loads_and_reproduces_outputs(tmp_path: Path) -> None:
    source = tiny(seed=1)
    randomize_batch_norm(source)
    path = save(tmp_path, official_checkpoint(source))
    target = tiny(seed=2)
    features = torch.randn(2, 398, 128) * 4 - 8
    with torch.no_grad():
        assert not torch.allclose(target(features), source(features))
        target.load_official(path)
        assert torch.equal(target(features), source(features))
    assert target.batch_norm.running_var.item() == 19.0
    assert target.batch_norm.num_batches_tracked.item() == 1234


def test_checkpoint_from_another_family_is_named(tmp_path: Path) -> None:
    model = tiny()
    asit = save(tmp_path, {"teacher": {"backbone.cls_token": torch.zeros(1, 1, 32)}}, "asit.pth")
    with pytest.raises(CheckpointError, match=r"\['model'\].*teacher"):
        model.load_official(asit)
    beats_like = {"model": {"post_extract_proj.weight": torch.zeros(32, 512), "patch_embedding.weight": torch.zeros(
        512, 1, 16, 16), "encoder.layers.0.fc1.weight": torch.zeros(128, 32)}, "cfg": {"encoder_layers": 2}}
    with pytest.raises(CheckpointError, match=r"missing \[.*batch_norm.*unexpected \['patch_embedding.weight'\].*"
                                              r"MAE-AST fairseq checkpoint"):
        model.load_official(save(tmp_path, beats_like, "beats.pt"))


@pytest.mark.parametrize(("spec", "message"), [
    (MAEASTSpec(dim=48, depth=2, heads=2, ffn_dim=128), r"\(32, 256\).*width 48.*variant of that width"),
    (MAEASTSpec(dim=32, depth=3, heads=2, ffn_dim=128), r"2 encoder layers but the model has 3"),
])
def test_wrong_architecture_weights_are_named(tmp_path: Path, spec: MAEASTSpec, message: str) -> None:
    checkpoint = official_checkpoint(tiny())
    del checkpoint["cfg"]  # checked from the weights alone
    with pytest.raises(CheckpointError, match=message):
        MAEAST(spec, clip_samples=CLIP_4S).load_official(save(tmp_path, checkpoint))


@pytest.mark.parametrize(("cfg", "message"), [
    ({"ast_kernel_size_chan": 128, "ast_kernel_size_time": 2}, r"model.ast_kernel_size_time=2 \(expected 16\)"),
    ({"layer_norm_first": True}, r"layer_norm_first=True \(expected False\)"),
    ({"encoder_attention_heads": 4}, r"encoder_attention_heads=4 \(expected 2\)"),
])
def test_wrong_architecture_cfg_is_named(tmp_path: Path, cfg: dict, message: str) -> None:
    model = tiny()
    with pytest.raises(CheckpointError, match=message):
        model.load_official(save(tmp_path, official_checkpoint(model, cfg=cfg)))


def test_missing_unexpected_and_misshaped_keys_are_named(tmp_path: Path) -> None:
    model = tiny()
    checkpoint = official_checkpoint(model)
    del checkpoint["model"]["encoder.layers.1.fc1.bias"]
    with pytest.raises(CheckpointError, match=r"missing \['encoder.layers.1.fc1.bias'\]"):
        model.load_official(save(tmp_path, checkpoint))
    checkpoint = official_checkpoint(model)
    checkpoint["model"]["post_enc_proj.weight"] = torch.zeros(32, 32)
    with pytest.raises(CheckpointError, match=r"unexpected \['post_enc_proj.weight'\]"):
        model.load_official(save(tmp_path, checkpoint))
    checkpoint = official_checkpoint(model)
    checkpoint["model"]["encoder.layers.0.fc1.weight"] = torch.zeros(64, 32)
    with pytest.raises(CheckpointError, match=r"encoder.layers.0.fc1.weight \(64, 32\) vs \(128, 32\)"):
        model.load_official(save(tmp_path, checkpoint))


def test_stored_position_table_is_verified(tmp_path: Path) -> None:
    model = tiny()
    checkpoint = official_checkpoint(model, max_len=2000)
    checkpoint["model"]["enc_sine_pos_embed.pe"] = checkpoint["model"]["enc_sine_pos_embed.pe"].flip(-1)
    with pytest.raises(CheckpointError, match="not the sinusoid table"):
        model.load_official(save(tmp_path, checkpoint))
    del checkpoint["model"]["enc_sine_pos_embed.pe"]
    with pytest.raises(CheckpointError, match="enc_sine_pos_embed.pe is missing"):
        model.load_official(save(tmp_path, checkpoint))
    checkpoint = official_checkpoint(model, max_len=2000)
    checkpoint["model"]["enc_sine_pos_embed.pe"] = checkpoint["model"]["enc_sine_pos_embed.pe"].half()
    model.load_official(save(tmp_path, checkpoint))  # an fp16 copy of the table is the same table


def test_token_grid_matches_forward_and_valid_span(base: MAEAST) -> None:
    grid = base.token_grid(CLIP_10S)
    assert len(grid.centers_s) == base.grid[0] == 62
    assert grid.n_valid == 62
    assert bool((grid.centers_s.diff() > 0).all())
    assert grid.centers_s[0].item() == pytest.approx(7.5 * 0.01 + 0.0125)
    assert grid.centers_s.diff()[0].item() == pytest.approx(0.16)
    assert base.token_grid(5 * SR).n_valid == 31  # 498 real frames: token 30 is centred on frame 487.5


def test_layer_groups_partition_the_parameters(base: MAEAST) -> None:
    for model, n_groups in ((base, 13), (tiny(), 3)):
        groups = model.layer_groups()
        assert len(groups) == n_groups
        flat = [id(p) for group in groups for p in group]
        assert len(flat) == len(set(flat))
        assert set(flat) == {id(p) for p in model.parameters()}
    assert groups[0][0] is model.post_extract_proj.weight
    assert groups[-1][-1] is model.encoder.layers[-1].final_layer_norm.bias


def test_drop_path_acts_only_in_training() -> None:
    model, plain = tiny(drop_path=0.5), tiny(drop_path=0.0)
    assert [layer.drop_path.p for layer in model.encoder.layers] == [0.0, 0.5]
    features = torch.randn(8, 398, 128)
    with torch.no_grad():
        assert torch.equal(model(features), plain(features))
        for m in (model, plain):
            m.train()
            for dropout in [m.encoder.dropout, *(layer.dropout for layer in m.encoder.layers)]:
                dropout.p = 0.0
            for layer in m.encoder.layers:
                layer.self_attn.dropout = 0.0
        torch.manual_seed(0)
        assert torch.equal(plain(features), plain(features))
        assert not torch.equal(model(features), model(features))


def test_unknown_variant_and_short_clip_are_rejected() -> None:
    with pytest.raises(ConfigError, match="mae_ast has no variant 'large'.*base, tiny"):
        build_mae_ast("large", clip_samples=CLIP_4S, drop_path=0.0)
    with pytest.raises(ValueError, match="at least 16 fbank frames"):
        build_mae_ast("tiny", clip_samples=1000, drop_path=0.0)
    assert set(VARIANTS) == {"base", "tiny"}
