"""Plain and bundle factors: cells, the config fields they set, and errors that name the field."""
from __future__ import annotations

import pytest

from search_spaces import FactorSpace
from sed_core.errors import ConfigError

BUNDLES = {
    "model": {"asit_crnn": {"preset": "paper"}, "crnn": {"preset": "crnn_baseline"}},
    "model.pooling": ["attention", "max"],
}


def test_bundle_levels_set_several_fields_and_plain_levels_one():
    space = FactorSpace.from_mapping({
        "backbone": {"asit": {"model.backbone.name": "asit", "model.backbone.checkpoint": "/m/asit.pth"},
                     "beats": {"model.backbone.name": "beats", "model.backbone.checkpoint": "/m/beats.pt"}},
        "model.pooling": ["attention", "max"],
    }, source="s.yaml")
    cells = space.full_factorial()
    assert [c.id for c in cells] == ["backbone=asit|model.pooling=attention", "backbone=asit|model.pooling=max",
                                     "backbone=beats|model.pooling=attention", "backbone=beats|model.pooling=max"]
    assert cells[3].overrides == (("model.backbone.name", "beats"), ("model.backbone.checkpoint", "/m/beats.pt"),
                                  ("model.pooling", "max"))
    assert space.cell({"backbone": "beats"}, source="s.yaml", field="design.baseline").id == \
        "backbone=beats|model.pooling=attention"


def test_bundle_with_a_misspelt_path_names_it():
    with pytest.raises(ConfigError, match=r"design\.factors\.backbone\.beats: 'model\.backbone\.chekpoint' is not a "
                                          r"field.*did you mean 'model\.backbone\.checkpoint'"):
        FactorSpace.from_mapping({"backbone": {"beats": {"model.backbone.chekpoint": "/m"}}}, source="s.yaml")


def test_bundle_level_must_be_a_mapping():
    with pytest.raises(ConfigError, match=r"design\.factors\.model\.crnn: expected a mapping"):
        FactorSpace.from_mapping({"model": {"crnn": "crnn_baseline"}}, source="s.yaml")


def test_preset_is_a_factor_for_whole_model_comparisons():
    cells = FactorSpace.from_mapping(BUNDLES, source="s.yaml").full_factorial()
    assert cells[0].overrides == (("preset", "paper"), ("model.pooling", "attention"))
