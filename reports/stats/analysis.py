"""Every statistic of a report, computed once from a loaded study."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from reports.fetch.load import FINISHED, StudyRuns
from reports.stats.anova import EFFECT_COLUMNS, factor_effects
from reports.stats.comparisons import compare_to_baseline
from reports.stats.summary import summarize


@dataclass(frozen=True, eq=False)
class StudyAnalysis:
    """`summary`: one row per cell (summarize); `comparisons`: cell x metric against the baseline
    (compare_to_baseline); `effects`: the ANOVA table of every metric, stacked (factor_effects)."""

    summary: pd.DataFrame
    comparisons: pd.DataFrame
    effects: pd.DataFrame
    correction: str
    alpha: float


def analyze(runs: StudyRuns, *, correction: str = "holm", alpha: float = 0.05) -> StudyAnalysis:
    """Per-cell statistics, paired comparisons with the baseline (corrected across the table), factor effects."""
    finished = runs.runs[runs.runs["status"] == FINISHED]
    comparisons = compare_to_baseline(finished, cells=runs.cells, baseline=runs.baseline_cell, metrics=runs.metrics,
                                      correction=correction, alpha=alpha)
    if runs.factors:
        effects = pd.concat([factor_effects(finished, runs.factors, metric, alpha=alpha) for metric in runs.metrics],
                            ignore_index=True)
    else:
        effects = pd.DataFrame(columns=list(EFFECT_COLUMNS))
    return StudyAnalysis(summary=summarize(runs), comparisons=comparisons, effects=effects, correction=correction,
                         alpha=alpha)


def ranked_cells(runs: StudyRuns, summary: pd.DataFrame, limit: int) -> list[str]:
    """The baseline, then the cells with the best objective mean (mode-aware), `limit` cells in all.

    Cells without a finished run come last, in design order; used to bound figures that read per-run data.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, but got {limit}")
    column = f"{runs.objective}_mean"
    means = dict(zip(summary["cell"], summary[column])) if column in summary.columns else {}
    sign = 1.0 if runs.objective_mode == "min" else -1.0
    order = {cell: i for i, cell in enumerate(runs.cells)}

    def rank(cell: str) -> tuple[bool, float, int]:
        mean = means.get(cell, math.nan)
        return math.isnan(mean), 0.0 if math.isnan(mean) else sign * mean, order[cell]

    others = sorted((cell for cell in runs.cells if cell != runs.baseline_cell), key=rank)
    return [runs.baseline_cell, *others][:limit]
