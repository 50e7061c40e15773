"""A study cannot count a dead key as a factor: factor levels, tuning dimensions and the experiment block must
act in the cells they reach, named when they do not; `validate` says what it checked."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sed_core.config.acting import InertFieldError
from sed_core.errors import ConfigError
from studies.cli import main
from studies.definition import load_study

SSL_EXPERIMENT = {"preset": "tiny", "model": {"backbone": {"name": "asit", "variant": "tiny", "init": "random"},
                                              "fusion": {"name": "concat"}}}


def write(tmp_path: Path, factors: dict, experiment: dict | None = None, **extra) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"name": "keys", "experiment": experiment or SSL_EXPERIMENT,
                                    "design": {"factors": factors}, "seeds": [1], **extra}, sort_keys=False))
    return path


def test_a_factor_with_no_effect_in_a_cell_names_the_cell_and_the_key(tmp_path: Path):
    with pytest.raises(InertFieldError) as caught:
        load_study(write(tmp_path, {"model.fusion.heads": [2, 4, 8]}))
    message = str(caught.value)
    assert "cell model.fusion.heads=2: model.fusion.heads: has no effect here" in message, message
    assert "model.fusion.name is 'concat'" in message and "design.factors.model.fusion.heads (level 2)" in message


def test_a_factor_that_acts_in_some_cells_only_is_refused_in_the_others(tmp_path: Path):
    factors = {"model.fusion.name": ["cross_attention", "concat"], "model.fusion.heads": [2, 4]}
    with pytest.raises(InertFieldError, match=r"cell model.fusion.name=concat\|model.fusion.heads=2: "
                                              r"model.fusion.heads: has no effect here"):
        load_study(write(tmp_path, factors))


def test_a_bundle_writes_a_field_only_where_it_acts(tmp_path: Path):
    factors = {"fusion": {"concat": {"model.fusion.name": "concat"},
                          "attention_2": {"model.fusion.name": "cross_attention", "model.fusion.heads": 2},
                          "attention_4": {"model.fusion.name": "cross_attention", "model.fusion.heads": 4}}}
    experiment = {"preset": "tiny", "model": {"backbone": SSL_EXPERIMENT["model"]["backbone"]}}  # levels: fusion
    study = load_study(write(tmp_path, factors, experiment))
    assert len({t.trial_id for t in study.trials}) == 3


def test_a_freeze_factor_with_fields_of_another_schedule_is_refused(tmp_path: Path):
    factors = {"model.backbone.freeze.schedule": ["full", "gradual"],
               "model.backbone.freeze.unfreeze_every": [1, 2]}
    with pytest.raises(InertFieldError, match=r"cell model.backbone.freeze.schedule=full\|"
                                              r"model.backbone.freeze.unfreeze_every=1: .*read only by the gradual"):
        load_study(write(tmp_path, factors))


def test_a_backbone_factor_over_the_crnn_is_refused(tmp_path: Path):
    factors = {"model.backbone.drop_path": [0.0, 0.2]}
    with pytest.raises(InertFieldError, match=r"model.backbone.name is 'none'"):
        load_study(write(tmp_path, factors, {"preset": "tiny"}))


def test_an_experiment_field_no_cell_reads_is_refused(tmp_path: Path):
    experiment = {**SSL_EXPERIMENT, "training": {"mixup": {"alpha": 0.4}}}
    with pytest.raises(InertFieldError, match=r"experiment.training.mixup.alpha: no cell reads it; in cell "
                                              r"training.mixup.probability=0.0 .*training.mixup.probability is 0"):
        load_study(write(tmp_path, {"training.mixup.probability": [0.0]}, experiment))
    experiment = {**SSL_EXPERIMENT, "model": {**SSL_EXPERIMENT["model"], "pooling": "max"}}
    with pytest.raises(ConfigError, match=r"experiment.model.pooling: every cell's levels set it"):
        load_study(write(tmp_path, {"model.pooling": ["attention", "linear_softmax"]}, experiment))


def test_an_experiment_field_some_cells_read_is_listed_by_validate(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]):
    experiment = {**SSL_EXPERIMENT, "training": {"mixup": {"alpha": 0.4}}}
    path = write(tmp_path, {"training.mixup.probability": [0.5, 0.0]}, experiment)
    study = load_study(path)
    assert study.partly_inert == (("training.mixup.alpha", ("training.mixup.probability=0.0",)),)
    assert main(["validate", str(path), "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "keys: every factor level and tuned field acts in its cells; the 2 cells are distinct models" in out
    assert ("experiment.training.mixup.alpha: shared by the cells, no effect in 1 of them (e.g. cell "
            "training.mixup.probability=0.0)") in out


def test_a_tuning_dimension_with_no_effect_in_a_tuned_cell_is_refused(tmp_path: Path):
    tuning = {"cells": ["baseline"], "num_samples": 2,
              "space": {"model.fusion.heads": {"distribution": "choice", "values": [2, 4]}}}
    with pytest.raises(InertFieldError, match=r"tuning.space.model.fusion.heads: tuning it changes nothing in cell "
                                              r"model.pooling=attention: .*model.fusion.name is 'concat'"):
        load_study(write(tmp_path, {"model.pooling": ["attention", "max"]}, tuning=tuning))


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((REPO / "studies").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_studies_write_only_keys_that_act(path: Path, tmp_path: Path):
    study = load_study(path, workdir=tmp_path)
    assert study.partly_inert == ()
    assert len({t.trial_id for t in study.trials}) == len(study.trials)
