"""A real tiny study: synthetic data, in-process Ray Tune, SQLite MLflow, the report; then a rerun that skips."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from studies.launcher import run_study
from studies.tracking import default_tracking_uri

STUDY = """
name: tiny_e2e
experiment:
  preset: tiny
  data:
    root: data/tiny
  training:
    epochs: 2
    steps_per_epoch: 2
synthetic_data:
  preset: tiny
  seed: 0
design:
  factors:
    model.pooling: [attention, max]
    training.mixup.probability: [0.5, 0.0]
seeds: [1, 2]
metrics: [psds1, psds2, collar_f1]
"""


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory: pytest.TempPathFactory, shared_ray) -> tuple[Path, Path]:
    shared_ray()  # the session's in-process Ray, joined by run_study
    workdir = tmp_path_factory.mktemp("study")
    path = workdir / "tiny_e2e.yaml"
    path.write_text(STUDY)
    outcome = run_study(path, workdir=workdir)
    assert (outcome.ran, outcome.failed, outcome.skipped) == (8, 0, 0)
    return workdir, path


@pytest.mark.integration
@pytest.mark.slow
def test_every_trial_is_one_child_run_with_factors_seed_and_metrics(finished_study):
    workdir, _ = finished_study
    client = MlflowClient(default_tracking_uri(workdir))
    experiment = client.get_experiment_by_name("tiny_e2e")
    parents = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'study'")
    assert len(parents) == 1
    parent = parents[0]
    assert json.loads(parent.data.tags["sedstudy.factors"]) == ["model.pooling", "training.mixup.probability"]
    children = client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert len(children) == 8
    assert {r.info.status for r in children} == {"FINISHED"}
    keys = {(r.data.tags["sedstudy.factor.model.pooling"], r.data.tags["sedstudy.factor.training.mixup.probability"],
             r.data.tags["sedstudy.seed"]) for r in children}
    assert len(keys) == 8
    run = children[0]
    assert run.data.params["seed"] == run.data.tags["sedstudy.seed"]
    assert run.data.params["model.pooling"] == run.data.tags["sedstudy.factor.model.pooling"]
    for metric in ("psds1", "psds2", "collar_f1", "intersection_f1", "psds1_t50", "psds2_t50",
                   "teacher/psds1_t50"):
        assert 0.0 <= run.data.metrics[metric] <= 1.0
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert sorted(m.step for m in history) == [0, 1]


@pytest.mark.integration
@pytest.mark.slow
def test_rerun_skips_finished_trials_and_duplicates_nothing(finished_study):
    workdir, path = finished_study
    outcome = run_study(path, workdir=workdir)
    assert (outcome.ran, outcome.skipped) == (0, 8)
    client = MlflowClient(default_tracking_uri(workdir))
    experiment = client.get_experiment_by_name("tiny_e2e")
    assert len(client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")) == 8


@pytest.mark.integration
@pytest.mark.slow
def test_report_from_the_store(finished_study):
    from reports.build import build_report

    workdir, _ = finished_study
    paths = build_report(default_tracking_uri(workdir), "tiny_e2e", workdir / "report", clip_resamples=50)
    text = paths.markdown.read_text()
    assert "model.pooling" in text and "psds1" in text.lower()
    assert paths.figure.stat().st_size > 1000
    # what the trials store makes every section real: per-class PSDS, PSD-ROC and PSDS over resampled clips
    assert not [note for note in paths.notes if "skipped" in note], paths.notes
    names = {path.name for path in paths.figures}
    assert {"per_class.png", "psd_roc.png"} <= names
    clips = pd.read_csv(paths.out_dir / "clip_bootstrap.csv")
    assert len(clips) == 3 and set(clips["statistic"]) == {"psds1"} and clips["diff"].notna().all()
    assert (clips["ci_low"] <= clips["diff"]).all() and (clips["diff"] <= clips["ci_high"]).all()
    assert set(clips["n_clips"]) == {16} and set(clips["n_pairs"]) == {2}
    # where the numbers come from and what they cost
    assert "## Time and energy" in text and "| all cells (study) | 8 / 8 |" in text.replace("**", "")
    assert "- Clips per split (of the official list): " in text and "validation 16 / 16" in text
    assert "- Metric: sed_scores_eval " in text
    assert "- Backbone checkpoint: none (no SSL backbone)" in text


@pytest.mark.integration
@pytest.mark.slow
def test_planned_trials_survive_without_the_tag(finished_study):
    """Large designs exceed a tag's 8,000 characters; the report reads the parent's artifact instead."""
    from reports.fetch.load import load_study as load_report_study

    workdir, _ = finished_study
    uri = default_tracking_uri(workdir)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tiny_e2e")
    parent = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'study'")[0]
    client.delete_tag(parent.info.run_id, "sedstudy.planned_trials")
    runs = load_report_study(uri, "tiny_e2e")
    assert len(runs.planned) == 8 and {p.seed for p in runs.planned} == {1, 2}


@pytest.mark.integration
@pytest.mark.slow
def test_status_reads_progress_and_best_from_the_store(finished_study, capsys: pytest.CaptureFixture[str]):
    from studies.cli import main

    workdir, _ = finished_study
    assert main(["status", "tiny_e2e", "--workdir", str(workdir), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["totals"] == {"finished": 8, "running": 0, "failed": 0, "not started": 0}
    assert len(status["cells"]) == 4 and all(c["planned"] == 2 for c in status["cells"])
    value, cell, seed = status["best"]
    assert 0.0 <= value <= 1.0 and cell.startswith("model.pooling=") and seed in (1, 2)
    assert main(["status", "tiny_e2f", "--workdir", str(workdir)]) == 2
    assert "no study 'tiny_e2f'" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.slow
def test_trials_carry_code_version_config_hash_and_frame_scores(finished_study):
    workdir, _ = finished_study
    client = MlflowClient(default_tracking_uri(workdir))
    experiment = client.get_experiment_by_name("tiny_e2e")
    run = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'", max_results=1)[0]
    tags = run.data.tags
    assert len(tags["sedstudy.config_hash"]) == 64
    assert tags["sedstudy.config_hash"].startswith(tags["sedstudy.trial_id"])
    assert tags["sedstudy.code.dirty"] in ("true", "false", "unknown") and tags["sedstudy.code.commit"]
    scores = client.list_artifacts(run.info.run_id, "scores/validation")
    assert len(scores) > 0 and all(a.path.endswith(".tsv") for a in scores)
    assert {a.path for a in client.list_artifacts(run.info.run_id, "psd_roc")} == {"psd_roc/psds1.tsv",
                                                                                 "psd_roc/psds2.tsv"}
    assert {a.path for a in client.list_artifacts(run.info.run_id, "reference/validation")} == {
        "reference/validation/ground_truth.tsv", "reference/validation/durations.tsv"}
    assert {f"psds1/class/{c}" for c in ("Speech", "Dog")} <= set(run.data.metrics)
    # provenance: data, coverage, the metric's specification, the machine; and the trial's cost
    assert tags["sedstudy.data.kind"] == "synthetic" and len(tags["sedstudy.data.sha256"]) == 64
    assert "validation 16 / 16" in tags["sedstudy.data.coverage"]
    assert tags["sedstudy.metric"].startswith("sed_scores_eval ") and "PSDS1 dtc 0.7 gtc 0.7" in tags["sedstudy.metric"]
    assert "torch" in tags["sedstudy.environment"]
    root = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"provenance.json", "environment.json", "config.json"} <= root
    metrics = run.data.metrics
    assert metrics["cost/wall_s"] > 0 and metrics["cost/energy_kwh"] > 0 and metrics["cost/attempts"] == 1


@pytest.mark.integration
@pytest.mark.slow
def test_adding_a_seed_to_a_finished_study_runs_only_the_new_trials(finished_study, in_process_ray):
    """Kept last: it grows the study to 3 seeds (12 trials)."""
    workdir, path = finished_study
    path.write_text(STUDY.replace("seeds: [1, 2]", "seeds: [1, 2, 3]"))
    outcome = run_study(path, workdir=workdir)
    assert (outcome.ran, outcome.skipped, outcome.failed) == (4, 8, 0)
    client = MlflowClient(default_tracking_uri(workdir))
    experiment = client.get_experiment_by_name("tiny_e2e")
    runs = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")
    assert len(runs) == 12 and len({r.data.tags["sedstudy.trial_id"] for r in runs}) == 12
    assert sorted(r.data.tags["sedstudy.seed"] for r in runs).count("3") == 4


@pytest.mark.integration
@pytest.mark.slow
def test_tune_writes_no_result_files_of_its_own_the_store_holds_the_records(finished_study):
    workdir, _ = finished_study
    experiment = workdir / "ray_results" / "tiny_e2e"
    assert experiment.is_dir()
    assert not [p.name for p in experiment.rglob("*") if p.name in ("progress.csv", "result.json")
                or p.name.startswith("events.out.tfevents")]
