"""Metric-by-factor-level figure, rendered reproducibly (same data -> byte-identical PNG and PDF)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports.fetch.display_names import DisplayNames
from reports.fetch.load import FINISHED, StudyRuns
from reports.figures.style import (
    FIGURE_DPI,
    FORMATS,
    POINT_COLOR,
    TRIAL_COLOR,
    figure_style,
    save_figure,
    set_category_ticks,
)
from reports.stats.intervals import t_interval

PANEL_SIZE = (3.2, 2.6)  # inches per (factor, metric) panel
TRIAL_OFFSET = 0.18  # single trials sit left of the level's mean and interval, without random jitter
MAX_DOTS = 2000  # above this many finished trials the single-trial dots are left out (unreadable, slow to save)
MAX_LEVELS = 40  # a factor with more levels (a sweep) shows every k-th: 1,600 labelled levels took 2 min to save


def shown_levels(levels: list[str]) -> tuple[list[str], int]:
    """The levels a panel draws and the step between them: all of them up to MAX_LEVELS, else every k-th one."""
    step = -(-len(levels) // MAX_LEVELS)
    return levels[::step], step


def trials_drawn(runs: StudyRuns) -> bool:
    """Whether the figure draws every finished trial as a dot."""
    return int((runs.runs["status"] == FINISHED).sum()) <= MAX_DOTS


def save_metrics_by_factor(runs: StudyRuns, path: str | Path, *, dpi: int = FIGURE_DPI,
                           formats: tuple[str, ...] = FORMATS) -> Path:
    """Write the metric-by-factor figure (PNG at `path`, and the other `formats` beside it); return `path`.

    One panel per (metric row, factor column): every finished trial as a grey dot (left of its level; left out
    above MAX_DOTS trials) and the mean per level with a 95 % t confidence interval over those trials (pooled over
    the other factors: a main-effect plot). A level without finished trials keeps its place, labelled n=0. A
    factor of more than MAX_LEVELS levels shows every k-th of them, and its axis says so.
    """
    path = Path(path)
    with figure_style():
        figure = _draw(runs)
    save_figure(figure, path, formats=formats, dpi=dpi)
    return path


def _draw(runs: StudyRuns) -> Figure:
    finished = runs.runs[runs.runs["status"] == FINISHED]
    if runs.factors:
        columns = {factor: list(runs.factor_levels[factor]) for factor in runs.factors}
    else:  # a seeds-only study: one panel per metric over its cells
        columns = {"cell": list(runs.cells)}
    width, height = PANEL_SIZE
    figure = Figure(figsize=(width * len(columns), height * len(runs.metrics)), layout="constrained")
    axes = figure.subplots(len(runs.metrics), len(columns), squeeze=False, sharey="row")
    for i, metric in enumerate(runs.metrics):
        for j, (factor, levels) in enumerate(columns.items()):
            shown, step = shown_levels(levels)
            data = finished[[factor, metric]].dropna()
            _panel(axes[i][j], data[data[factor].isin(shown)], factor, metric, shown, dots=trials_drawn(runs),
                   names=runs.display)
            if step > 1:
                axes[i][j].set_xlabel(f"{runs.display.factor(factor)} (every {step}th of {len(levels)} levels)")
    return figure


def _panel(ax: Axes, data: pd.DataFrame, factor: str, metric: str, levels: list[str], *, dots: bool,
           names: DisplayNames) -> None:
    counts = data[factor].value_counts()
    if data.empty:
        ax.text(0.5, 0.5, "no finished runs", ha="center", va="center", transform=ax.transAxes, color=TRIAL_COLOR)
    else:
        if dots:
            positions = data[factor].map({level: k for k, level in enumerate(levels)})
            ax.scatter(positions - TRIAL_OFFSET, data[metric], s=9, color=TRIAL_COLOR, linewidths=0, zorder=1)
        sns.pointplot(data=data, x=factor, y=metric, order=levels, errorbar=t_ci95, color=POINT_COLOR,
                      capsize=0.15, markersize=5, linewidth=1.2, legend=False, ax=ax)
    set_category_ticks(ax, [f"{names.level(factor, level)}\n(n={counts.get(level, 0)})" for level in levels],
                       PANEL_SIZE[0])
    ax.set_xlim(-0.5, len(levels) - 0.5)
    ax.set_xlabel(names.factor(factor))
    ax.set_ylabel(metric)


def t_ci95(values: np.ndarray) -> tuple[float, float]:
    """95 % Student-t interval of the mean (seaborn `errorbar` callable); one value: NaN, no bar."""
    _, low, high = t_interval(np.asarray(values, dtype=float))
    return low, high
