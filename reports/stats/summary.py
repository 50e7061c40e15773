"""Per-cell statistics over seeds: counts by status, mean, sd and 95 % t interval of every metric."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports.fetch.load import FAILED_STATUSES, FINISHED, RUNNING_STATUSES, StudyRuns
from reports.stats.intervals import t_half_width

COUNT_COLUMNS = ("n_planned", "n_finished", "n_failed", "n_running", "n_missing")
NO_FINISHED_RUNS = "no finished runs"
SUMMARY_STATS = ("mean", "sd", "ci_low", "ci_high", "n")


def summarize(runs: StudyRuns) -> pd.DataFrame:
    """One row per cell in design order (baseline first), never dropping a cell.

    Columns: cell, baseline (bool), one column per factor (its level), n_planned, n_finished, n_failed (FAILED or
    KILLED), n_running (RUNNING or SCHEDULED), n_missing (planned seeds with no run), then per metric `<m>_mean`,
    `<m>_sd` (ddof=1, NaN when fewer than 2 values), `<m>_ci_low` and `<m>_ci_high` (95 % Student-t interval of
    the mean; NaN below two values) and `<m>_n` (finished runs that logged it), and `note`
    ("no finished runs" for a cell without any). Statistics use finished runs only.
    """
    frame = runs.runs
    cells = list(runs.cells)
    status = frame["status"]
    counts = pd.DataFrame({
        "n_finished": (status == FINISHED).groupby(frame["cell"]).sum(),
        "n_failed": status.isin(FAILED_STATUSES).groupby(frame["cell"]).sum(),
        "n_running": status.isin(RUNNING_STATUSES).groupby(frame["cell"]).sum(),
    }).reindex(cells, fill_value=0).astype("int64")
    seeds = frame.groupby("cell")["seed"].agg(set).to_dict()
    table = pd.DataFrame({"cell": cells, "baseline": [cell == runs.baseline_cell for cell in cells]})
    for factor in runs.factors:
        table[factor] = [runs.cell_levels[cell][factor] for cell in cells]
    table["n_planned"] = [len(runs.planned_seeds(cell)) for cell in cells]
    for column in ("n_finished", "n_failed", "n_running"):
        table[column] = counts[column].to_numpy()
    table["n_missing"] = [len(runs.planned_seeds(cell) - seeds.get(cell, set())) for cell in cells]
    finished = frame[status == FINISHED]
    for metric in runs.metrics:
        for stat, values in _metric_stats(finished, metric, cells).items():
            table[f"{metric}_{stat}"] = values
    table["note"] = np.where(table["n_finished"] == 0, NO_FINISHED_RUNS, "")
    return table


def _metric_stats(finished: pd.DataFrame, metric: str, cells: list[str]) -> dict[str, np.ndarray]:
    """mean, sd, ci_low, ci_high, n of one metric per cell (in `cells` order), NaN where undefined."""
    grouped = finished.groupby("cell")[metric].agg(["mean", "std", "count"]).reindex(cells)
    n = grouped["count"].fillna(0).to_numpy(dtype=np.int64)
    mean = grouped["mean"].to_numpy(dtype=float)
    sd = np.where(n >= 2, grouped["std"].to_numpy(dtype=float), math.nan)
    half = t_half_width(sd, n)
    return {"mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half, "n": n}


def factor_columns(summary: pd.DataFrame, factors: Sequence[str]) -> list[str]:
    """The factor columns of a `summarize` table, found by name (one column per factor, named by the factor)."""
    missing = [factor for factor in factors if factor not in summary.columns]
    if missing:
        raise ValueError(f"factors {missing} are not columns of the summary; expected a table made by summarize() "
                         f"of the same study, but got columns {list(summary.columns)}")
    return list(factors)


def trial_counts(summary: pd.DataFrame) -> str:
    """`12 planned, 10 finished, 1 failed, 1 missing` (and `, n running` while trials run) over every cell."""
    totals = {column: int(summary[column].sum()) for column in COUNT_COLUMNS}
    text = (f"{totals['n_planned']} planned, {totals['n_finished']} finished, {totals['n_failed']} failed, "
            f"{totals['n_missing']} missing")
    return text + (f", {totals['n_running']} running" if totals["n_running"] else "")
