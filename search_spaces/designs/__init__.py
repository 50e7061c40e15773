"""Experimental designs over a factor space: which cells a study runs.

Each design is one module registered in `DESIGNS` (`registry.py`); importing this package registers the built-in
ones: ``full_factorial``, ``one_factor_at_a_time``, ``leave_one_out``. A new design is one module with a
``DESIGNS.register("<name>")(Design(choose, options=...))`` line, imported below.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from search_spaces.designs import full_factorial, leave_one_out, one_factor_at_a_time  # noqa: F401  (registration)
from search_spaces.designs.exclusions import apply_exclusions, check_rules, matches
from search_spaces.designs.registry import DESIGNS, Design, DesignRequest
from search_spaces.factors import Cell, FactorSpace
from sed_core.errors import ConfigError

__all__ = ["DESIGNS", "Design", "DesignRequest", "check_rules", "design_cells", "matches"]


def design_cells(space: FactorSpace, design: str, baseline: Cell, *, exclude: Sequence[Mapping[str, Any]] = (),
                 source: str = "<study>", **options: Any) -> list[Cell]:
    """The cells of ``design`` in run order (baseline first for the one-factor designs), exclusions applied.

    ``options`` are the design block's own keys (e.g. ``ablated``); one set for a design that does not read it is
    refused, so a key cannot be silently inert."""
    try:
        chosen = DESIGNS.get(design)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    for key, value in options.items():
        if value and key not in chosen.options:
            readers = [name for name in DESIGNS if key in DESIGNS.get(name).options]
            raise ConfigError(f"{source}: design.{key}: read only by the {', '.join(readers)} design; remove it or "
                              f"set design.type: {readers[0] if readers else '...'}")
    cells = chosen(DesignRequest(space, baseline, options, source))
    return apply_exclusions(cells, baseline, space, exclude, design=design, source=source)
