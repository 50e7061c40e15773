"""`sedstudy evaluate` on a real tiny study: rescoring stored checkpoints into the same MLflow runs."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest
from mlflow.tracking import MlflowClient

from studies.cli import main
from studies.launcher import run_study
from studies.tracking import default_tracking_uri

STUDY = """
name: tiny_eval
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
seeds: [1]
metrics: [psds1, psds2]
"""
SPLIT = "synthetic_validation"
MARKER = f"eval/{SPLIT}/psds1"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory, shared_ray, tiny_dataset: Path) -> tuple[Path, MlflowClient]:
    shared_ray()  # the session's in-process Ray, joined by run_study
    workdir = tmp_path_factory.mktemp("study")
    path = workdir / "tiny_eval.yaml"
    path.write_text(STUDY.replace("data/tiny", str(tiny_dataset)))
    outcome = run_study(path, workdir=workdir)
    assert (outcome.ran, outcome.failed) == (2, 0)
    return workdir, MlflowClient(default_tracking_uri(workdir))


def trial_runs(client: MlflowClient):
    experiment = client.get_experiment_by_name("tiny_eval")
    return client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")


def evaluate(workdir: Path, *extra: str, target: str = "tiny_eval", split: str = SPLIT) -> int:
    return main(["evaluate", target, "--split", split, "--workdir", str(workdir), *extra])


def test_evaluate_logs_the_split_to_every_run_once_and_force_relogs(study, tiny_dataset: Path,
                                                                   capsys: pytest.CaptureFixture[str]):
    workdir, client = study
    assert evaluate(workdir) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[-1].startswith(f"evaluated 2 run(s) of tiny_eval on {SPLIT}, skipped 0")
    assert all(f"seed=1  {SPLIT}: psds1=" in line and "psds2=" in line for line in out[:2])
    runs = trial_runs(client)
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    for run in runs:
        metrics, run_id = run.data.metrics, run.info.run_id
        assert {MARKER, f"eval/{SPLIT}/psds2", f"eval/{SPLIT}/collar_f1", f"eval/{SPLIT}/intersection_f1",
                f"eval/{SPLIT}/teacher/psds1", f"eval/{SPLIT}/psds1/class/Dog"} <= set(metrics)
        # the student of the best epoch, rescored on the selection split, gives back what training measured
        best = int(metrics["best_epoch"])
        selected = [m.value for m in client.get_metric_history(run_id, f"val/{SPLIT}/intersection_f1")
                    if m.step == best]
        assert metrics[f"eval/{SPLIT}/intersection_f1"] == pytest.approx(selected[0], abs=1e-12)
        tag = json.loads(run.data.tags[f"sedstudy.eval.{SPLIT}"])
        assert tag == {"data_root": str(tiny_dataset), "n_clips": 12, "checkpoint_epoch": best,
                       "model": "student"}
        assert len(client.list_artifacts(run_id, f"scores/{SPLIT}")) == 12
        assert {a.path for a in client.list_artifacts(run_id, f"psd_roc/{SPLIT}")} == {
            f"psd_roc/{SPLIT}/psds1.tsv", f"psd_roc/{SPLIT}/psds2.tsv"}
        assert {a.path for a in client.list_artifacts(run_id, f"reference/{SPLIT}")} == {
            f"reference/{SPLIT}/ground_truth.tsv", f"reference/{SPLIT}/durations.tsv"}
        assert len(client.list_artifacts(run_id, "scores/validation")) == 16  # the trial's own, untouched
        assert len(client.get_metric_history(run_id, MARKER)) == 1

    assert evaluate(workdir) == 0  # the second call skips
    out = capsys.readouterr().out
    assert out.count("already evaluated; --force to redo") == 2 and "evaluated 0 run(s)" in out
    assert all(len(client.get_metric_history(r.info.run_id, MARKER)) == 1 for r in runs)

    assert evaluate(workdir, "--force") == 0
    assert "evaluated 2 run(s)" in capsys.readouterr().out
    again = trial_runs(client)
    assert len(again) == 2 and {r.info.status for r in again} == {"FINISHED"}
    for run in again:
        history = client.get_metric_history(run.info.run_id, MARKER)
        assert len(history) == 2 and history[0].value == history[1].value


def test_a_single_run_by_id(study, capsys: pytest.CaptureFixture[str]):
    workdir, client = study
    run = min(trial_runs(client), key=lambda r: r.info.run_id)
    assert evaluate(workdir, target=run.info.run_id, split="validation") == 0
    assert "evaluated 1 run(s)" in capsys.readouterr().out
    after = {r.info.run_id: r for r in trial_runs(client)}
    # the test split again: equal to the trial's final metrics, on that run only
    assert after[run.info.run_id].data.metrics["eval/validation/psds2"] == run.data.metrics["psds2"]
    assert after[run.info.run_id].data.metrics["eval/validation/teacher/collar_f1"] == \
        run.data.metrics["teacher/collar_f1"]
    assert [r for r in after.values() if "eval/validation/psds1" in r.data.metrics] == [after[run.info.run_id]]


def test_wrong_targets_and_splits_are_refused(study, capsys: pytest.CaptureFixture[str]):
    workdir, _ = study
    assert evaluate(workdir, split="validaton") == 2
    assert "unknown split 'validaton' (did you mean 'validation'?)" in capsys.readouterr().err
    assert evaluate(workdir, split="weak_train") == 2
    assert "'weak_train' has weak (clip) labels only" in capsys.readouterr().err
    assert evaluate(workdir, target="tiny_evl") == 2
    assert "no study or run 'tiny_evl'" in capsys.readouterr().err


def test_a_broken_run_stops_everything_before_any_compute(study, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]):
    workdir, client = study
    runs = sorted(trial_runs(client), key=lambda r: r.data.tags["sedstudy.cell"])
    before = {r.info.run_id: len(client.get_metric_history(r.info.run_id, MARKER)) for r in runs}

    assert evaluate(workdir, "--force", "--data-root", str(tmp_path / "nowhere")) == 2
    err = capsys.readouterr().err
    assert f"run {runs[0].info.run_id}" in err and f"cannot read split '{SPLIT}' from --data-root" in err

    assert evaluate(workdir, "--data-root", str(tmp_path / "nowhere"), split="validation") == 2
    assert "'validation' is the run's own test split" in capsys.readouterr().err

    broken = runs[-1]  # the last one in order: the first would be computed were nothing checked first
    checkpoint = Path(urlparse(broken.info.artifact_uri).path) / "checkpoints" / "best_model.pt"
    kept = tmp_path / "best_model.pt"
    shutil.move(checkpoint, kept)
    try:
        assert evaluate(workdir, "--force") == 2
        err = capsys.readouterr().err
        assert f"run {broken.info.run_id}" in err and "no artifact checkpoints/best_model.pt" in err
    finally:
        shutil.move(kept, checkpoint)
    after = {r.info.run_id: len(client.get_metric_history(r.info.run_id, MARKER)) for r in runs}
    assert after == before


def test_predict_from_a_runs_downloaded_artifacts(study, tiny_dataset: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]):
    """`mlflow artifacts download` of a trial gives config.json + checkpoints/best_model.pt: predict takes that."""
    _, client = study
    run = trial_runs(client)[0]
    for artifact in ("config.json", "checkpoints"):
        client.download_artifacts(run.info.run_id, artifact, str(tmp_path / "run"))
    wav = tiny_dataset / "audio/validation/validation_16k/validation_000002.wav"
    assert main(["predict", str(tmp_path / "run/checkpoints"), str(wav), "--out", str(tmp_path / "out"),
                 "--threshold", "0.3", "--model", "teacher"]) == 0
    out = capsys.readouterr().out
    assert "validation_000002.wav: " in out and "detections (teacher, threshold 0.3)" in out
    assert (tmp_path / "out/detections.tsv").read_text().startswith("filename\tonset\toffset\tevent_label\n")
    assert (tmp_path / "out/scores/validation_000002.tsv").is_file()
    with pytest.raises(SystemExit):  # argparse refuses it
        main(["predict", str(tmp_path / "run/checkpoints"), str(wav), "--threshold", "1.5"])
    assert "expected a number between 0 and 1" in capsys.readouterr().err


def test_a_corrupt_stored_checkpoint_names_the_run_and_artifact(study, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]):
    workdir, client = study
    first = sorted(trial_runs(client), key=lambda r: r.data.tags["sedstudy.cell"])[0]  # scored first: nothing else ran
    checkpoint = Path(urlparse(first.info.artifact_uri).path) / "checkpoints" / "best_model.pt"
    kept = tmp_path / "best_model.pt"
    shutil.copy(checkpoint, kept)
    checkpoint.write_bytes(b"")
    try:
        assert evaluate(workdir, "--force") == 2
    finally:
        shutil.copy(kept, checkpoint)
    err = capsys.readouterr().err
    assert f"run {first.info.run_id}" in err and "artifact checkpoints/best_model.pt: the file is empty" in err
    assert tempfile.gettempdir() not in err  # not the downloaded copy, deleted by the time this is read
