"""The provenance and cost tables of a study, from `reports.fetch.provenance.provenance_frame`.

Provenance (code, data and its coverage of the official lists, backbone weights, the metric's specification,
the machine) is shown once for the study when every run agrees, and per cell where runs differ. Cost (wall time,
GPU hours, energy) is summed per cell and for the study over every run, failed ones included: they were paid.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from reports.fetch.provenance import ATTRIBUTES
from reports.tables.model import Table, TableCell

DASH = "–"
CellLink = Callable[[str], "str | None"]


def provenance_table(frame: pd.DataFrame, cells: Sequence[str], *, link: CellLink = lambda cell: None
                     ) -> tuple[Table, list[str]]:
    """(per-cell table of the attributes that differ between runs, `Attribute: value` lines of those that don't)."""
    shared, varying = [], []
    for key, title in ATTRIBUTES:
        values = sorted({v for v in frame[key] if isinstance(v, str)})
        if len(values) == 1 and frame[key].notna().all():
            shared.append(f"{title}: {values[0]}")
        elif values:
            varying.append((key, title))
        else:
            shared.append(f"{title}: not recorded")
    rows = []
    for cell in cells:
        mine = frame[frame["cell"] == cell]
        if mine.empty or not varying:
            continue
        texts = ["; ".join(sorted({v for v in mine[key] if isinstance(v, str)})) or DASH for key, _ in varying]
        rows.append((TableCell(cell, link=link(cell)), *(TableCell(t) for t in texts)))
    table = Table(name="provenance", caption="Provenance where runs differ", header=("cell", *(t for _, t in varying)),
                  align=("l",) * (1 + len(varying)), rows=tuple(rows),
                  notes=("Every run records its code version, data fingerprint, backbone checkpoint hash, metric "
                         "specification and machine (tags sedstudy.*, artifacts provenance.json and "
                         "environment.json).",))
    return table, shared


def cost_table(frame: pd.DataFrame, cells: Sequence[str], *, link: CellLink = lambda cell: None) -> Table:
    """Per cell and for the study: runs, wall time, GPU hours and energy (totals and per run)."""
    rows = []
    for cell in [*cells, None]:
        mine = frame if cell is None else frame[frame["cell"] == cell]
        measured = mine[mine["cost/wall_s"].notna()]
        if cell is not None and mine.empty:
            continue
        n = len(measured)
        wall_h = float(measured["cost/wall_s"].sum()) / 3600
        energy = measured["cost/energy_kwh"].where(measured["cost/energy_measured"] == 1)
        energy_text = DASH if energy.notna().sum() == 0 else f"{energy.sum():.4g}"
        per_run = DASH if energy.notna().sum() == 0 else f"{1000 * energy.mean():.3g}"
        name = TableCell("all cells (study)", bold=True) if cell is None else TableCell(cell, link=link(cell))
        rows.append((name, TableCell(f"{n} / {len(mine)}"), TableCell(f"{wall_h:.3g}"),
                     TableCell(DASH if n == 0 else f"{60 * wall_h / n:.3g}"),
                     TableCell(f"{float(measured['cost/gpu_hours'].sum()):.3g}"), TableCell(energy_text),
                     TableCell(per_run)))
    notes = ["Sums over every run of the cell, failed ones included (their compute was spent); runs of earlier "
             "sedstudy versions record no cost. Energy by CodeCarbon."]
    cpu = frame["cost/cpu_energy_measured"]
    if (cpu == 0).any():
        notes.append("CPU energy is an estimate (CPU load x the model's TDP) for runs on machines without readable "
                     "RAPL counters; GPU energy is measured through NVML.")
    return Table(name="cost", caption="Time and energy per cell", header=(
        "cell", "runs with cost", "wall time (h)", "per run (min)", "GPU hours", "energy (kWh)", "per run (Wh)"),
        align=("l", "r", "r", "r", "r", "r", "r"), rows=tuple(rows), notes=tuple(notes))
