"""Learning curves: per-epoch metrics of the shown cells, mean over seeds with a +-1 sd band.

Epochs are numbered from 1, as the terminal counts them during a run (`epoch 1/5`); the store logs the epoch
index from 0 as the metric's step.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from reports.figures.style import FORMATS, PALETTE, figure_style, save_figure

PANEL_SIZE = (3.6, 2.7)
MAX_COLUMNS = 3


def curve_frame(history: pd.DataFrame, run_cells: Mapping[str, str], labels: Mapping[str, str],
                keys: tuple[str, ...]) -> pd.DataFrame:
    """The rows of `history` a figure draws, with `cell` (its legend text) and `epoch` (1-based) added."""
    data = history[history["key"].isin(keys) & history["run_id"].isin(list(run_cells))]
    return data.assign(cell=data["run_id"].map(run_cells).map(labels), epoch=data["step"] + 1)


def save_learning_curves(history: pd.DataFrame, run_cells: Mapping[str, str], labels: Mapping[str, str],
                         keys: tuple[str, ...], path: str | Path, *,
                         formats: tuple[str, ...] = FORMATS) -> tuple[Path, ...] | None:
    """One panel per metric key, MAX_COLUMNS to a row; x = epoch (the logged step + 1), one line per cell in
    `labels` order.

    `history`: long (run_id, key, step, value); `run_cells`: run id -> cell; `labels`: cell -> legend text.
    None when no history of `keys` is stored for these runs.
    """
    data = curve_frame(history, run_cells, labels, keys)
    if data.empty:
        return None
    order = [labels[cell] for cell in labels if labels[cell] in set(data["cell"])]
    columns = min(MAX_COLUMNS, len(keys))
    rows = -(-len(keys) // columns)
    with figure_style():
        figure = Figure(figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows + 0.25 * len(order)),
                        layout="constrained")
        grid = figure.subplots(rows, columns, squeeze=False)
        axes = grid.ravel()
        for ax in axes[len(keys):]:
            ax.set_axis_off()
        for ax, key in zip(axes, keys):
            panel = data[data["key"] == key]
            if panel.empty:
                ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
            else:
                sns.lineplot(data=panel, x="epoch", y="value", hue="cell", hue_order=order, estimator="mean",
                             errorbar="sd", palette=PALETTE, linewidth=1.1, ax=ax, legend=False)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch")
            ax.set_ylabel(key)
        handles = [Line2D([0], [0], color=color, linewidth=1.5) for color in sns.color_palette(PALETTE, len(order))]
        figure.legend(handles, order, loc="outside lower center", ncols=min(3, len(order)), frameon=False)
    return save_figure(figure, path, formats=formats)

