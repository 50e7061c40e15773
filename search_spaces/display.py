"""Short names of factors, levels and cells for people: tables, figures, LaTeX, the live table and log lines.

A cell's id (``model.pooling=attention|training.mixup.probability=0.5``) is exact and stays the key in the store;
its display name is short (``pooling=attention, mixup=0.5``). Defaults come from the dotted paths; a study
overrides any of them under ``display:``::

    display:
      factors: {training.mixup.probability: mixup}
      levels: {training.mixup.probability: {0.5: "on", 0.0: "off"}}
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from search_spaces.factors import Cell, FactorSpace, level_text
from sed_core.errors import ConfigError, bounded_repr, close_match_hint

# last path components that say little alone: the default name keeps the component before them
_GENERIC = {"probability", "schedule", "name", "weight", "type", "value", "mode", "variant", "init", "branches"}
_DROPPED = {"name"}  # model.backbone.name -> "backbone"


def default_factor_name(path: str) -> str:
    """``model.pooling`` -> ``pooling``; ``training.mixup.probability`` -> ``mixup.probability``;
    ``model.backbone.name`` -> ``backbone``; a bundle factor's free name stays as it is."""
    parts = path.split(".")
    if len(parts) == 1:
        return path
    if parts[-1] in _DROPPED:
        return parts[-2]
    if parts[-1] in _GENERIC:
        return ".".join(parts[-2:])
    return parts[-1]


@dataclass(frozen=True)
class DisplayNames:
    factors: dict[str, str]  # factor (dotted path or bundle name) -> display name
    levels: dict[str, dict[str, str]]  # factor -> level_text(level) -> display name (only renamed levels)

    def factor(self, name: str) -> str:
        return self.factors.get(name, name)

    def level(self, factor: str, value: Any) -> str:
        text = level_text(value)
        return self.levels.get(factor, {}).get(text, text)

    def cell(self, cell: Cell) -> str:
        return ", ".join(f"{self.factor(name)}={self.level(name, value)}" for name, value in cell.levels)

    def as_dict(self) -> dict[str, Any]:
        return {"factors": self.factors, "levels": self.levels}


def display_names(space: FactorSpace, overrides: Mapping[str, Any] | None, *, source: str,
                  field: str = "display") -> DisplayNames:
    """Display names for `space`: the defaults with the study's `overrides` (``{factors: {...}, levels: {...}}``)
    laid over them. Unknown factors or levels, and two factors that would show under one name, raise."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {"factors", "levels"})
    if unknown:
        hint = close_match_hint(unknown[0], ["factors", "levels"])
        raise ConfigError(f"{source}: {field}.{unknown[0]}: unknown key{hint}; expected factors and levels")
    factors = {name: default_factor_name(name) for name in space.names}
    defaults = list(factors.values())
    factors = {name: name if defaults.count(shown) > 1 else shown for name, shown in factors.items()}
    for name, shown in _mapping(overrides.get("factors"), source, f"{field}.factors").items():
        _known_factor(name, space, source, f"{field}.factors")
        factors[name] = _text(shown, source, f"{field}.factors.{name}")
    _unique(factors, source, f"{field}.factors")
    levels: dict[str, dict[str, str]] = {}
    for name, renamed in _mapping(overrides.get("levels"), source, f"{field}.levels").items():
        _known_factor(name, space, source, f"{field}.levels")
        factor = next(f for f in space.factors if f.name == name)
        known = [level_text(v) for v in factor.levels]
        for level, shown in _mapping(renamed, source, f"{field}.levels.{name}").items():
            text = level_text(level)
            if text not in known:
                raise ConfigError(f"{source}: {field}.levels.{name}.{text}: not a level of the factor"
                                  f"{close_match_hint(text, known)}; its levels are {known}")
            levels.setdefault(name, {})[text] = _text(shown, source, f"{field}.levels.{name}.{text}")
        shown_levels = {text: levels.get(name, {}).get(text, text) for text in known}
        _unique(shown_levels, source, f"{field}.levels.{name}")
    return DisplayNames(factors, levels)


def _mapping(value: Any, source: str, field: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: {field}: expected a mapping, got {type(value).__name__}")
    return value


def _text(value: Any, source: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{source}: {field}: expected a non-empty text, got {bounded_repr(value)}")
    return value.strip()


def _known_factor(name: str, space: FactorSpace, source: str, field: str) -> None:
    if name not in space.names:
        hint = close_match_hint(str(name), space.names)
        raise ConfigError(f"{source}: {field}.{name}: not a factor of the design{hint}")


def _unique(names: Mapping[str, str], source: str, field: str) -> None:
    seen: dict[str, str] = {}
    for key, shown in names.items():
        if shown in seen:
            raise ConfigError(f"{source}: {field}: {seen[shown]!r} and {key!r} would both show as {shown!r}; "
                              f"give one of them another name under {field}")
        seen[shown] = key
