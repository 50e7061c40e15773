"""Every conditional field: refused, with the reason, where it has no effect; accepted where it acts."""
from __future__ import annotations

import pytest
import torch

from sed_core.config import config_from_dict
from sed_core.config.acting import (
    CONDITIONS,
    FUSION_FIELD_READERS,
    FUSIONS_WITHOUT_CNN,
    InertFieldError,
    inert_fields,
)
from sed_core.config.loading import apply_overrides, flatten, load_config
from sed_core.config.presets import PRESETS
from sed_core.errors import ConfigError
from sed_core.models import FUSIONS


def ssl(**sections):
    """The tiny ASiT-CRNN with ``sections`` (dotted path -> value) written."""
    raw = {"preset": "tiny", "training": {"epochs": 10},  # room for every freeze schedule's phases
           "model": {"backbone": {"name": "asit", "variant": "tiny", "init": "random"}, "fusion": {"name": "concat"}}}
    return apply_overrides(raw, list(sections.items()))


def crnn(**sections):
    return apply_overrides({"preset": "tiny"}, list(sections.items()))


# (written config, the inert field, words of the reason), one row per conditional field and cause
REFUSED = [
    (ssl(**{"model.fusion.heads": 4}), "model.fusion.heads", "read only by model.fusion.name cross_attention, "
                                                             "and model.fusion.name is 'concat'"),
    (crnn(**{"model.backbone.checkpoint": "/models/asit.pth"}), "model.backbone.checkpoint",
     "model.backbone.name is 'none'"),
    *[(crnn(**{path: value}), path, "read only when the model has an SSL backbone")
      for path, value in [("model.backbone.variant", "tiny"), ("model.backbone.init", "random"),
                          ("model.backbone.mode", "eval"), ("model.backbone.drop_path", 0.1),
                          ("model.backbone.alignment", "linear"), ("model.backbone.freeze.schedule", "frozen"),
                          ("model.backbone.freeze.lr", 1e-4),
                          ("training.mixup.branches", "cnn_only")]],
    (ssl(**{"model.backbone.checkpoint": "/models/asit.pth"}), "model.backbone.checkpoint",
     "read only when model.backbone.init is 'checkpoint'"),
    (ssl(**{"model.backbone.mode": "eval", "model.backbone.drop_path": 0.2}), "model.backbone.drop_path",
     "model.backbone.mode is 'eval'"),
    *[(ssl(**{"model.backbone.freeze.schedule": "frozen", path: value}), path,
       "read only by the schedules that train the backbone")
      for path, value in [("model.backbone.freeze.trainable_groups", 4), ("model.backbone.freeze.lr", 1e-4),
                          ("model.backbone.freeze.layer_decay", 0.7)]],
    (ssl(**{"model.backbone.freeze.trainable_groups": 1, "model.backbone.freeze.layer_decay": 0.7}),
     "model.backbone.freeze.layer_decay", "model.backbone.freeze.trainable_groups is 1"),
    *[(ssl(**{"model.backbone.freeze.schedule": schedule, path: value}), path, "read only by the two_phase schedule")
      for schedule in ("full", "frozen", "gradual")
      for path, value in [("model.backbone.freeze.phase1_epochs", 1), ("model.backbone.freeze.phase2_init", "last")]],
    *[(ssl(**{"model.backbone.freeze.schedule": schedule, "model.backbone.freeze.unfreeze_every": 2, **own}),
       "model.backbone.freeze.unfreeze_every", "read only by the gradual schedule")
      for schedule, own in [("full", {}), ("frozen", {}), ("two_phase", {"model.backbone.freeze.phase1_epochs": 1})]],
    *[(ssl(**{"training.mixup.probability": 0.0, path: value}), path, "training.mixup.probability is 0")
      for path, value in [("training.mixup.alpha", 0.4), ("training.mixup.label_mode", "hard"),
                          ("training.mixup.branches", "cnn_only")]],
    (crnn(**{"model.rnn.dropout_recurrent": 0.3}), "model.rnn.dropout_recurrent", "model.rnn.num_layers is 1"),
    (crnn(**{"training.lr_warmup": False, "training.consistency_weight": 0.0, "training.rampup_epochs": 3}),
     "training.rampup_epochs", "training.lr_warmup is false and training.consistency_weight is 0"),
    (crnn(**{"evaluation.select_on_test_split": True}), "evaluation.select_on_test_split",
     "is not the test split"),
    *[(ssl(**{"model.fusion.name": "ssl_only", path: value}), path, "which ignores the CNN's values")
      for path, value in [("model.cnn.activation", "cg"), ("model.cnn.dropout", 0.2), ("model.cnn.kernel_size", 5),
                          ("model.cnn.batchnorm_eps", 1e-5), ("model.cnn.batchnorm_momentum", 0.9),
                          ("features.window", "hann"), ("features.amin", 1e-6), ("features.db_min", -60.0),
                          ("features.db_max", 90.0), ("features.scaler", "none"), ("features.f_min", 50.0),
                          ("features.f_max", 7000.0)]],
]


