"""PSD-ROC curves per cell (mean TPR over seeds on a common eFPR grid), from stored `psd_roc/*.tsv`."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from reports.figures.style import FORMATS, PALETTE, figure_style, save_figure

GRID_POINTS = 400
PANEL_SIZE = (3.8, 3.0)


def mean_curve(curves: list[pd.DataFrame], grid: np.ndarray) -> np.ndarray:
    """Mean over curves of the step function tpr(efpr) (the value of the last point at or left of x) on `grid`."""
    values = []
    for curve in curves:
        curve = curve.sort_values("efpr", kind="stable")
        x, y = curve["efpr"].to_numpy(), curve["tpr"].to_numpy()
        index = np.searchsorted(x, grid, side="right") - 1
        values.append(np.where(index >= 0, y[np.clip(index, 0, None)], 0.0))
    return np.mean(values, axis=0)


def save_psd_roc(curves: pd.DataFrame, run_cells: Mapping[str, str], labels: Mapping[str, str], path: str | Path,
                 *, formats: tuple[str, ...] = FORMATS) -> tuple[Path, ...] | None:
    """One panel per metric (psds1, psds2, ...), one line per cell; None when no curve is stored."""
    curves = curves[curves["run_id"].isin(list(run_cells))]
    if curves.empty:
        return None
    metrics = sorted(curves["metric"].unique())
    colors = dict(zip(labels, sns.color_palette(PALETTE, len(labels))))
    with figure_style():
        figure = Figure(figsize=(PANEL_SIZE[0] * len(metrics), PANEL_SIZE[1] + 0.25 * len(labels)),
                        layout="constrained")
        axes = figure.subplots(1, len(metrics), squeeze=False)[0]
        for ax, metric in zip(axes, metrics):
            panel = curves[curves["metric"] == metric]
            grid = np.linspace(0.0, float(panel["efpr"].max()), GRID_POINTS)
            for cell, label in labels.items():
                runs = [run for run, owner in run_cells.items() if owner == cell]
                per_run = [group for run, group in panel.groupby("run_id", sort=True) if run in runs]
                if per_run:
                    ax.plot(grid, mean_curve(per_run, grid), drawstyle="steps-post", color=colors[cell],
                            linewidth=1.1, label=f"{label} (n={len(per_run)})")
            ax.set_xlabel("eFPR (per hour)")
            ax.set_ylabel("TPR")
            ax.set_ylim(0, 1)
            ax.set_title(metric)
        handles, texts = axes[0].get_legend_handles_labels()
        figure.legend(handles, texts, loc="outside lower center", ncols=min(3, len(texts)), frameon=False)
    return save_figure(figure, path, formats=formats)

