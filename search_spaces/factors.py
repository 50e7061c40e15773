"""Factors with levels, and the cells of a design over them, checked against the experiment schema."""
from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sed_core.config.loading import field_names_at, is_config_path
from sed_core.errors import ConfigError, bounded_repr, close_match_hint


def level_text(value: Any) -> str:
    """A level as it appears in cell ids, tags and tables: JSON for lists/dicts, plain text otherwise."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class Factor:
    """One factor and its levels (the first level is the baseline's by default).

    A plain factor is a dotted config path whose levels are values. A bundle factor has a free name and named
    levels, each setting several config fields at once (``bundles[level] = {dotted path: value}``), for
    comparisons like ASiT-CRNN vs CRNN or a backbone together with its checkpoint.
    """

    name: str
    levels: tuple[Any, ...]
    bundles: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    def overrides(self, level: Any) -> list[tuple[str, Any]]:
        """The config fields this level sets."""
        if not self.bundles:
            return [(self.name, level)]
        return list(dict(self.bundles)[level])

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
    overrides: tuple[tuple[str, Any], ...] = ()  # the config fields the levels set (dotted path, value)

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
            if isinstance(levels, Mapping):
                factors.append(bundle_factor(str(name), levels, source=source, field=f"{field}.{name}"))
                continue
            if not is_config_path(str(name)):
                *parents, leaf = str(name).split(".")
                candidates = [".".join([*parents, f]) for f in field_names_at(parents)]
                raise ConfigError(f"{source}: {field}.{name}: not a field of the experiment config"
                                  f"{close_match_hint(str(name), candidates)}")
            if not isinstance(levels, Sequence) or isinstance(levels, str):
                raise ConfigError(f"{source}: {field}.{name}: expected a list of levels, got {bounded_repr(levels)}")
            try:
                factors.append(Factor(str(name), tuple(levels)))
            except ConfigError as err:  # "factor NAME: what is wrong" -> "SOURCE: FIELD.NAME: what is wrong"
                raise ConfigError(f"{source}: {field}.{name}: {str(err).removeprefix(f'factor {name}: ')}") from None
        return cls(tuple(factors))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.factors)

    def make_cell(self, values: Sequence[Any]) -> Cell:
        overrides = [item for f, v in zip(self.factors, values) for item in f.overrides(v)]
        return Cell(tuple(zip(self.names, values)), tuple(overrides))

    def full_factorial(self) -> list[Cell]:
        return [self.make_cell(combo) for combo in itertools.product(*(f.levels for f in self.factors))]

    def cell(self, levels: Mapping[str, Any], *, source: str, field: str) -> Cell:
        """The cell with these levels (missing factors take their first level); unknown factors or levels raise."""
        unknown = sorted(set(levels) - set(self.names))
        if unknown:
            raise ConfigError(f"{source}: {field}.{unknown[0]}: not a factor of the design"
                              f"{close_match_hint(unknown[0], self.names)}")
        values = []
        for f in self.factors:
            value = levels.get(f.name, f.levels[0])
            if level_text(value) not in {level_text(v) for v in f.levels}:
                raise ConfigError(f"{source}: {field}.{f.name}: {bounded_repr(value)} is not one of its levels "
                                  f"{bounded_repr(list(f.levels))}")
            values.append(value)
        return self.make_cell(values)


def check_config_path(path: str, *, source: str, field: str) -> None:
    if not is_config_path(path):
        *parents, _ = path.split(".")
        candidates = [".".join([*parents, f]) for f in field_names_at(parents)]
        raise ConfigError(f"{source}: {field}: {path!r} is not a field of the experiment config"
                          f"{close_match_hint(path, candidates)}")


def bundle_factor(name: str, levels: Mapping[str, Any], *, source: str, field: str) -> Factor:
    """``{level name: {dotted path: value, ...}, ...}`` -> a bundle factor; every path checked against the schema."""
    if not levels:
        raise ConfigError(f"{source}: {field}: needs at least one level, got none")
    bundles = []
    for level, settings in levels.items():
        if not isinstance(settings, Mapping) or not settings:
            raise ConfigError(f"{source}: {field}.{level}: expected a mapping of dotted config keys to values, "
                              f"e.g. {{model.backbone.name: beats, model.backbone.checkpoint: /models/beats.pt}}")
        for path in settings:
            check_config_path(str(path), source=source, field=f"{field}.{level}")
        bundles.append((str(level), tuple((str(k), v) for k, v in settings.items())))
    return Factor(name, tuple(level for level, _ in bundles), tuple(bundles))
