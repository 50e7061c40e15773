"""Markdown table of a study summary: one row per cell, `mean ± sd` per metric."""
from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from reports.fetch.display_names import DisplayNames
from reports.stats.summary import factor_columns

DECIMALS = 3


def markdown_table(summary: pd.DataFrame, metrics: Sequence[str], names: DisplayNames | None = None, *,
                   factors: Sequence[str]) -> str:
    """Render a `summarize` table as GitHub Markdown (no trailing newline).

    Columns: the factor levels, n (finished runs), `mean ± sd` per metric with 3 decimals, `failed / missing`
    (only when a cell has failed or missing trials), `running` (only when a trial still runs) and a note
    (baseline, no finished runs). A metric logged by fewer runs than n carries its own `(n=k)`. `names`: the
    study's display names for the factor columns and their levels.
    """
    names = names or DisplayNames()
    unknown = [metric for metric in metrics if f"{metric}_mean" not in summary.columns]
    if unknown:
        known = [column[:-len("_mean")] for column in summary.columns if column.endswith("_mean")]
        raise ValueError(f"metrics {unknown} are not in the summary; expected some of {known}")
    factors = factor_columns(summary, factors)
    show_failed = bool((summary["n_failed"] > 0).any() or (summary["n_missing"] > 0).any())
    show_running = bool((summary["n_running"] > 0).any())

    header = [*(names.factor(factor) for factor in factors), "n", *metrics]
    align = [":--"] * len(factors) + ["--:"] + [":-:"] * len(metrics)
    if show_failed:
        header.append("failed / missing")
        align.append("--:")
    if show_running:
        header.append("running")
        align.append("--:")
    header.append("note")
    align.append(":--")

    lines = [_row(header), _row(align)]
    for _, cell in summary.iterrows():
        row = [*(names.level(factor, str(cell[factor])) for factor in factors), str(cell["n_finished"])]
        row += [_mean_sd(cell, metric) for metric in metrics]
        if show_failed:
            row.append(f"{cell['n_failed']} / {cell['n_missing']}")
        if show_running:
            row.append(str(cell["n_running"]))
        notes = ["baseline"] if cell["baseline"] else []
        if cell["note"]:
            notes.append(str(cell["note"]))
        row.append(", ".join(notes))
        lines.append(_row(row))
    return "\n".join(lines)


def _mean_sd(cell: pd.Series, metric: str) -> str:
    mean, sd, n = cell[f"{metric}_mean"], cell[f"{metric}_sd"], int(cell[f"{metric}_n"])
    if math.isnan(mean):
        return "–"
    text = f"{mean:.{DECIMALS}f} ± " + ("n/a" if math.isnan(sd) else f"{sd:.{DECIMALS}f}")
    return text if n == cell["n_finished"] else f"{text} (n={n})"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
