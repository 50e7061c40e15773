from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reports.fetch.load import load_study
from reports.fetch.params import is_config_leaf, typed_param, typed_params


@pytest.mark.parametrize(("key", "text", "expected"), [
    ("training.mixup.probability", "0.5", 0.5),
    ("training.epochs", "5", 5),
    ("model.pooling", "attention", "attention"),
    ("model.cnn.channels", "[8, 16]", (8, 16)),
    ("model.cnn.pooling", "[[2, 2], [1, 2]]", ((2, 2), (1, 2))),
    ("model.backbone.checkpoint", "null", None),
    ("data.root", "data/x", Path("data/x")),
    ("training.lr_warmup", "true", True),
    ("model.pooling", "not_a_pooling", "not_a_pooling"),  # invalid for the field: kept as text
    ("no.such.key", "0.5", "0.5"),  # not a schema field (e.g. a bundle factor): kept as text
])
def test_typed_param(key: str, text: str, expected: object) -> None:
    value = typed_param(key, text)
    assert value == expected
    assert type(value) is type(expected)


def test_is_config_leaf() -> None:
    assert is_config_leaf("model.pooling")
    assert not is_config_leaf("model")  # a section, not a leaf
    assert not is_config_leaf("model.backbone")
    assert not is_config_leaf("backbone_bundle")


def test_typed_params_keeps_missing_as_none() -> None:
    frame = pd.DataFrame({"training.epochs": ["5", None, "7"]}, index=[3, 4, 5])
    typed = typed_params(frame, ["training.epochs", "model.pooling"])
    assert list(typed.index) == [3, 4, 5]
    assert typed["training.epochs"].tolist() == [5, None, 7]
    assert typed["model.pooling"].tolist() == [None, None, None]


def test_study_params_are_typed_through_the_schema(store) -> None:
    runs = load_study(store.uri, "ragged")
    assert list(runs.params.columns) == ["model.pooling", "training.mixup.probability"]
    assert (runs.params.index == runs.runs.index).all()
    assert set(runs.params["training.mixup.probability"]) == {0.5, 0.0}
    assert runs.level_values["training.mixup.probability"] == {"0.5": 0.5, "0.0": 0.0}
    assert runs.level_values["model.pooling"] == {"attention": "attention", "max": "max", "mean": "mean"}
