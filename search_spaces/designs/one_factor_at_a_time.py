"""``one_factor_at_a_time``: the baseline, then each factor moved through each of its other levels with every
other factor at the baseline's level."""
from __future__ import annotations

from search_spaces.designs.registry import DESIGNS, Design, DesignRequest, moved
from search_spaces.factors import Cell, level_text


def one_factor_at_a_time(request: DesignRequest) -> list[Cell]:
    space, baseline = request.space, request.baseline
    base_levels = baseline.as_dict()
    return [baseline] + [moved(space, baseline, f.name, v) for f in space.factors for v in f.levels
                         if level_text(v) != level_text(base_levels[f.name])]


DESIGNS.register("one_factor_at_a_time")(Design(one_factor_at_a_time))
