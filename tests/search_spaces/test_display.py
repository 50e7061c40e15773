from __future__ import annotations

import pytest

from search_spaces.display import default_factor_name, display_names
from search_spaces.factors import FactorSpace
from sed_core.errors import ConfigError

SPACE = FactorSpace.from_mapping({"model.pooling": ["attention", "max"], "training.mixup.probability": [0.5, 0.0],
                                  "model.backbone.name": ["asit", "none"]}, source="s.yaml")


def test_defaults_are_short_and_cells_read_as_factor_level_pairs() -> None:
    assert [default_factor_name(n) for n in SPACE.names] == ["pooling", "mixup.probability", "backbone"]
    names = display_names(SPACE, None, source="s.yaml")
    cell = SPACE.make_cell(["max", 0.0, "none"])
    assert cell.id == "model.pooling=max|training.mixup.probability=0.0|model.backbone.name=none"
    assert names.cell(cell) == "pooling=max, mixup.probability=0.0, backbone=none"


def test_colliding_defaults_keep_their_full_paths() -> None:
    space = FactorSpace.from_mapping({"training.optimizer.lr": [1e-3, 1e-4], "model.backbone.freeze.lr": [1e-4, 1e-5],
                                      "model.pooling": ["max"]}, source="s.yaml")
    names = display_names(space, None, source="s.yaml")
    assert [names.factor(n) for n in space.names] == ["training.optimizer.lr", "model.backbone.freeze.lr", "pooling"]


def test_the_study_overrides_factor_and_level_names() -> None:
    names = display_names(SPACE, {"factors": {"training.mixup.probability": "mixup"},
                                  "levels": {"training.mixup.probability": {0.5: "on", 0.0: "off"}}}, source="s.yaml")
    assert names.cell(SPACE.make_cell(["attention", 0.5, "asit"])) == "pooling=attention, mixup=on, backbone=asit"
    assert names.level("model.pooling", "max") == "max"


@pytest.mark.parametrize(("overrides", "message"), [
    ({"factor": {}}, r"s.yaml: display.factor: unknown key \(did you mean 'factors'"),
    ({"factors": {"model.poolng": "p"}}, r"display.factors.model.poolng: not a factor of the design \(did you mean "
                                         r"'model.pooling'"),
    ({"levels": {"model.pooling": {"mean": "m"}}}, r"display.levels.model.pooling.mean: not a level of the factor"),
    ({"factors": {"model.pooling": "backbone"}}, r"'model.pooling' and 'model.backbone.name' would both show as "
                                                 r"'backbone'"),
    ({"levels": {"model.pooling": {"max": "attention"}}}, r"would both show as 'attention'"),
    ({"factors": {"model.pooling": ""}}, r"display.factors.model.pooling: expected a non-empty text"),
])
def test_bad_display_names_name_the_field(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        display_names(SPACE, overrides, source="s.yaml")
