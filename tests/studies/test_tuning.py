"""The shipped tiny tuning study end to end: TPE samples through Ray Tune with ASHA, one MLflow run per sample,
seed trials with the best values; a rerun adds nothing; an interrupted sample is replaced, never duplicated."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from studies.launcher import run_study
from studies.tracking import default_tracking_uri

REPO = Path(__file__).resolve().parents[2]
NUM_SAMPLES = 6
TUNED = "model.pooling=attention"
SPACE = ("training.optimizer.lr", "training.consistency_weight")


def runs_of(workdir: Path, kind: str) -> list:
    client = MlflowClient(default_tracking_uri(workdir))
    experiment = client.get_experiment_by_name("tiny_tuning")
    return client.search_runs([experiment.experiment_id], f"tags.`sedstudy.kind` = '{kind}'")


def best_of(samples: list) -> tuple[dict, int]:
    """The argmax over finished samples of tune/objective, ties to the lowest sample index."""
    finished = [r for r in samples if r.info.status == "FINISHED"]
    run = min(finished, key=lambda r: (-r.data.metrics["tune/objective"], int(r.data.tags["sedstudy.tune.sample"])))
    return json.loads(run.data.tags["sedstudy.tune.params"]), int(run.data.tags["sedstudy.tune.sample"])


@pytest.fixture(scope="module")
def tuned_study(tmp_path_factory: pytest.TempPathFactory, shared_ray, tiny_dataset: Path) -> tuple[Path, Path]:
    shared_ray()  # the session's in-process Ray, joined by run_study
    workdir = tmp_path_factory.mktemp("tuning")
    path = workdir / "tiny_tuning.yaml"
    # the shipped study on the session's tiny dataset (the same preset and seed as its synthetic_data block)
    path.write_text((REPO / "studies" / "tiny_tuning.yaml").read_text().replace("root: data/synth/tiny",
                                                                             f"root: {tiny_dataset}"))
    outcome = run_study(path, workdir=workdir)
    assert (outcome.sampled, outcome.ran, outcome.failed, outcome.skipped) == (NUM_SAMPLES, 4, 0, 0)
    return workdir, path


@pytest.mark.integration
@pytest.mark.slow
def test_tuning_samples_are_tune_runs_and_asha_stops_some(tuned_study):
    workdir, _ = tuned_study
    samples = runs_of(workdir, "tune")
    assert len(samples) == NUM_SAMPLES and {r.info.status for r in samples} == {"FINISHED"}
    assert {r.data.tags["sedstudy.cell"] for r in samples} == {TUNED}
    assert sorted(int(r.data.tags["sedstudy.tune.sample"]) for r in samples) == list(range(NUM_SAMPLES))
    stopped = [r for r in samples if "sedstudy.tune.stopped_early" in r.data.tags]
    assert stopped, "ASHA (grace 1, reduction 2) must stop at least one of 6 sequential samples"
    for run in samples:
        values = json.loads(run.data.tags["sedstudy.tune.params"])
        assert set(values) == set(SPACE)
        assert 1e-4 <= values["training.optimizer.lr"] <= 1e-2 and 0.5 <= values["training.consistency_weight"] <= 4
        for path, value in values.items():  # the params are the sample's config
            assert float(run.data.params[path]) == pytest.approx(value, rel=1e-12)
        assert run.data.params["seed"] == "0"  # tuning.seed
        assert len(run.data.tags["sedstudy.trial_id"]) == 16
        assert "psds1" not in run.data.metrics, "a tuning sample must never be scored on the test split"
        epochs = len(MlflowClient(default_tracking_uri(workdir)).get_metric_history(run.info.run_id, "train/loss"))
        assert epochs == int(run.data.tags.get("sedstudy.tune.stopped_early", 3))
    parent = runs_of(workdir, "study")[0]
    assert json.loads(parent.data.tags["sedstudy.tuning"])["num_samples"] == NUM_SAMPLES


@pytest.mark.integration
@pytest.mark.slow
def test_seed_trials_carry_the_best_sampled_values(tuned_study):
    workdir, _ = tuned_study
    best, _ = best_of(runs_of(workdir, "tune"))
    trials = runs_of(workdir, "trial")
    assert len(trials) == 4 and {r.info.status for r in trials} == {"FINISHED"}
    tuned = [r for r in trials if r.data.tags["sedstudy.cell"] == TUNED]
    assert sorted(r.data.tags["sedstudy.seed"] for r in tuned) == ["1", "2"]
    for run in tuned:
        assert json.loads(run.data.tags["sedstudy.tune.best"]) == best
        for path, value in best.items():
            assert float(run.data.params[path]) == value
    for run in trials:
        if run.data.tags["sedstudy.cell"] != TUNED:  # untuned cells keep the experiment's values
            assert "sedstudy.tune.best" not in run.data.tags
            assert float(run.data.params["training.optimizer.lr"]) == 1e-3


@pytest.mark.integration
@pytest.mark.slow
def test_report_and_status_keep_samples_apart_from_seeds(tuned_study, capsys: pytest.CaptureFixture[str]):
    from reports.fetch.load import load_study as load_report_study
    from studies.cli import main

    workdir, _ = tuned_study
    runs = load_report_study(default_tracking_uri(workdir), "tiny_tuning")
    assert len(runs.runs) == 4 and set(runs.runs["seed"]) == {1, 2}
    assert main(["status", "tiny_tuning", "--workdir", str(workdir), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["totals"]["finished"] == 4
    [tuning] = status["tuning"]
    best, index = best_of(runs_of(workdir, "tune"))
    assert tuning["cell"] == TUNED and tuning["finished"] == NUM_SAMPLES and tuning["failed"] == 0
    assert tuning["best"]["values"] == best and tuning["best"]["sample"] == index
    stopped = sum("sedstudy.tune.stopped_early" in r.data.tags for r in runs_of(workdir, "tune"))
    assert tuning["stopped_early"] == stopped

    from reports.build import build_report

    paths = build_report(default_tracking_uri(workdir), "tiny_tuning", workdir / "report", learning_curves=False,
                         clip_resamples=50)
    shown = "pooling=attention"  # TUNED by its display name
    row = f"| {shown} | {NUM_SAMPLES} | {stopped} | 0 | val/synthetic_validation/intersection_f1 | "
    assert "## Tuning inside cells" in paths.markdown.read_text() and row in paths.markdown.read_text()
    assert 'id="tuning"' in paths.html.read_text()


@pytest.mark.integration
@pytest.mark.slow
def test_rerun_tunes_nothing_and_adds_no_runs(tuned_study):
    workdir, path = tuned_study
    before = {r.info.run_id: r.info.end_time for r in runs_of(workdir, "tune") + runs_of(workdir, "trial")}
    outcome = run_study(path, workdir=workdir)
    assert (outcome.sampled, outcome.ran, outcome.skipped) == (0, 0, 4)
    after = {r.info.run_id: r.info.end_time for r in runs_of(workdir, "tune") + runs_of(workdir, "trial")}
    assert after == before


@pytest.mark.integration
@pytest.mark.slow
def test_an_interrupted_sample_is_replaced_by_one_new_sample(tuned_study, in_process_ray):
    """A launch that stopped mid-phase leaves a sample RUNNING: the next launch marks it KILLED and draws one new
    sample (TPE warm-started from the rest); the store ends with num_samples finished samples, none rerun."""
    workdir, path = tuned_study
    samples = runs_of(workdir, "tune")
    _, best_index = best_of(samples)
    victim = next(r for r in samples if int(r.data.tags["sedstudy.tune.sample"]) != best_index)
    client = MlflowClient(default_tracking_uri(workdir))
    client.update_run(victim.info.run_id, status="RUNNING")
    kept = {r.info.run_id: r.info.end_time for r in samples if r.info.run_id != victim.info.run_id}

    outcome = run_study(path, workdir=workdir)
    assert outcome.sampled == 1 and outcome.failed == 0
    after = runs_of(workdir, "tune")
    assert len(after) == NUM_SAMPLES + 1
    assert client.get_run(victim.info.run_id).info.status == "KILLED"
    assert "sedstudy.tune.interrupted" in client.get_run(victim.info.run_id).data.tags
    finished = [r for r in after if r.info.status == "FINISHED"]
    assert len(finished) == NUM_SAMPLES
    assert all(kept[r.info.run_id] == r.info.end_time for r in finished if r.info.run_id in kept)
    [new] = [r for r in after if r.info.run_id not in kept and r.info.run_id != victim.info.run_id]
    assert int(new.data.tags["sedstudy.tune.sample"]) == NUM_SAMPLES
    best, _ = best_of(after)  # the seed trials of the tuned cell use the (possibly new) best
    current = [r for r in runs_of(workdir, "trial") if r.data.tags["sedstudy.cell"] == TUNED
               and json.loads(r.data.tags["sedstudy.tune.best"]) == best]
    assert sorted(r.data.tags["sedstudy.seed"] for r in current) == ["1", "2"]
    assert {r.info.status for r in current} == {"FINISHED"}
