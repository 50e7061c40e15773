"""``full_factorial``: every combination of levels."""
from __future__ import annotations

from search_spaces.designs.registry import DESIGNS, Design, DesignRequest
from search_spaces.factors import Cell


def full_factorial(request: DesignRequest) -> list[Cell]:
    return request.space.full_factorial()


DESIGNS.register("full_factorial")(Design(full_factorial))
