"""Per-class PSDS heat map: mean over seeds of each `<metric>/class/<label>` per cell.

The figure is sized from its content: one fixed-height row per cell, one fixed-width column per class, room for
the longest cell and class labels, one panel per metric side by side (the cell labels once, on the left) and one
shared colour bar. Values are written into the squares only when the text fits them.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from reports.fetch.load import FINISHED, StudyRuns
from reports.figures.style import FORMATS, RC, figure_style, save_figure

MAX_ROWS = 100  # cells beyond this are left out of the heat map (the baseline and the best by the objective stay)
ROW_INCHES = 0.22
COLUMN_INCHES = 0.42
CHAR_INCHES = 0.068  # width of one character of an 8 pt tick label, roughly
ANNOT_FONTSIZE = 6.0
ANNOT_CHARS = 4  # "0.62"
POINTS_PER_INCH = 72.0
COLORBAR_INCHES = 0.9
TITLE_INCHES = 0.45
MIN_PANEL_INCHES = 1.2
MIN_MAP_INCHES = 0.9  # a map of one or two cells still gets a readable colour bar


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
    names = {cell: " / ".join(levels.values()) or cell for cell, levels in runs.cell_levels.items()}
    return save_heat_map(means, names, path, formats=formats)


def heat_map_size(rows: int, columns: int, panels: int, row_label_chars: int,
                  column_label_chars: int) -> tuple[float, float]:
    """(width, height) in inches: fixed inches per row and per column plus the labels' room."""
    panel = max(MIN_PANEL_INCHES, COLUMN_INCHES * columns)
    width = 0.4 + CHAR_INCHES * row_label_chars + panels * (panel + 0.25) + COLORBAR_INCHES
    height = TITLE_INCHES + 0.35 + CHAR_INCHES * column_label_chars + max(MIN_MAP_INCHES, ROW_INCHES * rows)
    return width, height


def annotation_fits(columns: int) -> bool:
    """Whether a value ("0.62" at ANNOT_FONTSIZE) fits inside one square of the map."""
    square_width = max(MIN_PANEL_INCHES, COLUMN_INCHES * columns) / max(columns, 1) * POINTS_PER_INCH
    text_width = ANNOT_CHARS * 0.6 * ANNOT_FONTSIZE
    return ROW_INCHES * POINTS_PER_INCH >= 1.4 * ANNOT_FONTSIZE and square_width >= 1.15 * text_width


def save_heat_map(means: Mapping[str, pd.DataFrame], names: Mapping[str, str], path: str | Path, *,
                  formats: tuple[str, ...] = FORMATS) -> tuple[Path, ...]:
    """Draw `means` ({metric: cells x labels}, values in [0, 1]) with rows named by `names` (cell -> text)."""
    rows = list(dict.fromkeys(cell for table in means.values() for cell in table.index))
    labels = sorted({str(label) for table in means.values() for label in table.columns})
    row_names = [names.get(cell, cell) for cell in rows]
    width, height = heat_map_size(len(rows), len(labels), len(means), max(map(len, row_names), default=1),
                                  max(map(len, labels), default=1))
    annotate = annotation_fits(len(labels))
    with figure_style():
        figure = Figure(figsize=(width, height), layout="constrained")
        axes = figure.subplots(1, len(means), squeeze=False)[0]
        for i, (ax, (metric, table)) in enumerate(zip(axes, means.items())):
            grid = table.reindex(index=rows, columns=labels).set_axis(row_names, axis=0)
            sns.heatmap(grid, ax=ax, cmap="viridis", vmin=0, vmax=1, cbar=False, square=False, annot=annotate,
                        fmt=".2f", annot_kws={"fontsize": ANNOT_FONTSIZE}, linewidths=0.4, linecolor="white")
            ax.set_xticks([k + 0.5 for k in range(len(labels))], labels, rotation=90,
                          fontsize=RC["xtick.labelsize"])
            ax.set_yticks([k + 0.5 for k in range(len(rows))], row_names if i == 0 else [""] * len(rows),
                          rotation=0, fontsize=RC["ytick.labelsize"])
            ax.tick_params(axis="y", left=i == 0)
            ax.set_xlabel("class")
            ax.set_ylabel("")
            ax.set_title(f"{metric} per class (mean over seeds)")
        figure.colorbar(axes[0].collections[0], ax=list(axes), label="per-class value", fraction=0.04,
                        pad=0.02, aspect=max(20, 2 * len(rows)))
    return save_figure(figure, path, formats=formats)
