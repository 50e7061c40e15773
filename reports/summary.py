"""Per-cell statistics over seeds: counts by status, mean and sd of every metric."""
from __future__ import annotations

import math

import pandas as pd

from reports.load import FAILED_STATUSES, FINISHED, RUNNING_STATUSES, StudyRuns

COUNT_COLUMNS = ("n_planned", "n_finished", "n_failed", "n_running", "n_missing")
NO_FINISHED_RUNS = "no finished runs"


def summarize(runs: StudyRuns) -> pd.DataFrame:
    """One row per cell in design order (baseline first), never dropping a cell.

    Columns: cell, baseline (bool), one column per factor (its level), n_planned, n_finished, n_failed (FAILED or
    KILLED), n_running (RUNNING or SCHEDULED), n_missing (planned seeds with no run), then per metric `<m>_mean`,
    `<m>_sd` (ddof=1, NaN when fewer than 2 values) and `<m>_n` (finished runs that logged it), and `note`
    ("no finished runs" for a cell without any). Statistics use finished runs only.
    """
    rows = []
    by_cell = dict(iter(runs.runs.groupby("cell", sort=False)))
    empty = runs.runs.iloc[0:0]
    for cell in runs.cells:
        trials = by_cell.get(cell, empty)
        finished = trials[trials["status"] == FINISHED]
        planned = runs.planned_seeds(cell)
        row: dict[str, object] = {"cell": cell, "baseline": cell == runs.baseline_cell, **runs.cell_levels[cell],
                                  "n_planned": len(planned),
                                  "n_finished": len(finished),
                                  "n_failed": int(trials["status"].isin(FAILED_STATUSES).sum()),
                                  "n_running": int(trials["status"].isin(RUNNING_STATUSES).sum()),
                                  "n_missing": len(planned - set(trials["seed"]))}
        for metric in runs.metrics:
            values = finished[metric].dropna()
            row[f"{metric}_mean"] = float(values.mean()) if len(values) else math.nan
            row[f"{metric}_sd"] = float(values.std(ddof=1)) if len(values) >= 2 else math.nan
            row[f"{metric}_n"] = len(values)
        row["note"] = NO_FINISHED_RUNS if finished.empty else ""
        rows.append(row)
    columns = ["cell", "baseline", *runs.factors, *COUNT_COLUMNS,
               *(f"{metric}_{stat}" for metric in runs.metrics for stat in ("mean", "sd", "n")), "note"]
    return pd.DataFrame(rows, columns=columns)


def factor_columns(summary: pd.DataFrame) -> list[str]:
    """The factor columns of a `summarize` table: those between `baseline` and `n_planned`."""
    columns = list(summary.columns)
    try:
        return columns[columns.index("baseline") + 1:columns.index(COUNT_COLUMNS[0])]
    except ValueError as error:
        raise ValueError(f"expected a table made by summarize() with columns 'baseline' and 'n_planned', "
                         f"but got columns {columns}") from error
