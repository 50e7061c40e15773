"""The study engine's done-when scenario in one run: a four-factor factorial of the tiny model with several seeds
on a two-node `ray start` cluster, recorded in an MLflow tracking server; the driver is SIGKILLed midway and
`sedstudy resume` finishes the study with exactly one finished run per trial. Two seeds (32 trials; the scenario
named three): what it checks (trials of one cell told apart by seed, none rerun or duplicated) needs two."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from .conftest import kill_driver, sedstudy

STUDY = """
name: four_factors
experiment:
  preset: tiny
  data: {{root: {data}}}
  training: {{epochs: 2, steps_per_epoch: 2}}
design:
  type: full_factorial
  factors:
    model.pooling: [attention, max]
    model.cnn.activation: [glu, cg]
    training.mixup.probability: [0.5, 0.0]
    training.consistency_weight: [2.0, 0.0]
seeds: [1, 2]
resources: {{cpu: 1}}
"""
TRIALS = 2 * 2 * 2 * 2 * 2


def trial_runs(client: MlflowClient):
    experiment = client.get_experiment_by_name("four_factors")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'", max_results=1000)


@pytest.mark.integration
@pytest.mark.slow
def test_four_factor_study_on_two_nodes_survives_a_killed_driver(tmp_path: Path, shared_ray_cluster,
                                                                 shared_mlflow_server, tiny_dataset: Path):
    mlflow_server = shared_mlflow_server.uri
    (tmp_path / "four_factors.yaml").write_text(STUDY.format(data=tiny_dataset))
    work, shared = tmp_path / "work", tmp_path / "shared"
    env = {**os.environ, **shared_ray_cluster.env}
    client = MlflowClient(mlflow_server)
    log = (tmp_path / "driver.log").open("w")
    driver = subprocess.Popen(
        sedstudy("run", str(tmp_path / "four_factors.yaml"), "--workdir", str(work), "--address",
                 shared_ray_cluster.address, "--tracking-uri", mlflow_server, "--storage", str(shared),
                 "--no-report"),
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            finished = [r for r in trial_runs(client) if r.info.status == "FINISHED"]
            if len(finished) >= 6 or driver.poll() is not None:
                break
            time.sleep(1)
        assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
        assert 6 <= len(finished) < TRIALS, "the kill must land midway"
    finally:
        kill_driver(driver)  # the driver only: the cluster it joined stays up
    done_before = {r.data.tags["sedstudy.trial_id"]: r for r in trial_runs(client) if r.info.status == "FINISHED"}

    resumed = subprocess.run(sedstudy("resume", "four_factors", "--workdir", str(work), "--tracking-uri",
                                      mlflow_server, "--no-report"),
                             capture_output=True, text=True, env=env, timeout=1500)
    failures = {f"{r.data.tags.get('sedstudy.cell')} seed {r.data.tags.get('sedstudy.seed')}":
                r.data.tags.get("sedstudy.failure", "")[-2000:]
                for r in trial_runs(client) if r.info.status == "FAILED"}  # why, if a trial failed
    assert resumed.returncode == 0, f"failed trials: {failures}\n" + resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"{len(done_before)} already finished, {TRIALS - len(done_before)} to run" in resumed.stdout

    after = trial_runs(client)
    by_trial = {r.data.tags["sedstudy.trial_id"]: r for r in after}
    assert len(after) == TRIALS and len(by_trial) == TRIALS  # one run per trial, none duplicated
    assert {r.info.status for r in after} == {"FINISHED"}
    cells = {(r.data.tags["sedstudy.cell"], r.data.tags["sedstudy.seed"]) for r in after}
    assert len(cells) == TRIALS
    for trial_id, run in done_before.items():  # finished before the kill: the same run, untouched
        assert by_trial[trial_id].info.run_id == run.info.run_id
        assert by_trial[trial_id].info.end_time == run.info.end_time
    for run in after:  # every epoch logged once
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")]
        assert sorted(steps) == [0, 1], (run.data.tags["sedstudy.cell"], steps)
    assert len({r.data.tags["sedstudy.ray_node"] for r in after}) == 2  # both nodes ran trials
    parent = client.search_runs([after[0].info.experiment_id], "tags.`sedstudy.kind` = 'study'")
    assert [p.info.status for p in parent] == ["FINISHED"]
    every = client.search_runs([after[0].info.experiment_id], max_results=1000)  # trials, the parent, anything else
    assert len(every) == TRIALS + 1 and [r.info.run_id for r in every if r.info.status == "RUNNING"] == []
