"""A backbone's registration carries all the model builder needs; an incomplete one is refused when it registers."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sed_core.config import config_from_dict
from sed_core.errors import ConfigError
from sed_core.models import BACKBONES, build_model
from sed_core.models.backbones.base import Backbone
from sed_core.models.backbones.registration import BackboneRegistration, register_backbone
from tests.throwaway_parts import VARIANTS, FrameProjection, FrameSpec


def test_a_registered_backbone_builds_and_runs_through_the_config(throwaway_backbone: str):
    config = config_from_dict({"preset": "tiny", "model": {
        "backbone": {"name": throwaway_backbone, "variant": "tiny", "init": "random"},
        "fusion": {"name": "concat"}}})
    assert config.model.backbone.drop_path is None  # the registration's official rate applies
    model = build_model(config)
    assert isinstance(model.backbone, FrameProjection)
    assert model.backbone.embed_dim == 16 and model.backbone.drop_path == 0.2
    n_samples = int(config.data.clip_seconds * config.data.sample_rate)
    model.eval()
    with torch.no_grad():
        out = model(model.inputs(torch.randn(2, n_samples)))
    classes = len(config.data.classes)
    assert out.strong.shape == (2, model.output_frames(n_samples), classes) and out.weak.shape == (2, classes)
    assert torch.isfinite(out.strong).all()


def test_the_throwaway_backbone_is_gone_after_its_test():
    assert "throwaway" not in BACKBONES
    with pytest.raises(ConfigError, match="unknown SSL backbone 'throwaway'"):
        BACKBONES.get("throwaway")


def test_an_unknown_variant_names_the_ones_there_are():
    with pytest.raises(ConfigError, match="asit has no variant 'huge'; choose one of base, tiny"):
        BACKBONES.get("asit").build("huge", clip_samples=16000)


class Unfinished(Backbone):
    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        return waveform


@pytest.mark.parametrize(("name", "backbone", "variants", "drop_path", "message"), [
    ("x", FrameProjection, {"base": FrameSpec(64)}, 0.0, r"backbone 'x': variants lack 'tiny'; every backbone has"),
    ("x", FrameProjection, VARIANTS, None, r"backbone 'x': official_drop_path must be a number in \[0, 1\)"),
    ("x", FrameProjection, VARIANTS, 1.0, r"official_drop_path must be a number in \[0, 1\).*got 1.0"),
    ("x", Unfinished, VARIANTS, 0.0,
     r"backbone 'x': Unfinished does not implement forward, token_grid, layer_groups, load_official"),
    ("x", nn.Linear, VARIANTS, 0.0, r"backbone 'x': <class 'torch.nn.modules.linear.Linear'> is not a subclass"),
    ("none", FrameProjection, VARIANTS, 0.0, r"backbone 'none': the name must be .*not 'none'"),
])
def test_an_incomplete_registration_is_refused_with_what_it_lacks(name, backbone, variants, drop_path, message):
    with pytest.raises(ValueError, match=message):
        BackboneRegistration(name, backbone, variants, official_drop_path=drop_path)


def test_a_registration_without_its_drop_path_or_a_taken_name_is_refused():
    with pytest.raises(TypeError, match="official_drop_path"):
        BackboneRegistration("x", FrameProjection, VARIANTS)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="SSL backbone 'asit' is registered twice"):
        register_backbone(BackboneRegistration("asit", FrameProjection, VARIANTS, official_drop_path=0.0))
