"""The table of the shared training recipe: the config fields whose stored value is the same on every trial run.

A field that differs between runs is a factor (it is set per cell) or, outside the design, shown as varying.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from reports.contract import DATA_KIND_TAG
from reports.fetch.recipe_params import RECIPE, shared_value
from reports.tables.model import Table, TableCell

NOT_RECORDED = "not recorded"
NOTE = ("Values as stored in the params of every trial run (the flattened config); steps per epoch null: as "
        "many batches as the smallest training source fills. A field that differs between runs is a factor of the "
        "design or is listed with its values.")


def recipe_table(recipe: pd.DataFrame, factors: Sequence[str], seeds: Sequence[int], data_kinds: Sequence[str]
                 ) -> Table:
    """One row per recipe field: its shared value, "factor" or the values it takes; then data kind and seeds.

    `recipe`: param texts as logged (columns RECIPE_PARAMS, one row per trial run; None where absent);
    `data_kinds`: the runs' recorded `sedstudy.data.kind` values; `seeds`: the study's planned seeds.
    """
    rows = []
    for key, title in RECIPE:  # PHASE_PARAMS are not listed
        values = recipe[key] if key in recipe.columns else pd.Series(None, index=recipe.index, dtype=object)
        rows.append((TableCell(title), TableCell(_field_text(key, values, factors)), TableCell(key)))
    kinds = sorted(set(data_kinds))
    rows.append((TableCell("data kind"), TableCell(", ".join(kinds) if kinds else NOT_RECORDED),
                 TableCell(DATA_KIND_TAG)))
    rows.append((TableCell("seeds (per cell)"), TableCell(", ".join(str(seed) for seed in sorted(set(seeds)))),
                 TableCell("seed")))
    return Table(name="recipe", caption="Shared training recipe", header=("setting", "value", "param"),
                 align=("l", "l", "l"), rows=tuple(rows), notes=(NOTE,))


def _field_text(key: str, values: pd.Series, factors: Sequence[str]) -> str:
    if key in factors:
        return "varies: a factor of the design"
    present = values.dropna()
    if present.empty:
        return NOT_RECORDED
    value = shared_value(values)
    if value is not None:
        return value
    texts = sorted(set(present))
    missing = " (not recorded on some runs)" if len(present) < len(values) else ""
    return f"varies: {', '.join(texts)}{missing}"
