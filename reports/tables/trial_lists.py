"""The failed and the missing trials of a study, as rows for the reports' trial lists."""
from __future__ import annotations

from reports.fetch.load import FAILED_STATUSES, StudyRuns

NO_REASON = "(no reason recorded)"


def failed_trials(runs: StudyRuns) -> list[tuple[str, str, str, str]]:
    """(cell, seed, status, reason) of every FAILED or KILLED trial, in design order."""
    failed = runs.runs[runs.runs["status"].isin(FAILED_STATUSES)]
    return [(row.cell, str(row.seed), row.status, row.failure or NO_REASON) for row in failed.itertuples(index=False)]


def missing_trials(runs: StudyRuns) -> list[tuple[str, str]]:
    """(cell, seed) of every planned trial without a run, in design order."""
    recorded = set(zip(runs.runs["cell"], runs.runs["seed"]))
    order = {cell: i for i, cell in enumerate(runs.cells)}
    missing = sorted({(trial.cell, trial.seed) for trial in runs.planned} - recorded,
                     key=lambda trial: (order[trial[0]], trial[1]))
    return [(cell, str(seed)) for cell, seed in missing]
