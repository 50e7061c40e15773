from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from reports.fetch.load import StudyRuns, load_study
from reports.stats.summary import factor_columns, summarize
from reports.tables.compact_results import compact_results_table
from reports.tables.render import to_markdown

A = "model.pooling=attention|training.mixup.probability=0.5"
B = "model.pooling=attention|training.mixup.probability=0.0"
C = "model.pooling=mean|training.mixup.probability=0.5"
D = "model.pooling=mean|training.mixup.probability=0.0"
SD2 = math.sqrt((0.01**2 + 0.01**2) / 1)  # two values 0.02 apart: sd (ddof=1) = 0.01 * sqrt(2)


@pytest.fixture(scope="module")
def runs(store) -> StudyRuns:
    return load_study(store.uri, "quickstart")


@pytest.fixture(scope="module")
def summary(runs: StudyRuns) -> pd.DataFrame:
    return summarize(runs)


def test_counts_per_cell(runs: StudyRuns, summary: pd.DataFrame) -> None:
    assert list(summary["cell"]) == [A, B, C, D]
    assert list(summary["baseline"]) == [True, False, False, False]
    assert list(summary["model.pooling"]) == ["attention", "attention", "mean", "mean"]
    assert list(summary["training.mixup.probability"]) == ["0.5", "0.0", "0.5", "0.0"]
    assert list(summary["n_planned"]) == [3, 3, 3, 3]
    assert list(summary["n_finished"]) == [3, 2, 2, 3]
    assert list(summary["n_failed"]) == [0, 1, 0, 0]
    assert list(summary["n_missing"]) == [0, 0, 1, 0]
    assert list(summary["n_running"]) == [0, 0, 0, 0]
    assert list(summary["note"]) == ["", "", "", ""]
    assert factor_columns(summary, runs.factors) == ["model.pooling", "training.mixup.probability"]


def test_mean_and_sd_by_hand(summary: pd.DataFrame) -> None:
    # psds1 per seed (-0.02, 0, +0.02 around the cell value): A 0.43 0.45 0.47; B 0.38 0.40 (seed 2 failed);
    # C 0.35 0.37 (seed 0 missing); D 0.28 0.30 0.32.
    assert summary["psds1_mean"].tolist() == pytest.approx([0.45, 0.39, 0.36, 0.30])
    assert summary["psds1_sd"].tolist() == pytest.approx([0.02, SD2, SD2, 0.02])
    assert summary["psds2_mean"].tolist() == pytest.approx([0.75, 0.69, 0.66, 0.60])
    # D seed 2 logged no collar_f1: D has 0.38, 0.40 only.
    assert summary["collar_f1_mean"].tolist() == pytest.approx([0.55, 0.49, 0.46, 0.39])
    assert summary["collar_f1_sd"].tolist() == pytest.approx([0.02, SD2, SD2, SD2])
    assert summary["collar_f1_n"].tolist() == [3, 2, 2, 2]


def test_cells_without_finished_runs_stay(runs: StudyRuns) -> None:
    frame = runs.runs.copy()
    frame.loc[frame["cell"] == D, "status"] = "FAILED"
    frame.loc[(frame["cell"] == C) & (frame["seed"] == 1), "status"] = "FAILED"
    frame.loc[(frame["cell"] == A) & (frame["seed"] != 0), "status"] = "KILLED"
    summary = summarize(dataclasses.replace(runs, runs=frame))
    assert list(summary["cell"]) == [A, B, C, D]
    assert list(summary["n_finished"]) == [1, 2, 1, 0]
    assert list(summary["n_failed"]) == [2, 1, 1, 3]
    assert list(summary["note"]) == ["", "", "", "no finished runs"]
    assert math.isnan(summary["psds1_mean"].iloc[3]) and math.isnan(summary["psds1_sd"].iloc[3])
    assert summary["psds1_mean"].iloc[0] == pytest.approx(0.43)
    assert math.isnan(summary["psds1_sd"].iloc[0])  # n = 1
    table = to_markdown(compact_results_table(summary, ["psds1"], factors=runs.factors)).splitlines()
    assert table[2] == "| attention | 0.5 | 1 | 0.430 ± n/a | 2 / 0 | baseline |"
    assert table[5] == "| mean | 0.0 | 0 | – | 3 / 0 | no finished runs |"


def test_markdown_table(runs: StudyRuns, summary: pd.DataFrame) -> None:
    table = to_markdown(compact_results_table(summary, ["psds1", "psds2", "collar_f1"], factors=runs.factors))
    lines = table.splitlines()
    assert any("PSDS1, PSDS2: exact, the PSD-ROC over every threshold" in line for line in lines[6:])  # the convention
    assert lines[:6] == [
        "| model.pooling | training.mixup.probability | n | psds1 | psds2 | collar_f1 | failed / missing | note |",
        "| :-- | :-- | --: | :-: | :-: | :-: | --: | :-- |",
        "| attention | 0.5 | 3 | 0.450 ± 0.020 | 0.750 ± 0.020 | 0.550 ± 0.020 | 0 / 0 | baseline |",
        "| attention | 0.0 | 2 | 0.390 ± 0.014 | 0.690 ± 0.014 | 0.490 ± 0.014 | 1 / 0 |  |",
        "| mean | 0.5 | 2 | 0.360 ± 0.014 | 0.660 ± 0.014 | 0.460 ± 0.014 | 0 / 1 |  |",
        "| mean | 0.0 | 3 | 0.300 ± 0.020 | 0.600 ± 0.020 | 0.390 ± 0.014 (n=2) | 0 / 0 |  |",
    ]


def test_markdown_table_without_failures_has_no_failed_column(runs: StudyRuns, summary: pd.DataFrame) -> None:
    clean = summary.assign(n_failed=0, n_missing=0)
    assert "failed / missing" not in to_markdown(compact_results_table(clean, ["psds1"], factors=runs.factors))


def test_markdown_table_rejects_unknown_metric(runs: StudyRuns, summary: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"metrics \['psds3'\] are not in the summary"):
        to_markdown(compact_results_table(summary, ["psds3"], factors=runs.factors))


def test_each_psds_convention_is_named_where_it_is_shown() -> None:
    from reports.tables.study import convention_notes, metric_name

    assert metric_name("psds1_t50") == "PSDS1@50" and metric_name("psds2") == "PSDS2"
    assert convention_notes(["collar_f1"]) == ()
    exact, = convention_notes(["psds1", "collar_f1"])
    assert exact.startswith("PSDS1, PSDS2: exact")
    both = convention_notes(["psds2", "psds1_t50"])
    assert len(both) == 2 and "50 thresholds 0.01..0.99 step 0.02" in both[1] and "DCASE 2022" in both[1]
