"""The frozen-backbone embedding cache: same outputs as computing, each clip computed once across runs."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sed_core.config import config_from_dict
from sed_core.models import build_model
from sed_core.models.embedding_cache import EmbeddingCache, backbone_namespace, cache_blockers
from sed_core.training.trainer import fit

FOUR_S = 64_000


def cached_config(root: Path | str = "data/synth/tiny", out: Path | str = "runs/x", **extra):
    return config_from_dict({
        "preset": "tiny", "data": {"root": str(root)}, "output_dir": str(out),
        "training": {"epochs": 2, "steps_per_epoch": 2, "mixup": {"branches": "cnn_only"}},
        "model": {"backbone": {"name": "asit", "variant": "tiny", "mode": "eval", "freeze": {"schedule": "frozen"},
                               **extra}, "fusion": {"name": "concat"}},
    })


def test_blockers_name_each_reason_and_vanish_for_a_frozen_eval_backbone():
    assert cache_blockers(cached_config(init="random")) == []
    paper = config_from_dict({})
    reasons = " ".join(cache_blockers(paper))
    assert "not 'frozen'" in reasons and "mode is 'train'" in reasons and "mixup reaches the SSL input" in reasons


def test_cached_outputs_equal_computed_ones_and_are_served_the_second_time(tmp_path: Path):
    cfg = cached_config(init="random")
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    audio = torch.randn(3, FOUR_S)
    with torch.no_grad():
        plain = model(model.inputs(audio))
        model.embedding_cache = EmbeddingCache(tmp_path, backbone_namespace(model.backbone, FOUR_S))
        first = model(model.inputs(audio))
        second = model(model.inputs(audio[[2, 0]]))
    assert torch.allclose(first.strong, plain.strong, atol=1e-6)
    assert torch.allclose(second.strong, first.strong[[2, 0]], atol=1e-6)
    assert (model.embedding_cache.computed, model.embedding_cache.served) == (3, 2)


def test_another_backbone_weight_is_another_namespace(tmp_path: Path):
    cfg = cached_config(init="random")
    torch.manual_seed(0)
    a = build_model(cfg)
    torch.manual_seed(1)
    b = build_model(cfg)
    assert backbone_namespace(a.backbone, FOUR_S) != backbone_namespace(b.backbone, FOUR_S)
    assert backbone_namespace(a.backbone, FOUR_S) == backbone_namespace(a.backbone, FOUR_S)
    assert backbone_namespace(a.backbone, FOUR_S) != backbone_namespace(a.backbone, 2 * FOUR_S)
    # the cache holds frequency-pooled tokens: another pooling rule is another namespace
    assert backbone_namespace(a.backbone, FOUR_S) != backbone_namespace(a.backbone, FOUR_S, "reference_avgpool")


def test_a_partial_entry_is_never_read(tmp_path: Path):
    cache = EmbeddingCache(tmp_path, "ns")
    audio = torch.randn(1, 100)
    key = cache.clip_key(audio[0])
    (cache.dir / key[:2]).mkdir(parents=True)
    (cache.dir / key[:2] / f".{key}.123.tmp").write_bytes(b"half")  # an interrupted writer's leftover
    out = cache.tokens(audio, lambda w: torch.ones(len(w), 4, 2))
    assert cache.computed == 1 and torch.equal(out, torch.ones(1, 4, 2))


@pytest.mark.slow
def test_trials_sharing_a_frozen_backbone_compute_each_clip_once(tiny_dataset: Path, tmp_path: Path):
    torch.manual_seed(3)
    backbone = build_model(cached_config(init="random")).backbone
    checkpoint = tmp_path / "asit.pth"
    torch.save({"teacher": {f"backbone.{k}": v for k, v in backbone.state_dict().items()}}, checkpoint)
    cache_dir = tmp_path / "cache"
    first = fit(cached_config(tiny_dataset, tmp_path / "a", checkpoint=str(checkpoint)), embedding_cache_dir=cache_dir)
    assert first.history[-1]["cache/computed"] > 0
    files_after_first = sorted(cache_dir.rglob("*.pt"))
    second_cfg = cached_config(tiny_dataset, tmp_path / "b", checkpoint=str(checkpoint))
    # another cell of the study (another pooling), same seed: the same clips through the same backbone
    second_cfg = second_cfg.model_copy(update={"model": second_cfg.model.model_copy(update={"pooling": "max"})})
    second = fit(second_cfg, embedding_cache_dir=cache_dir)
    assert second.history[-1]["cache/computed"] == 0  # every clip it saw was computed by the first trial
    assert second.history[-1]["cache/served"] > 0
    assert sorted(cache_dir.rglob("*.pt")) == files_after_first  # nothing added, nothing duplicated
    assert not list(cache_dir.rglob("*.tmp"))
