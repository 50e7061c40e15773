"""Every statistic of a report, computed once from a loaded study."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from reports.errors import ReportError
from reports.fetch.analysis_plan import AnalysisPlan
from reports.fetch.load import FINISHED, StudyRuns
from reports.stats.anova import EFFECT_COLUMNS, factor_effects
from reports.stats.comparisons import compare_to_baseline
from reports.stats.primary import primary_verdicts, sequential_verdicts
from reports.stats.summary import summarize

PRIMARY, SECONDARY = "primary", "secondary"


@dataclass(frozen=True, eq=False)
class StudyAnalysis:
    """`summary`: one row per cell (summarize); `primary`: the plan's verdicts (primary_verdicts); `comparisons`:
    cell x metric against the baseline (compare_to_baseline); `effects`: the seed-blocked ANOVA table of every
    metric, stacked (factor_effects). `comparisons` and `effects` carry a `role` column, primary or secondary:
    their `significant` is True only on primary rows, and then equals the primary verdict.

    `plan`: the plan applied (the study's, with a report's correction override); `declared`: whether the study
    declared it (False: a store older than declared plans, analysed with the default plan); `overridden`: the
    declared correction a report replaced, else None."""

    summary: pd.DataFrame
    primary: pd.DataFrame
    comparisons: pd.DataFrame
    effects: pd.DataFrame
    plan: AnalysisPlan
    metric: str
    declared: bool
    overridden: str | None = None

    @property
    def correction(self) -> str:
        return self.plan.correction

    @property
    def alpha(self) -> float:
        return self.plan.alpha


def analyze(runs: StudyRuns, *, correction: str | None = None) -> StudyAnalysis:
    """Per-cell statistics, the plan's primary verdicts, the secondary comparisons with the baseline and factor
    effects. `correction`: replaces the plan's correction (a report's `--correction`); None keeps it."""
    declared = runs.plan or AnalysisPlan()
    plan = declared.with_correction(correction)
    metric = plan.primary_metric(runs.objective)
    if metric not in runs.metrics:
        raise ReportError(f"study {runs.study!r}: the analysis plan's metric {metric!r} is not among the study's "
                          f"metrics {list(runs.metrics)}; its trials do not log it")
    finished = runs.runs[runs.runs["status"] == FINISHED]
    if runs.sequential is not None:
        primary = sequential_verdicts(runs.runs, cells=runs.cells, baseline=runs.baseline_cell,
                                      design=runs.sequential, plan=plan, metric=metric)
    else:
        primary = primary_verdicts(finished, cells=runs.cells, baseline=runs.baseline_cell, factors=runs.factors,
                                   plan=plan, metric=metric)
    comparisons = compare_to_baseline(finished, cells=runs.cells, baseline=runs.baseline_cell, metrics=runs.metrics,
                                      correction=plan.correction, alpha=plan.alpha,
                                      test=plan.test or "paired_t")
    is_primary = (comparisons["metric"] == metric) & (plan.family == "vs_baseline") & (runs.sequential is None)
    comparisons["role"] = is_primary.map({True: PRIMARY, False: SECONDARY})
    comparisons["significant"] = comparisons["significant"] & is_primary
    if runs.factors:
        effects = pd.concat([factor_effects(finished, runs.factors, m, alpha=plan.alpha) for m in runs.metrics],
                            ignore_index=True)
    else:
        effects = pd.DataFrame(columns=list(EFFECT_COLUMNS))
    verdicts = dict(zip(runs.factors, primary["significant"])) if plan.family == "main_effects" else {}
    is_primary = (effects["metric"] == metric) & effects["term"].isin(verdicts)
    effects["role"] = is_primary.map({True: PRIMARY, False: SECONDARY})
    effects["significant"] = [bool(verdicts.get(term, False)) and bool(main)
                              for term, main in zip(effects["term"], is_primary)]
    return StudyAnalysis(summary=summarize(runs), primary=primary, comparisons=comparisons, effects=effects,
                         plan=plan, metric=metric, declared=runs.plan is not None,
                         overridden=declared.correction if plan.correction != declared.correction else None)


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
