from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sed_core.config import config_from_dict, load_config
from sed_core.config.loading import flatten, is_config_path
from sed_core.errors import ConfigError


def test_defaults_are_the_paper_configuration():
    cfg = config_from_dict({})
    assert cfg.preset == "paper"
    assert cfg.features.n_mels == 128 and cfg.features.n_fft == 2048 and cfg.features.hop_length == 256
    assert cfg.model.cnn.channels == (16, 32, 64, 128, 128, 128, 128)
    assert cfg.training.ema_decay == 0.999 and cfg.training.consistency_weight == 2.0
    assert cfg.training.rampup_epochs == 50 and cfg.training.epochs == 200
    assert cfg.data.batch.sources() == {"synthetic_train": 8, "strong_train": 8, "weak_train": 16,
                                        "unlabelled_train": 16}
    assert cfg.evaluation.psds1.cttc_threshold is None and cfg.evaluation.psds2.cttc_threshold == 0.3
    # ASiT-CRNN: context gating, the ASiT backbone fused by concatenation, NNI alignment, mixup on both branches
    assert cfg.model.cnn.activation == "cg" and cfg.model.backbone.name == "asit"
    assert cfg.model.fusion.name == "concat" and cfg.model.backbone.alignment == "nearest"
    assert cfg.training.mixup.branches == "all"
    assert cfg.model.backbone.freeze.lr == 3.5e-4 and cfg.model.backbone.freeze.layer_decay == 0.5


def test_fusion_and_backbone_must_agree():
    with pytest.raises(ConfigError, match="set model.fusion.name=cnn_only"):
        config_from_dict({"model": {"backbone": {"name": "none"}}})
    with pytest.raises(ConfigError, match="set model.backbone.name=none"):
        config_from_dict({"model": {"fusion": {"name": "cnn_only"}}})


def test_two_phase_needs_a_second_phase():
    with pytest.raises(ConfigError, match="phase1_epochs < training.epochs"):
        config_from_dict({"training": {"epochs": 10}, "model": {"backbone": {"freeze": {
            "schedule": "two_phase", "phase1_epochs": 10}}}})


def test_presets_leave_paper_defaults_untouched():
    quick = config_from_dict({"preset": "quick"})
    assert quick.features.n_mels == 32
    assert config_from_dict({}).features.n_mels == 128


def test_unknown_key_names_file_field_and_close_match(tmp_path: Path):
    path = tmp_path / "exp.yaml"
    path.write_text("model:\n  rnn:\n    layers: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert "model.rnn.layers: unknown key" in message
    assert "did you mean 'model.rnn.num_layers'?" in message


def test_wrong_type_names_field_and_value():
    with pytest.raises(ConfigError, match=r"training\.epochs: .*got 'many'"):
        config_from_dict({"training": {"epochs": "many"}})


def test_cross_field_rule_explains_itself():
    with pytest.raises(ConfigError, match="divisible by the CNN's frequency pooling"):
        config_from_dict({"features": {"n_mels": 100}})


def test_unknown_preset_has_close_match():
    with pytest.raises(ConfigError, match="did you mean 'quick'"):
        config_from_dict({"preset": "quik"})


def test_set_overrides_parse_yaml_values(tmp_path: Path):
    path = tmp_path / "exp.yaml"
    path.write_text("preset: tiny\n")
    cfg = load_config(path, ["training.epochs=7", "model.cnn.activation=cg", "training.mixup.probability=0"])
    assert cfg.training.epochs == 7 and cfg.model.cnn.activation == "cg"
    assert cfg.training.mixup.probability == 0.0


def test_config_is_frozen():
    cfg = config_from_dict({})
    with pytest.raises(ValidationError, match="Instance is frozen"):
        cfg.training.epochs = 3  # type: ignore[misc]


def test_flatten_and_schema_paths():
    flat = flatten(config_from_dict({}))
    assert flat["model.rnn.num_layers"] == 2
    assert is_config_path("model.rnn.num_layers") and is_config_path("training.mixup")
    assert not is_config_path("model.rnn.layers")
