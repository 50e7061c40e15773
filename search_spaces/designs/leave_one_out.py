"""``leave_one_out``: the baseline (the full system), then one cell per factor with that factor at its ablated
level (``design.ablated``; by default the factor's last level) and the others at the baseline's."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from search_spaces.designs.registry import DESIGNS, Design, DesignRequest, moved
from search_spaces.factors import Cell, FactorSpace, level_text
from sed_core.errors import ConfigError, bounded_repr, close_match_hint


def leave_one_out(request: DesignRequest) -> list[Cell]:
    levels = ablated_levels(request.space, request.baseline, request.options.get("ablated") or {}, request.source)
    return [request.baseline] + [moved(request.space, request.baseline, name, level) for name, level in levels.items()]


def ablated_levels(space: FactorSpace, baseline: Cell, ablated: Mapping[str, Any], source: str) -> dict[str, Any]:
    unknown = sorted(set(ablated) - set(space.names))
    if unknown:
        raise ConfigError(f"{source}: design.ablated.{unknown[0]}: not a factor of the design"
                          f"{close_match_hint(unknown[0], space.names)}")
    out = {}
    for f in space.factors:
        level = ablated.get(f.name, f.levels[-1])
        if level_text(level) not in {level_text(v) for v in f.levels}:
            raise ConfigError(f"{source}: design.ablated.{f.name}: {bounded_repr(level)} is not one of its "
                              f"levels {bounded_repr(list(f.levels))}")
        if level_text(level) == level_text(baseline.as_dict()[f.name]):
            raise ConfigError(f"{source}: design.ablated.{f.name}: the ablated level {level!r} is the baseline's; "
                              f"leave-one-out needs another level (set design.ablated.{f.name})")
        out[f.name] = level
    return out


DESIGNS.register("leave_one_out")(Design(leave_one_out, options=frozenset({"ablated"})))
