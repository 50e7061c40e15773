"""The bootstrap-over-clips table: each compared cell's difference to the baseline with its percentile interval."""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from reports.tables.model import Table, TableCell
from reports.tables.study import correction_name, format_p

CLIP_NOTE = ("Paired bootstrap over evaluation clips (same resample for both cells and every seed pair); percentile "
             "interval, two-sided bootstrap p. Secondary (exploratory): it says how much the difference depends on "
             "the test clips, and draws no verdict.")


def clip_table(table: pd.DataFrame, link: Callable[[str], str], correction: str) -> Table:
    """`table`: the rows of `clip_section.clip_bootstrap`, each with why it is there; `correction`: how `p_adj`
    was corrected across them."""
    rows = []
    for _, row in table.iterrows():
        diff = "–" if pd.isna(row["diff"]) else f"{row['diff']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
        rows.append((TableCell(str(row["cell"])), TableCell(f"{row['statistic']} on {row['split']}"),
                     TableCell(str(row["n_pairs"])),
                     TableCell("–" if pd.isna(row["n_clips"]) else str(int(row["n_clips"]))),
                     TableCell(diff, link=link(row["cell"])), TableCell(format_p(float(row["p"]))),
                     TableCell(format_p(float(row["p_adj"]))), TableCell(str(row["why"])),
                     TableCell(str(row["note"]))))
    return Table(name="clip_bootstrap", caption="Bootstrap over clips", header=(
        "cell", "statistic", "pairs", "clips", "Δ vs baseline [95 % CI]", "p", "p adj.", "compared because", "note"),
        align=("l", "l", "r", "r", "c", "r", "r", "l", "l"),
        rows=tuple(rows), notes=(CLIP_NOTE, f"p adj.: {correction_name(correction)} across the rows of this table."))
