"""``design.exclude`` rules: cells that cannot or need not run (e.g. a freeze schedule without a backbone).

A rule maps factors to a level or a list of levels; a cell matching every entry of a rule is dropped. The baseline
may not be excluded, and a rule that matches no cell of the design is refused (it is likely misspelt).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from search_spaces.factors import Cell, FactorSpace, level_text
from sed_core.errors import ConfigError, close_match_hint


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


def apply_exclusions(cells: list[Cell], baseline: Cell, space: FactorSpace, rules: Sequence[Mapping[str, Any]],
                     *, design: str, source: str) -> list[Cell]:
    check_rules(space, rules, source=source)
    for i, rule in enumerate(rules):
        if matches(baseline, rule):
            raise ConfigError(f"{source}: design.exclude[{i}] excludes the baseline cell {baseline.id}; change the "
                              f"rule or design.baseline")
        if not any(matches(c, rule) for c in cells):
            raise ConfigError(f"{source}: design.exclude[{i}] {dict(rule)} matches no cell of the "
                              f"{design} design; remove it or fix its levels")
    return [c for c in cells if not any(matches(c, rule) for rule in rules)]
