"""The compact results table of the Markdown page: one row per cell, `mean ± sd` per metric, trial counts."""
from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from reports.stats.summary import factor_columns
from reports.tables.model import Table, TableCell
from reports.tables.study import convention_notes

DECIMALS = 3


def compact_results_table(summary: pd.DataFrame, metrics: Sequence[str], *, factors: Sequence[str]) -> Table:
    """A `summarize` table as rows of cells.

    Columns: the factor levels, n (finished runs), `mean ± sd` per metric with 3 decimals, `failed / missing`
    (only when a cell has failed or missing trials), `running` (only when a trial still runs) and a note
    (baseline, no finished runs). A metric logged by fewer runs than n carries its own `(n=k)`.
    """
    unknown = [metric for metric in metrics if f"{metric}_mean" not in summary.columns]
    if unknown:
        known = [column[:-len("_mean")] for column in summary.columns if column.endswith("_mean")]
        raise ValueError(f"metrics {unknown} are not in the summary; expected some of {known}")
    factors = factor_columns(summary, factors)
    show_failed = bool((summary["n_failed"] > 0).any() or (summary["n_missing"] > 0).any())
    show_running = bool((summary["n_running"] > 0).any())

    header = [*factors, "n", *metrics]
    align = ["l"] * len(factors) + ["r"] + ["c"] * len(metrics)
    if show_failed:
        header.append("failed / missing")
        align.append("r")
    if show_running:
        header.append("running")
        align.append("r")
    header.append("note")
    align.append("l")

    rows = []
    for _, cell in summary.iterrows():
        row = [*(str(cell[factor]) for factor in factors), str(cell["n_finished"])]
        row += [_mean_sd(cell, metric) for metric in metrics]
        if show_failed:
            row.append(f"{cell['n_failed']} / {cell['n_missing']}")
        if show_running:
            row.append(str(cell["n_running"]))
        notes = ["baseline"] if cell["baseline"] else []
        if cell["note"]:
            notes.append(str(cell["note"]))
        row.append(", ".join(notes))
        rows.append(tuple(TableCell(text) for text in row))
    return Table(name="results_compact", caption="Results per cell", header=tuple(header), align=tuple(align),
                 rows=tuple(rows), notes=convention_notes(metrics))


def _mean_sd(cell: pd.Series, metric: str) -> str:
    mean, sd, n = cell[f"{metric}_mean"], cell[f"{metric}_sd"], int(cell[f"{metric}_n"])
    if math.isnan(mean):
        return "–"
    text = f"{mean:.{DECIMALS}f} ± " + ("n/a" if math.isnan(sd) else f"{sd:.{DECIMALS}f}")
    return text if n == cell["n_finished"] else f"{text} (n={n})"
