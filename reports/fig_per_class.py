"""Per-class PSDS heat map: mean over seeds of each `<metric>/class/<label>` per cell."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from reports.load import FINISHED, StudyRuns
from reports.style import FORMATS, figure_style, save_figure

MAX_ROWS = 40  # cells beyond this are left out of the heat map (the baseline and the best by the objective stay)
ANNOTATE_UP_TO = 160  # annotate values when the map has at most this many entries (text is slow to draw)


def per_class_means(runs: StudyRuns, cells: list[str]) -> dict[str, pd.DataFrame]:
    """{metric: DataFrame cells x labels} of the mean per-class value over finished seeds (NaN: none logged)."""
    data = runs.per_class[(runs.per_class["status"] == FINISHED) & runs.per_class["cell"].isin(cells)]
    out = {}
    for metric, group in data.groupby("metric", sort=True):
        table = group.pivot_table(index="cell", columns="label", values="value", aggfunc="mean", sort=True)
        out[str(metric)] = table.reindex(index=[cell for cell in cells if cell in table.index])
    return out


def save_per_class(runs: StudyRuns, path: str | Path, *, cells: list[str],
                   formats: tuple[str, ...] = FORMATS) -> tuple[Path, ...] | None:
    """One heat map per metric with per-class values (rows = `cells`, columns = class labels); None if absent."""
    means = per_class_means(runs, cells)
    if not means:
        return None
    rows = max(len(table) for table in means.values())
    labels = max(len(table.columns) for table in means.values())
    with figure_style():
        figure = Figure(figsize=(1.6 + 0.55 * labels, (1.2 + 0.28 * rows) * len(means)), layout="constrained")
        axes = figure.subplots(len(means), 1, squeeze=False)
        for ax, (metric, table) in zip(axes[:, 0], means.items()):
            annotate = table.size <= ANNOTATE_UP_TO
            sns.heatmap(table.rename(index=_short_cell(runs)), ax=ax, cmap="viridis", vmin=0, vmax=1,
                        annot=annotate, fmt=".2f", annot_kws={"fontsize": 6}, cbar_kws={"label": metric},
                        linewidths=0.4, linecolor="white")
            ax.set_xlabel("class")
            ax.set_ylabel("")
            ax.set_title(f"{metric} per class (mean over seeds)")
    return save_figure(figure, path, formats=formats)


def _short_cell(runs: StudyRuns) -> dict[str, str]:
    """Cell ids as their levels only (`attention / 0.5`): the factor names are in the report."""
    return {cell: " / ".join(levels.values()) or cell for cell, levels in runs.cell_levels.items()}
