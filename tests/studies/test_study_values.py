"""Study values are what they look like: seeds the generators take, no booleans for numbers, no cell twice."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from sed_core.config import config_from_dict
from sed_core.errors import ConfigError
from studies.definition import load_study

STUDY = """
name: values
experiment:
  preset: tiny
  data: {{root: data/tiny}}
design:
  factors:
    {factor}
seeds: {seeds}
"""


def write(tmp_path: Path, factor: str = "model.pooling: [attention, max]", seeds: str = "[1, 2]") -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(STUDY.format(factor=factor, seeds=seeds))
    return path


@pytest.mark.parametrize(("name", "levels"), [("training.consistency_weight", ("1", "1.0")),
                                              ("training.epochs", ("2", "2.0"))])
def test_levels_equal_once_validated_are_refused_naming_both(tmp_path: Path, name: str, levels: tuple) -> None:
    a, b = levels
    expected = (f"values.yaml: cells {name}={a} and {name}={b} would train the same model: their configs are "
                f"equal once validated ({name}: '{a}' and '{b}' are the same value, or name the same data or "
                f"checkpoint content); list each level once")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_study(write(tmp_path, f"{name}: [{a}, {b}]"))


@pytest.mark.parametrize("seeds", ["[-1]", "[1180591620717411303424]", "[true]", "[1.5]"])
def test_seeds_outside_the_generators_range_are_refused(tmp_path: Path, seeds: str) -> None:
    with pytest.raises(ConfigError, match=r"values.yaml: seeds.0"):
        load_study(write(tmp_path, seeds=seeds))


def test_a_boolean_is_not_a_number() -> None:
    with pytest.raises(ConfigError, match=r"training.epochs: .*expected a number, got the boolean true"):
        config_from_dict({"preset": "tiny", "training": {"epochs": True}})
    with pytest.raises(ConfigError, match=r"seed: .*less than or equal to 4294967295"):
        config_from_dict({"seed": 2**32})
    assert config_from_dict({"model": {"backbone": {"drop_path": 0}}}).model.backbone.drop_path == 0


def test_selecting_the_best_epoch_on_the_test_split_needs_saying_so() -> None:
    with pytest.raises(ConfigError, match=r"evaluation: .*selection_split is the test split 'validation'.*"
                                          r"select_on_test_split: true"):
        config_from_dict({"preset": "tiny", "evaluation": {"selection_split": "validation"}})
    chosen = config_from_dict({"preset": "tiny", "evaluation": {"selection_split": "validation",
                                                                 "select_on_test_split": True}})
    assert chosen.evaluation.selection_split == chosen.evaluation.test_split


def test_two_data_folders_with_the_same_content_are_one_level(tmp_path: Path, tiny_dataset: Path) -> None:
    import shutil

    copy = tmp_path / "copy_of_tiny"
    shutil.copytree(tiny_dataset, copy)
    with pytest.raises(ConfigError, match=r"would train the same model: .*the same data or checkpoint content"):
        load_study(write(tmp_path, f"data.root: [{tiny_dataset}, {copy}]"))
