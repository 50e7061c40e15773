"""Write every report figure that the stored data allows; say why for each one left out."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from reports.contract import PSD_ROC_ARTIFACT_DIR
from reports.fetch.artifacts import artifact_names, load_psd_roc
from reports.fetch.history import learning_keys, load_history
from reports.fetch.load import FINISHED, StudyRuns
from reports.figures.by_level import MAX_DOTS, save_metrics_by_factor, trials_drawn
from reports.figures.interactions import save_interactions
from reports.figures.learning import save_learning_curves
from reports.figures.per_class import MAX_ROWS, save_per_class
from reports.figures.psd_roc import save_psd_roc
from reports.figures.style import FORMATS

logger = logging.getLogger(__name__)

METRICS_BY_FACTOR = "metrics_by_factor"


@dataclass(frozen=True)
class FigureResult:
    """One figure slot of the report: its files (PNG first) or, when left out, why."""

    key: str
    title: str
    caption: str
    files: tuple[Path, ...]
    note: str = ""

    @property
    def png(self) -> Path | None:
        return next((path for path in self.files if path.suffix == ".png"), None)


def write_figures(runs: StudyRuns, out: Path, *, shown: Sequence[str], heat_cells: Sequence[str],
                  learning_curves: bool = True, formats: tuple[str, ...] = FORMATS) -> list[FigureResult]:
    """Metric by factor level, interactions, per-class heat map, PSD-ROC and learning curves, in that order.

    `shown`: the cells whose per-run data (curves, histories) is read; `heat_cells`: rows of the heat map.
    """
    dots = "Grey dots: single finished trials. " if trials_drawn(runs) else \
        f"Single trials are not drawn (over {MAX_DOTS:,} finished trials). "
    results = [FigureResult(
        METRICS_BY_FACTOR, "Metrics by factor level",
        f"{dots}Blue: mean per level with a 95 % t confidence interval, pooled over the levels of the other factors.",
        _files(save_metrics_by_factor(runs, out / f"{METRICS_BY_FACTOR}.png", formats=formats), formats))]

    interactions = save_interactions(runs, out / "interactions.png", formats=formats)
    results.append(FigureResult(
        "interactions", f"Interactions ({runs.objective})",
        f"Mean {runs.objective} per level of one factor, one line per level of another, with 95 % t intervals; "
        "parallel lines mean no interaction.", interactions or (),
        "" if interactions else "Interaction plots: skipped, the study has fewer than two factors."))

    per_class = save_per_class(runs, out / "per_class.png", cells=list(heat_cells), formats=formats)
    left_out = len(runs.cells) - len(heat_cells)
    results.append(FigureResult(
        "per_class", "Per-class PSDS",
        "Mean over finished seeds of each per-class metric (`<metric>/class/<label>`)."
        + (f" {left_out} cells beyond the best {MAX_ROWS} are left out." if left_out > 0 else ""),
        per_class or (),
        "" if per_class else "Per-class PSDS: skipped, the trials log no per-class metrics (`psds1/class/<label>`)."))

    labels = _labels(runs, shown)
    run_cells = _finished_runs(runs, shown)
    client = MlflowClient(tracking_uri=runs.tracking_uri)
    psd_roc = None
    # curves when the first shown run (the baseline's) has some
    if run_cells and artifact_names(client, next(iter(run_cells)), PSD_ROC_ARTIFACT_DIR):
        curves = load_psd_roc(client, list(run_cells))
        psd_roc = save_psd_roc(curves, run_cells, labels, out / "psd_roc.png", formats=formats)
    results.append(FigureResult(
        "psd_roc", "PSD-ROC curves", f"Mean TPR over seeds per cell ({len(shown)} cells: the baseline and the best).",
        psd_roc or (),
        "" if psd_roc else ("PSD-ROC curves: skipped, the trials store no curves "
                            f"(artifacts `{PSD_ROC_ARTIFACT_DIR}/*.tsv`).")))

    keys = learning_keys(runs.history_keys)
    if not learning_curves:
        note = "Learning curves: left out on request."
        files: tuple[Path, ...] | None = None
    elif not keys or not run_cells:
        note = "Learning curves: skipped, no per-epoch metrics (`train/loss`, `val/*`) of finished trials."
        files = None
    else:
        history = load_history(runs.tracking_uri, list(run_cells), keys)
        files = save_learning_curves(history, run_cells, labels, keys, out / "learning_curves.png", formats=formats)
        note = "" if files else "Learning curves: skipped, the shown trials logged no per-epoch metrics."
    results.append(FigureResult(
        "learning_curves", "Learning curves",
        "Training losses (`train/loss` and its parts) and validation metrics (`val/<split>/<metric>`, the model "
        f"selection's) per epoch, epochs counted from 1 as the terminal counts them; mean over seeds with a ±1 sd "
        f"band ({len(labels)} cells: the baseline and the best).",
        files or (), note))
    return results


def short_label(runs: StudyRuns, cell: str) -> str:
    """A cell by its display levels only (`attention / 0.5`), the baseline marked."""
    text = " / ".join(runs.display.level(factor, level) for factor, level in runs.cell_levels[cell].items()) or cell
    return f"{text} (baseline)" if cell == runs.baseline_cell else text


def _labels(runs: StudyRuns, cells: Sequence[str]) -> dict[str, str]:
    return {cell: short_label(runs, cell) for cell in cells}


def _finished_runs(runs: StudyRuns, cells: Sequence[str]) -> dict[str, str]:
    """{run id: cell} of the finished runs of `cells`, in design order."""
    finished = runs.runs[(runs.runs["status"] == FINISHED) & runs.runs["cell"].isin(list(cells))]
    return dict(zip(finished["run_id"], finished["cell"]))


def _files(png: Path, formats: tuple[str, ...]) -> tuple[Path, ...]:
    """The figure's files, PNG first (FigureResult.png takes the first .png)."""
    return tuple(png.with_suffix(f".{fmt}") for fmt in formats)
