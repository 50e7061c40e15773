"""Metric-by-factor-level figure, rendered reproducibly (same data -> byte-identical PNG)."""
from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import style
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from reports.load import FINISHED, StudyRuns

FIGURE_DPI = 150
PANEL_SIZE = (3.2, 2.6)  # inches per (factor, metric) panel
POINT_COLOR = "#1f5fa8"
TRIAL_COLOR = "0.55"
TRIAL_OFFSET = 0.18  # single trials sit left of the level's mean and interval, without random jitter
# Matplotlib's defaults (not the user's matplotlibrc) under seaborn's whitegrid, with a bundled font.
_RC = {"font.family": "DejaVu Sans", "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8}


def save_metrics_by_factor(runs: StudyRuns, path: str | Path, *, dpi: int = FIGURE_DPI) -> Path:
    """Write the metric-by-factor figure as PNG (Agg canvas, fixed style and dpi, no metadata); return the path.

    One panel per (metric row, factor column): every finished trial as a grey dot (left of its level) and the
    mean per level with a 95 % t confidence interval over those trials (pooled over the other factors: a
    main-effect plot). A level without finished trials keeps its place on the axis, labelled n=0.
    """
    path = Path(path)
    with style.context("default"), sns.axes_style("whitegrid"), mpl.rc_context(_RC):
        figure = _draw(runs)
        FigureCanvasAgg(figure)
        figure.savefig(path, dpi=dpi, format="png", metadata={"Software": None})
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
            _panel(axes[i][j], finished[[factor, metric]].dropna(), factor, metric, levels)
    return figure


def _panel(ax: Axes, data: pd.DataFrame, factor: str, metric: str, levels: list[str]) -> None:
    counts = data[factor].value_counts()
    if data.empty:
        ax.text(0.5, 0.5, "no finished runs", ha="center", va="center", transform=ax.transAxes, color=TRIAL_COLOR)
    else:
        positions = data[factor].map({level: k for k, level in enumerate(levels)})
        ax.scatter(positions - TRIAL_OFFSET, data[metric], s=9, color=TRIAL_COLOR, linewidths=0, zorder=1)
        sns.pointplot(data=data, x=factor, y=metric, order=levels, errorbar=_t_ci95, color=POINT_COLOR,
                      capsize=0.15, markersize=5, linewidth=1.2, legend=False, ax=ax)
    ax.set_xticks(range(len(levels)), [f"{level}\n(n={counts.get(level, 0)})" for level in levels])
    ax.set_xlim(-0.5, len(levels) - 0.5)
    ax.set_xlabel(factor)
    ax.set_ylabel(metric)


def _t_ci95(values: np.ndarray) -> tuple[float, float]:
    """95 % Student-t interval of the mean; a single value gets a zero-width interval."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean - half, mean + half
