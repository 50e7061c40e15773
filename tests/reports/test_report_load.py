from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from reports.errors import ReportError, StudyNotFoundError
from reports.fetch.load import PlannedTrial, StudyRuns, list_studies, load_study, parse_cell

A = "model.pooling=attention|training.mixup.probability=0.5"
B = "model.pooling=attention|training.mixup.probability=0.0"
C = "model.pooling=mean|training.mixup.probability=0.5"
D = "model.pooling=mean|training.mixup.probability=0.0"
FACTORS = ("model.pooling", "training.mixup.probability")


@pytest.fixture(scope="module")
def runs(store) -> StudyRuns:
    return load_study(store.uri, "quickstart")


def test_study_level_fields(runs: StudyRuns, store) -> None:
    assert runs.study == "quickstart"
    assert runs.parent_run_id == store.parent_run_id
    assert runs.factors == FACTORS
    assert runs.metrics == ("psds1", "psds2", "collar_f1")
    assert runs.baseline_cell == A
    assert runs.cells == (A, B, C, D)  # planned order B, A, C, D with the baseline moved first
    assert len(runs.planned) == 12
    assert runs.planned[0] == PlannedTrial(cell=B, seed=0)
    assert runs.factor_levels == {"model.pooling": ("attention", "mean"),
                                  "training.mixup.probability": ("0.5", "0.0")}
    assert runs.cell_levels[C] == {"model.pooling": "mean", "training.mixup.probability": "0.5"}


def test_tidy_table(runs: StudyRuns, store) -> None:
    frame = runs.runs
    assert list(frame.columns) == ["run_id", "cell", "seed", "status", "failure", *FACTORS,
                                   "psds1", "psds2", "collar_f1"]
    assert len(frame) == 11  # 12 planned, one never started
    assert list(zip(frame["cell"], frame["seed"])) == [
        (A, 0), (A, 1), (A, 2), (B, 0), (B, 1), (B, 2), (C, 1), (C, 2), (D, 0), (D, 1), (D, 2)]
    assert dict(zip(zip(frame["cell"], frame["seed"]), frame["run_id"])) == store.run_ids
    failed = frame[frame["status"] == "FAILED"]
    assert list(zip(failed["cell"], failed["seed"], failed["failure"])) == [(B, 2, "CUDA out of memory")]
    assert (frame.loc[frame["status"] != "FAILED", "failure"] == "").all()
    assert math.isnan(failed["psds1"].iloc[0])
    first = frame.iloc[0]
    assert (first["model.pooling"], first["training.mixup.probability"]) == ("attention", "0.5")
    assert first["psds1"] == pytest.approx(0.30 + 0.10 + 0.05 - 0.02)
    assert first["psds2"] == pytest.approx(0.43 + 0.30)
    d2 = frame[(frame["cell"] == D) & (frame["seed"] == 2)].iloc[0]
    assert d2["psds1"] == pytest.approx(0.32) and math.isnan(d2["collar_f1"])


def test_pagination_reads_every_page(store, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    original = MlflowClient.search_runs

    def counting(self, *args, **kwargs):
        page = original(self, *args, **kwargs)
        sizes.append(len(page))
        return page

    monkeypatch.setattr(MlflowClient, "search_runs", counting)
    paged = load_study(store.uri, "quickstart", page_size=4, method="api")
    assert sorted(paged.runs["run_id"]) == sorted(store.run_ids.values())
    assert sizes[-3:] == [4, 4, 3]  # 11 trial runs in pages of 4


def test_page_size_is_checked(store) -> None:
    with pytest.raises(ValueError, match=r"page_size must be in \[1, 1000\], but got 5000"):
        load_study(store.uri, "quickstart", page_size=5000)


def test_unknown_study_lists_existing_ones(store) -> None:
    with pytest.raises(StudyNotFoundError) as info:
        load_study(store.uri, "quickstrat")
    message = str(info.value)
    assert "'quickstrat' not found" in message
    assert store.uri in message
    assert "Studies in this store: 'dup', 'other', 'planted', 'quickstart', 'ragged', 'solo'" in message
    assert "did you mean 'quickstart'?" in message
    assert isinstance(info.value, ReportError)


def test_experiment_without_parent_run(store) -> None:
    with pytest.raises(StudyNotFoundError, match="experiment 'no_parent' exists but holds no parent run"):
        load_study(store.uri, "no_parent")


def test_list_studies(store) -> None:
    assert list_studies(store.uri) == ["dup", "other", "planted", "quickstart", "ragged", "solo"]


def test_missing_store_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nothing.db"
    with pytest.raises(ReportError, match="expected an existing MLflow store"):
        load_study(f"sqlite:///{path}", "quickstart")
    assert not path.exists()


def test_several_parent_runs_use_the_newest(store, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="reports.fetch.load"):
        dup = load_study(store.uri, "dup")
    assert list(dup.runs["seed"]) == [1]  # the newer parent planned and ran seed 1
    assert dup.planned == (PlannedTrial(cell=A, seed=1),)
    assert "has 2 parent runs" in caplog.text


def test_parse_cell_keeps_pipes_inside_levels() -> None:
    assert parse_cell("a.b=x|y|c=1", ["a.b", "c"]) == {"a.b": "x|y", "c": "1"}
    with pytest.raises(ReportError, match=r"found none for \['c'\]"):
        parse_cell("a.b=x", ["a.b", "c"])
