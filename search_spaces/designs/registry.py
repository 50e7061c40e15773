"""The study designs a `design.type` can name: one module per design, registered here by name."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from search_spaces.factors import Cell, FactorSpace
from sed_core.registry import Registry


@dataclass(frozen=True)
class DesignRequest:
    """What a design reads to choose its cells; `options` holds the design block's own keys (e.g. `ablated`)."""

    space: FactorSpace
    baseline: Cell
    options: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<study>"


@dataclass(frozen=True)
class Design:
    """A design: `choose` gives its cells in run order; `options` names the `design.*` keys it reads beyond
    `factors`, `baseline` and `exclude` (any other key set in the study is refused as inert)."""

    choose: Callable[[DesignRequest], list[Cell]]
    options: frozenset[str] = frozenset()

    def __call__(self, request: DesignRequest) -> list[Cell]:
        return self.choose(request)


DESIGNS: Registry[Design] = Registry("design", "design.type")


def moved(space: FactorSpace, baseline: Cell, name: str, value: Any) -> Cell:
    """The baseline with one factor moved to `value`."""
    return space.cell({**baseline.as_dict(), name: value}, source="<design>", field="design")
