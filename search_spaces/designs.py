"""Experimental designs over a factor space: which cells a study runs.

- ``full_factorial``: every combination of levels.
- ``one_factor_at_a_time``: the baseline, then each factor moved through each of its other levels with every
  other factor at the baseline's level.
- ``leave_one_out``: the baseline (the full system), then one cell per factor with that factor at its
  ablated level (``ablated``; by default the factor's last level) and the others at the baseline's.

``exclude`` rules drop cells that cannot or need not run (e.g. a freeze schedule without a backbone): a rule maps
factors to a level or a list of levels, and a cell matching every entry of a rule is dropped. The baseline may
not be excluded, and a rule that matches no cell of the design is refused (it is likely misspelt).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from search_spaces.factors import Cell, FactorSpace, level_text
from sed_core.errors import ConfigError, close_match_hint

DESIGNS = ("full_factorial", "one_factor_at_a_time", "leave_one_out")


def _levels_of(rule_value: Any) -> set[str]:
    values = rule_value if isinstance(rule_value, list) else [rule_value]
    return {level_text(v) for v in values}


def matches(cell: Cell, rule: Mapping[str, Any]) -> bool:
    levels = {name: level_text(value) for name, value in cell.levels}
    return all(levels.get(name) in _levels_of(value) for name, value in rule.items())


def check_rules(space: FactorSpace, rules: Sequence[Mapping[str, Any]], *, source: str) -> None:
    for i, rule in enumerate(rules):
        field = f"design.exclude[{i}]"
        if not isinstance(rule, Mapping) or not rule:
            raise ConfigError(f"{source}: {field}: expected a mapping of factors to levels, e.g. "
                              f"{{model.backbone.name: none, model.backbone.freeze.schedule: [two_phase, gradual]}}")
        for name, value in rule.items():
            factor = next((f for f in space.factors if f.name == name), None)
            if factor is None:
                raise ConfigError(f"{source}: {field}.{name}: not a factor of the design"
                                  f"{close_match_hint(str(name), space.names)}")
            known = {level_text(v) for v in factor.levels}
            unknown = sorted(_levels_of(value) - known)
            if unknown:
                raise ConfigError(f"{source}: {field}.{name}: {unknown} not among its levels {list(factor.levels)}")


def design_cells(space: FactorSpace, design: str, baseline: Cell, *, exclude: Sequence[Mapping[str, Any]] = (),
                 ablated: Mapping[str, Any] | None = None, source: str = "<study>") -> list[Cell]:
    """The cells of ``design`` in run order (baseline first for the one-factor designs), exclusions applied."""
    if design == "full_factorial":
        cells = space.full_factorial()
    elif design == "one_factor_at_a_time":
        cells = [baseline] + [_moved(space, baseline, f.name, v) for f in space.factors for v in f.levels
                              if level_text(v) != level_text(baseline.as_dict()[f.name])]
    elif design == "leave_one_out":
        cells = [baseline] + [_moved(space, baseline, name, level)
                              for name, level in _ablated_levels(space, baseline, ablated or {}, source).items()]
    else:
        raise ConfigError(f"{source}: design.type: unknown design {design!r}{close_match_hint(design, DESIGNS)}; "
                          f"choose one of {', '.join(DESIGNS)}")
    check_rules(space, exclude, source=source)
    for i, rule in enumerate(exclude):
        if matches(baseline, rule):
            raise ConfigError(f"{source}: design.exclude[{i}] excludes the baseline cell {baseline.id}; change the "
                              f"rule or design.baseline")
        if not any(matches(c, rule) for c in cells):
            raise ConfigError(f"{source}: design.exclude[{i}] {dict(rule)} matches no cell of the "
                              f"{design} design; remove it or fix its levels")
    return [c for c in cells if not any(matches(c, rule) for rule in exclude)]


def _moved(space: FactorSpace, baseline: Cell, name: str, value: Any) -> Cell:
    return space.cell({**baseline.as_dict(), name: value}, source="<design>", field="design")


def _ablated_levels(space: FactorSpace, baseline: Cell, ablated: Mapping[str, Any], source: str) -> dict[str, Any]:
    unknown = sorted(set(ablated) - set(space.names))
    if unknown:
        raise ConfigError(f"{source}: design.ablated.{unknown[0]}: not a factor of the design"
                          f"{close_match_hint(unknown[0], space.names)}")
    out = {}
    for f in space.factors:
        level = ablated.get(f.name, f.levels[-1])
        if level_text(level) not in {level_text(v) for v in f.levels}:
            raise ConfigError(f"{source}: design.ablated.{f.name}: {level!r} is not one of its levels {list(f.levels)}")
        if level_text(level) == level_text(baseline.as_dict()[f.name]):
            raise ConfigError(f"{source}: design.ablated.{f.name}: the ablated level {level!r} is the baseline's; "
                              f"leave-one-out needs another level (set design.ablated.{f.name})")
        out[f.name] = level
    return out
