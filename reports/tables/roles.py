"""The student and teacher table: both mean-teacher models' numbers per cell and the best epoch of each seed."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from reports.contract import BEST_EPOCH_METRIC, ROLES
from reports.fetch.load import FINISHED, StudyRuns
from reports.stats.model_roles import DECIMALS, reported_model
from reports.tables.model import Table, TableCell

ROLES_NOTE = ("Mean ± sd over finished seeds of `student/<metric>` and `teacher/<metric>`, both scored at the "
              "student's best epoch on the test split; best epoch counted from 1 as the terminal counts epochs.")

def roles_table(runs: StudyRuns, *, link: Callable[[str], str | None] = lambda cell: None) -> Table | None:
    """Per cell: mean ± sd over finished seeds of each study metric for the student and the teacher, and the
    best epoch (1-based); None when no trial logs per-model metrics."""
    metrics = [m for m in runs.metrics if any(runs.roles.get(f"{role}/{m}", pd.Series(dtype=float)).notna().any()
                                              for role in ROLES)]
    if not metrics:
        return None
    reported = reported_model(runs)
    finished = runs.runs["status"] == FINISHED
    rows = []
    for cell in runs.cells:
        mine = finished & (runs.runs["cell"] == cell)
        if not mine.any():
            continue
        values = [TableCell(_mean_sd(runs.roles.loc[mine, f"{role}/{m}"]) if f"{role}/{m}" in runs.roles else "–")
                  for m in metrics for role in ROLES]
        epochs = runs.roles.loc[mine, BEST_EPOCH_METRIC] if BEST_EPOCH_METRIC in runs.roles else pd.Series(dtype=float)
        best = "–" if epochs.dropna().empty else " ".join(str(int(e) + 1) for e in epochs.dropna())
        rows.append((TableCell(cell, link=link(cell)), TableCell(str(int(mine.sum()))), *values, TableCell(best)))
    header = ("cell", "n", *(f"{m} {role}" + (" (reported)" if role == reported else "") for m in metrics
                             for role in ROLES), "best epoch per seed")
    return Table(name="roles", caption="Student and teacher", header=header,
                 align=("l", "r", *("c",) * (2 * len(metrics)), "l"), rows=tuple(rows),
                 notes=(ROLES_NOTE,))


def _mean_sd(values: Sequence[float] | pd.Series) -> str:
    present = pd.Series(values, dtype=float).dropna()
    if present.empty:
        return "–"
    sd = "n/a" if len(present) < 2 else f"{present.std(ddof=1):.{DECIMALS}f}"
    return f"{present.mean():.{DECIMALS}f} ± {sd}"
