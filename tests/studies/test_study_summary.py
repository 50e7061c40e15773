"""The parent run shows the study at a glance, and the experiment opens on MLflow's runs table."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from reports.contract import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG
from studies.definition import Study, load_study
from studies.study_summary import cell_metric_key, study_summary
from studies.tracking import StudyTracker, default_tracking_uri

STUDY = """
name: summary_study
experiment:
  preset: tiny
  data:
    root: data/tiny
design:
  factors:
    model.pooling: [attention, max]
seeds: [1, 2]
objective: {metric: psds1, mode: max}
"""


def test_cell_keys_are_valid_mlflow_metric_names() -> None:
    assert cell_metric_key("psds1_mean", "model.pooling=max|training.mixup.probability=0.5") == \
        "psds1_mean/model.pooling:max training.mixup.probability:0.5"
    assert cell_metric_key("m", "data.root=/a/../b") == "m/data.root:_a_.._b"
    long = cell_metric_key("m", "x=" + "y" * 400)
    assert len(long) == 250 and long != cell_metric_key("m", "x=" + "y" * 399 + "z")


def test_summary_takes_the_best_cell_by_its_mean_and_skips_cells_without_finished_trials() -> None:
    values = {"a=1": [0.2, 0.4], "a=2": [0.35, 0.35], "a=3": []}
    summary = study_summary("psds1", "max", values, {"finished": 4, "failed": 1})
    assert summary.best_cell == "a=2"
    assert summary.metrics["best/psds1_mean"] == pytest.approx(0.35)
    assert summary.metrics["psds1_mean/a:1"] == pytest.approx(0.3) and summary.metrics["psds1_seeds/a:1"] == 2
    assert "psds1_mean/a:3" not in summary.metrics
    assert summary.metrics["trials/failed"] == 1
    assert study_summary("loss", "min", values, {}).best_cell == "a=1"
    assert study_summary("psds1", "max", {"a=1": []}, {}).best_cell is None


def tracked_study(tmp_path: Path) -> tuple[Study, StudyTracker]:
    """The summary study loaded from a file in `tmp_path`, and its tracker on a new SQLite store there."""
    path = tmp_path / "summary_study.yaml"
    path.write_text(STUDY)
    study = load_study(path, workdir=tmp_path)
    return study, StudyTracker(default_tracking_uri(tmp_path), study, artifact_root=tmp_path / "mlartifacts")


def test_parent_run_carries_the_summary_and_the_experiment_its_kind(tmp_path: Path) -> None:
    study, tracker = tracked_study(tmp_path)
    uri = tracker.tracking_uri
    objective = {("model.pooling=attention", 1): 0.30, ("model.pooling=attention", 2): 0.40,
                 ("model.pooling=max", 1): 0.50}
    for trial in study.trials:
        tracker.start_trial(trial)
        value = objective.get((trial.cell.id, trial.seed))
        if value is None:
            tracker.end_trial(trial, failure="planted failure")
        else:
            tracker.log_metrics(trial, {"psds1": value}, step=0)
            tracker.end_trial(trial)
    tracker.end_study()

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("summary_study")
    assert experiment.tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    parent = client.get_run(tracker.parent_run_id)
    assert parent.data.tags["sedstudy.best_cell"] == "model.pooling=max"
    assert parent.data.metrics["best/psds1_mean"] == pytest.approx(0.50)
    assert parent.data.metrics["psds1_mean/model.pooling:attention"] == pytest.approx(0.35)
    assert parent.data.metrics["psds1_seeds/model.pooling:attention"] == 2
    assert (parent.data.metrics["trials/finished"], parent.data.metrics["trials/failed"]) == (3, 1)
    display = json.loads(parent.data.tags["sedstudy.display"])  # what reports show instead of the cell ids
    assert display["cells"] == {"model.pooling=attention": "pooling=attention", "model.pooling=max": "pooling=max"}


def test_an_experiment_made_before_the_kind_tag_gets_it(tmp_path: Path) -> None:
    path = tmp_path / "summary_study.yaml"
    path.write_text(STUDY)
    uri = default_tracking_uri(tmp_path)
    MlflowClient(uri).create_experiment("summary_study")
    StudyTracker(uri, load_study(path, workdir=tmp_path))
    assert MlflowClient(uri).get_experiment_by_name("summary_study").tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND


def test_a_trial_that_fails_before_it_starts_is_recorded_failed(tmp_path: Path) -> None:
    study, tracker = tracked_study(tmp_path)
    trial = study.trials[0]
    tracker.end_trial(trial, failure="worker died before the trial started")  # Tune's on_trial_error, no start
    run = MlflowClient(tracker.tracking_uri).get_run(tracker._runs[trial.key])
    assert run.info.status == "FAILED" and run.data.tags["sedstudy.failure"].startswith("worker died")
    assert run.data.tags["sedstudy.trial_id"] == trial.trial_id
