"""Designs: full factorial, one factor at a time, leave one out, and exclusion rules with clear errors."""
from __future__ import annotations

import pytest

from search_spaces import FactorSpace, design_cells
from sed_core.errors import ConfigError

SPACE = FactorSpace.from_mapping({
    "model.backbone.name": ["asit", "beats", "none"],
    "model.backbone.freeze.schedule": ["full", "frozen"],
    "model.pooling": ["attention", "max"],
}, source="s.yaml")
BASELINE = SPACE.cell({}, source="s.yaml", field="design.baseline")
NO_FREEZE_WITHOUT_BACKBONE = {"model.backbone.name": "none", "model.backbone.freeze.schedule": ["frozen"]}


def ids(cells):
    return [c.id.replace("model.backbone.", "").replace("model.", "") for c in cells]


def test_full_factorial_with_an_exclusion_rule():
    cells = design_cells(SPACE, "full_factorial", BASELINE, exclude=[NO_FREEZE_WITHOUT_BACKBONE])
    assert len(cells) == 12 - 2
    assert not any("name=none|freeze.schedule=frozen" in i for i in ids(cells))


def test_one_factor_at_a_time_moves_each_factor_from_the_baseline():
    cells = design_cells(SPACE, "one_factor_at_a_time", BASELINE)
    assert ids(cells) == [
        "name=asit|freeze.schedule=full|pooling=attention",
        "name=beats|freeze.schedule=full|pooling=attention",
        "name=none|freeze.schedule=full|pooling=attention",
        "name=asit|freeze.schedule=frozen|pooling=attention",
        "name=asit|freeze.schedule=full|pooling=max",
    ]


def test_leave_one_out_ablates_each_factor_once():
    cells = design_cells(SPACE, "leave_one_out", BASELINE, ablated={"model.backbone.name": "none"})
    assert ids(cells) == [
        "name=asit|freeze.schedule=full|pooling=attention",
        "name=none|freeze.schedule=full|pooling=attention",
        "name=asit|freeze.schedule=frozen|pooling=attention",
        "name=asit|freeze.schedule=full|pooling=max",
    ]


def test_leave_one_out_refuses_the_baseline_level_as_ablated():
    with pytest.raises(ConfigError, match=r"design\.ablated\.model\.pooling: the ablated level 'attention' is the "
                                          r"baseline's"):
        design_cells(SPACE, "leave_one_out", BASELINE, ablated={"model.pooling": "attention"})


@pytest.mark.parametrize("rule, message", [
    ({"model.backbone.nam": "none"}, r"design\.exclude\[0\]\.model\.backbone\.nam: not a factor.*did you mean "
                                     r"'model\.backbone\.name'"),
    ({"model.backbone.name": "non"}, r"design\.exclude\[0\]\.model\.backbone\.name: \['non'\] not among its levels"),
    ({"model.backbone.name": "asit", "model.pooling": "attention", "model.backbone.freeze.schedule": "full"},
     r"excludes the baseline cell"),
    ({}, r"design\.exclude\[0\]: expected a mapping"),
])
def test_bad_rules_are_refused_naming_the_rule(rule, message):
    with pytest.raises(ConfigError, match=message):
        design_cells(SPACE, "full_factorial", BASELINE, exclude=[rule])


def test_a_rule_that_matches_nothing_in_the_design_is_refused():
    with pytest.raises(ConfigError, match=r"matches no cell of the one_factor_at_a_time design"):
        design_cells(SPACE, "one_factor_at_a_time", BASELINE,
                     exclude=[{"model.backbone.name": "beats", "model.pooling": "max"}])


def test_unknown_design_lists_the_designs():
    with pytest.raises(ConfigError, match=r"unknown design 'ofat'.*one_factor_at_a_time"):
        design_cells(SPACE, "ofat", BASELINE)


def test_ablated_outside_leave_one_out_is_refused_as_inert():
    with pytest.raises(ConfigError, match=r"design\.ablated: read only by the leave_one_out design"):
        design_cells(SPACE, "full_factorial", BASELINE, ablated={"model.pooling": "max"})


def test_a_design_is_one_module_and_one_registration():
    from search_spaces.designs import DESIGNS, Design

    def baseline_only(request):
        return [request.baseline]

    with DESIGNS.temporarily("baseline_only", Design(baseline_only)):
        assert design_cells(SPACE, "baseline_only", BASELINE) == [BASELINE]
    assert "baseline_only" not in DESIGNS
