"""Factors with levels, and the cells of a design over them, checked against the experiment schema."""
from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sed_core.config.loading import field_names_at, is_config_path
from sed_core.errors import ConfigError, close_match_hint


def level_text(value: Any) -> str:
    """A level as it appears in cell ids, tags and tables: JSON for lists/dicts, plain text otherwise."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class Factor:
    """One factor: a dotted config path and its levels (the first level is the baseline's by default)."""

    name: str
    levels: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.levels:
            raise ConfigError(f"factor {self.name}: needs at least one level, got none")
        texts = [level_text(v) for v in self.levels]
        duplicates = sorted({t for t in texts if texts.count(t) > 1})
        if duplicates:
            raise ConfigError(f"factor {self.name}: duplicate levels {duplicates}; list each level once")


@dataclass(frozen=True)
class Cell:
    """One combination of levels: ``levels`` maps factor name -> value, in design order."""

    levels: tuple[tuple[str, Any], ...]

    @property
    def id(self) -> str:
        return "|".join(f"{name}={level_text(value)}" for name, value in self.levels)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.levels)


@dataclass(frozen=True)
class FactorSpace:
    factors: tuple[Factor, ...]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, source: str, field: str = "design.factors") -> FactorSpace:
        if not isinstance(raw, Mapping) or not raw:
            raise ConfigError(f"{source}: {field}: expected a mapping of dotted config keys to level lists, "
                              f"e.g. {{model.pooling: [attention, max]}}")
        factors = []
        for name, levels in raw.items():
            if not is_config_path(str(name)):
                *parents, leaf = str(name).split(".")
                candidates = [".".join([*parents, f]) for f in field_names_at(parents)]
                raise ConfigError(f"{source}: {field}.{name}: not a field of the experiment config"
                                  f"{close_match_hint(str(name), candidates)}")
            if not isinstance(levels, Sequence) or isinstance(levels, str):
                raise ConfigError(f"{source}: {field}.{name}: expected a list of levels, got {levels!r}")
            try:
                factors.append(Factor(str(name), tuple(levels)))
            except ConfigError as err:
                raise ConfigError(f"{source}: {field}.{err}") from None
        return cls(tuple(factors))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.factors)

    def full_factorial(self) -> list[Cell]:
        combos = itertools.product(*(f.levels for f in self.factors))
        return [Cell(tuple(zip(self.names, combo))) for combo in combos]

    def cell(self, levels: Mapping[str, Any], *, source: str, field: str) -> Cell:
        """The cell with these levels (missing factors take their first level); unknown factors or levels raise."""
        unknown = sorted(set(levels) - set(self.names))
        if unknown:
            raise ConfigError(f"{source}: {field}.{unknown[0]}: not a factor of the design"
                              f"{close_match_hint(unknown[0], self.names)}")
        items = []
        for f in self.factors:
            value = levels.get(f.name, f.levels[0])
            if level_text(value) not in {level_text(v) for v in f.levels}:
                raise ConfigError(f"{source}: {field}.{f.name}: {value!r} is not one of its levels {list(f.levels)}")
            items.append((f.name, value))
        return Cell(tuple(items))
