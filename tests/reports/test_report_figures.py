from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient
from PIL import Image

import reports.fetch.history as history_module
from reports.fetch.artifacts import load_psd_roc
from reports.fetch.history import learning_keys, load_history
from reports.fetch.load import load_study
from reports.figures.learning import curve_frame
from reports.figures.per_class import (
    COLUMN_INCHES,
    ROW_INCHES,
    annotation_fits,
    per_class_means,
    save_heat_map,
    save_per_class,
)
from reports.figures.psd_roc import mean_curve, save_psd_roc
from reports.figures.style import FIGURE_DPI, save_figure

from .conftest import RAGGED_LABELS, ragged_cell

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_every_figure_is_written_as_png_and_pdf(ragged_report) -> None:
    stems = sorted({path.stem for path in ragged_report.figures})
    assert stems == ["interactions", "learning_curves", "metrics_by_factor", "per_class", "psd_roc"]
    for path in ragged_report.figures:
        data = path.read_bytes()
        if path.suffix == ".png":
            assert data.startswith(PNG_SIGNATURE) and b"Software" not in data and len(data) > 5_000
        else:
            assert path.suffix == ".pdf" and data.startswith(b"%PDF") and b"CreationDate" not in data
            assert b"/FontFile2" in data  # TrueType (Type 42) fonts, not Type 3: what publishers ask for
    assert not [note for note in ragged_report.notes if note.startswith(("Per-class", "PSD-ROC", "Learning"))]


def test_ragged_only_figures_regenerate_byte_identically(store, tmp_path: Path) -> None:
    """The quickstart builds compare every file of two reports; this covers the figures quickstart lacks."""
    runs = load_study(store.uri, "ragged")
    finished = runs.runs[runs.runs["status"] == "FINISHED"]
    run_cells = dict(zip(finished["run_id"], finished["cell"]))
    labels = {cell: cell for cell in runs.cells[:2]}
    curves = load_psd_roc(MlflowClient(tracking_uri=store.uri), list(run_cells))
    assert set(curves["metric"]) == {"psds1"} and len(set(curves["run_id"])) == 7  # two cells' finished runs
    made = []
    for name in ("a", "b"):
        made.append(save_per_class(runs, tmp_path / f"{name}_heat.png", cells=list(runs.cells), formats=("png",)))
        made.append(save_psd_roc(curves, run_cells, labels, tmp_path / f"{name}_roc.png", formats=("png",)))
    for first, second in zip(made[:2], made[2:]):
        assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second]


def test_left_out_figures_say_why(store, tmp_path: Path) -> None:
    from reports.build import build_report

    solo = build_report(store.uri, "solo", tmp_path, learning_curves=False, formats=("png",))
    assert sorted({path.stem for path in solo.figures}) == ["metrics_by_factor"]
    assert solo.notes[:4] == (
        "Interaction plots: skipped, the study has fewer than two factors.",
        "Per-class PSDS: skipped, the trials log no per-class metrics (`psds1/class/<label>`).",
        "PSD-ROC curves: skipped, the trials store no curves (artifacts `psd_roc/*.tsv`).",
        "Learning curves: left out on request.")
    assert "Effects of the factors: skipped, the study has no factors (seeds only)." in solo.notes
    text = solo.markdown.read_text(encoding="utf-8")
    assert "- Interaction plots: skipped, the study has fewer than two factors." in text
    page = solo.html.read_text(encoding="utf-8")
    assert '<p class="note">Effects of the factors: skipped, the study has no factors (seeds only).</p>' in page
    assert "Bootstrap over clips: skipped, the trials store no frame scores" in page
    with pytest.raises(ValueError, match="formats must include 'png'"):
        build_report(store.uri, "solo", tmp_path, formats=("pdf",))


def test_per_class_means_by_hand(store) -> None:
    runs = load_study(store.uri, "ragged")
    means = per_class_means(runs, list(runs.cells))
    table = means["psds1"]
    assert list(table.columns) == list(RAGGED_LABELS)
    assert ragged_cell("max", "0.5") not in table.index  # no finished run: no row
    # baseline psds1 = 0.46 + 0.01 seed; class k adds 0.1 k - 0.1; mean over seeds 0..3
    assert table.loc[ragged_cell("attention", "0.5"), "Speech"] == pytest.approx(0.475 + 0.1)
    # seeds 0, 1; the running seed is out
    assert table.loc[ragged_cell("max", "0.0"), "Cat"] == pytest.approx(0.405 - 0.1)


