"""Interaction plots: the objective metric over one factor's levels, one line per level of another factor."""
from __future__ import annotations

import itertools
import math
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from reports.fetch.load import FINISHED, StudyRuns
from reports.figures.by_level import t_ci95
from reports.figures.style import FORMATS, PALETTE, figure_style, save_figure, set_category_ticks

PANEL_SIZE = (3.2, 2.8)  # plus the legend to the right of each panel
MAX_COLUMNS = 3
MAX_HUE_LEVELS = 10  # more lines than this are unreadable; the panel says so instead


def save_interactions(runs: StudyRuns, path: str | Path, *, metric: str | None = None,
                      formats: tuple[str, ...] = FORMATS) -> tuple[Path, ...] | None:
    """One panel per factor pair (a, b): mean of `metric` (default: the objective) per level of a, one line per
    level of b, with 95 % t intervals over the finished trials. None for a study with fewer than two factors."""
    if len(runs.factors) < 2:
        return None
    metric = metric or runs.objective
    pairs = list(itertools.combinations(runs.factors, 2))
    finished = runs.runs[runs.runs["status"] == FINISHED]
    columns = min(MAX_COLUMNS, len(pairs))
    rows = math.ceil(len(pairs) / columns)
    with figure_style():
        figure = Figure(figsize=((PANEL_SIZE[0] + 1.3) * columns, PANEL_SIZE[1] * rows), layout="constrained")
        axes = figure.subplots(rows, columns, squeeze=False)
        for k, (a, b) in enumerate(pairs):
            ax = axes[k // columns][k % columns]
            data = finished[[a, b, metric]].dropna()
            a_levels, b_levels = list(runs.factor_levels[a]), list(runs.factor_levels[b])
            if data.empty or len(b_levels) > MAX_HUE_LEVELS:
                reason = "no finished runs" if data.empty else f"{len(b_levels)} levels of {b}: too many lines"
                ax.text(0.5, 0.5, reason, ha="center", va="center", transform=ax.transAxes)
            else:
                sns.pointplot(data=_categorical(data, a, b, a_levels, b_levels), x=a, y=metric, hue=b,
                              order=a_levels, hue_order=b_levels, errorbar=t_ci95, dodge=0.25, capsize=0.1,
                              markersize=4, linewidth=1.1, palette=PALETTE, ax=ax)
                handles, labels = ax.get_legend_handles_labels()
                ax.legend(handles, [runs.display.level(b, label) for label in labels], title=runs.display.factor(b),
                          loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
            set_category_ticks(ax, [runs.display.level(a, level) for level in a_levels], PANEL_SIZE[0])
            ax.set_xlabel(runs.display.factor(a))
            ax.set_ylabel(metric)
        for k in range(len(pairs), rows * columns):
            axes[k // columns][k % columns].set_visible(False)
    return save_figure(figure, path, formats=formats)


def _categorical(data: pd.DataFrame, a: str, b: str, a_levels: list[str], b_levels: list[str]) -> pd.DataFrame:
    return data.assign(**{a: pd.Categorical(data[a], categories=a_levels),
                          b: pd.Categorical(data[b], categories=b_levels)})