@pytest.mark.parametrize("raw, field, reason", REFUSED, ids=[f"{r[1]}-{i}" for i, r in enumerate(REFUSED)])
def test_an_inert_field_is_refused_with_its_reason(raw: dict, field: str, reason: str):
    with pytest.raises(InertFieldError) as caught:
        config_from_dict(raw, source="exp.yaml")
    message = str(caught.value)
    assert message.startswith(f"exp.yaml: {field}: has no effect here: it is "), message
    assert reason in message and "remove it" in message, message
    assert caught.value.field == field


ACCEPTED = [
    ssl(**{"model.fusion.name": "cross_attention", "model.fusion.heads": 4}),
    ssl(**{"model.backbone.mode": "train", "model.backbone.drop_path": 0.2}),
    ssl(**{"model.backbone.freeze.schedule": "two_phase", "model.backbone.freeze.phase1_epochs": 1,
           "model.backbone.freeze.phase2_init": "last", "model.backbone.freeze.trainable_groups": 2,
           "model.backbone.freeze.layer_decay": 0.7, "model.backbone.freeze.lr": 1e-4}),
    ssl(**{"model.backbone.freeze.schedule": "gradual", "model.backbone.freeze.unfreeze_every": 2}),
    ssl(**{"training.mixup.probability": 0.3, "training.mixup.alpha": 0.4, "training.mixup.branches": "cnn_only"}),
    ssl(**{"model.fusion.name": "ssl_only", "model.cnn.channels": [8, 16, 32], "features.hop_length": 128}),
    crnn(**{"model.rnn.num_layers": 2, "model.rnn.dropout_recurrent": 0.3}),
    crnn(**{"training.lr_warmup": False, "training.rampup_epochs": 3}),
    crnn(**{"evaluation.selection_split": "validation", "evaluation.select_on_test_split": True}),
]


@pytest.mark.parametrize("raw", ACCEPTED)
def test_a_field_is_accepted_where_it_acts(raw: dict):
    config = config_from_dict(raw)
    written = [p for p in flatten(raw) if p != "preset"]
    assert inert_fields(config, written) == []


def test_defaults_fill_the_chosen_variant_and_a_recorded_config_loads_whole(tmp_path):
    config = config_from_dict(ssl(**{"model.fusion.name": "cross_attention"}))
    assert config.model.fusion.heads == 4  # not written: the default fills it
    recorded = tmp_path / "config.json"
    recorded.write_text(__import__("json").dumps(config_from_dict(crnn()).model_dump(mode="json")))
    with pytest.raises(InertFieldError):  # every field is written in a complete dump ...
        load_config(recorded)
    assert load_config(recorded, recorded=True).model.fusion.heads == 4  # ... which a run's record may be


def test_schedules_that_train_nothing_are_refused_with_the_frozen_schedule_named():
    with pytest.raises(ConfigError, match=r"trainable_groups: .*0 trains no backbone group.*schedule: frozen"):
        config_from_dict(ssl(**{"model.backbone.freeze.trainable_groups": 0}))
    with pytest.raises(ConfigError, match=r"unfreeze_every < training.epochs must hold for gradual"):
        config_from_dict(ssl(**{"model.backbone.freeze.schedule": "gradual", "training.epochs": 5}))  # every 5


def test_a_set_option_that_writes_an_inert_field_is_named():
    from sed_core.config.loading import config_with_overrides

    with pytest.raises(ConfigError, match=r"^--set model.fusion.heads=8: model.fusion.heads: has no effect here"):
        config_with_overrides(ssl(), ["model.fusion.heads=8"], source="exp.yaml")


def test_no_preset_writes_a_field_that_has_no_effect_in_it():
    for name, preset in PRESETS.items():
        config = config_from_dict({"preset": name})
        assert inert_fields(config, list(flatten(preset))) == [], name


def test_every_condition_names_real_fields():
    from sed_core.config.loading import is_config_path

    for condition in CONDITIONS:
        for field in condition.fields:
            assert is_config_path(field.removesuffix(".*")), field


def _fusion_output(name: str, heads: int, cnn: torch.Tensor, ssl_features: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(0)
    module = FUSIONS.get(name)(8, 6, heads)
    return module(cnn, ssl_features)


@pytest.mark.parametrize("name", [n for n in FUSIONS.names() if n != "cnn_only"])
def test_the_fusion_tables_match_what_each_fusion_reads(name: str):
    """``heads`` changes a fusion's output iff the table says it reads it; the CNN features change it iff the
    fusion is not listed as ignoring them."""
    torch.manual_seed(1)
    cnn, other_cnn, ssl_features = torch.randn(2, 5, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 6)
    heads_act = not torch.equal(_fusion_output(name, 2, cnn, ssl_features), _fusion_output(name, 4, cnn, ssl_features))
    assert heads_act == (name in FUSION_FIELD_READERS["heads"])
    cnn_acts = not torch.equal(_fusion_output(name, 2, cnn, ssl_features),
                               _fusion_output(name, 2, other_cnn, ssl_features))
    assert cnn_acts == (name not in FUSIONS_WITHOUT_CNN)