def test_mean_curve_is_a_step_function() -> None:
    first = pd.DataFrame({"efpr": [0.0, 10.0, 40.0], "tpr": [0.0, 0.5, 0.8]})
    second = pd.DataFrame({"efpr": [20.0, 0.0], "tpr": [0.6, 0.2]})  # unsorted on purpose
    grid = np.array([0.0, 5.0, 10.0, 25.0, 50.0])
    assert mean_curve([first, second], grid) == pytest.approx([0.1, 0.1, 0.35, 0.55, 0.7])


def test_learning_history(store, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = load_study(store.uri, "ragged")
    assert learning_keys(runs.history_keys) == ("train/loss", "train/loss_consistency", "train/loss_strong",
                                                "train/loss_weak", "val/synthetic_validation/intersection_f1")
    assert learning_keys(("val/b/x", "val/a/y", "val/c/z", "train/other")) == ("val/a/y", "val/b/x", "val/c/z")
    assert learning_keys(("train/loss_weak", "train/consistency_weight", "train/loss", "train/loss_consistency",
                          "cache/served", "val/v/psds1")) == (
        "train/loss", "train/loss_consistency", "train/loss_weak", "val/v/psds1")
    ids = list(runs.runs["run_id"][:2])
    sql = load_history(store.uri, ids, ["train/loss"])
    assert list(sql.columns) == ["run_id", "key", "step", "value"] and len(sql) == 20
    assert sql.groupby("run_id")["step"].apply(list).tolist() == [list(range(10))] * 2
    drawn = curve_frame(sql, dict.fromkeys(ids, "cell"), {"cell": "cell"}, ("train/loss",))
    assert sorted(set(drawn["epoch"])) == list(range(1, 11))  # as the terminal counts: epoch 1/10 .. 10/10
    monkeypatch.setattr(history_module, "database_of", lambda uri: None)  # the MLflow client path
    pd.testing.assert_frame_equal(load_history(store.uri, ids, ["train/loss"]), sql)


def test_save_figure_checks_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"formats must be among \['pdf', 'png', 'svg'\], but got \['eps'\]"):
        save_figure(Figure(), tmp_path / "x.png", formats=("eps",))
    svg = save_figure(Figure(figsize=(1, 1)), tmp_path / "x", formats=("svg",))[0]
    again = save_figure(Figure(figsize=(1, 1)), tmp_path / "y", formats=("svg",))[0]
    assert svg.read_bytes() == again.read_bytes()


def test_heat_map_grows_with_its_cells_without_layout_warnings(tmp_path: Path) -> None:
    classes = 10
    labels = [f"Class_with_a_long_name_{k}" for k in range(classes)]
    counts = (1, 5, 40, 100)
    sizes = []
    for n in counts:
        cells = [f"model.pooling=p{i}|training.mixup.probability=0.{i % 10}" for i in range(n)]
        names = {cell: f"pooling{i} / 0.{i % 10}" for i, cell in enumerate(cells)}
        rng = np.random.default_rng(n)
        means = {metric: pd.DataFrame(rng.uniform(0, 1, (n, classes)), index=cells, columns=labels)
                 for metric in ("psds1", "psds2")}
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # constrained_layout "collapsed" and every other layout warning
            png = save_heat_map(means, names, tmp_path / f"heat_{n}.png", formats=("png",))[0]
        with Image.open(png) as image:
            sizes.append((image.size[0] / FIGURE_DPI, image.size[1] / FIGURE_DPI))
    heights = [height for _, height in sizes]
    assert all(low < high for low, high in itertools.pairwise(heights))
    for (n, low), (m, high) in itertools.pairwise(list(zip(counts, heights))[1:]):
        assert high - low == pytest.approx(ROW_INCHES * (m - n), abs=0.02)  # every row keeps its height
    assert all(width >= 2 * COLUMN_INCHES * classes for width, _ in sizes)  # two panels, no squeezed columns
    assert annotation_fits(classes)


def test_a_sweep_of_many_levels_draws_every_kth_level_with_the_ends_kept() -> None:
    from reports.figures.by_level import MAX_LEVELS, shown_levels

    assert shown_levels(["a", "b", "c"]) == (["a", "b", "c"], 1)
    levels = [f"{i:04d}" for i in range(1600)]
    shown, step = shown_levels(levels)
    assert step == 40 and len(shown) == MAX_LEVELS and shown[0] == "0000" and shown[-1] == "1560"
