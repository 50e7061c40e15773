"""The MLflow tracking server stopped and restarted mid-study (same port, same store): nothing lost, nothing
duplicated. The driver is the only writer; its MLflow client retries HTTP with backoff while the server is away,
and the SQL store ignores a metric row it already holds, so a retried batch adds nothing."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from .conftest import four_trial_study, kill_driver, sedstudy

TRIALS = 4
EPOCHS = 3
OUTAGE_S = 10  # plus the ~15 s the server takes to start again


def trial_runs(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name("tracking_restart")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")


@pytest.mark.integration
@pytest.mark.slow
def test_study_survives_a_restart_of_its_tracking_server(tmp_path: Path, restartable_mlflow_server, tiny_dataset: Path):
    server = restartable_mlflow_server
    (tmp_path / "tracking_restart.yaml").write_text(four_trial_study("tracking_restart", tiny_dataset))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    client = MlflowClient(server.uri)
    log_path = tmp_path / "driver.log"
    driver = subprocess.Popen(
        sedstudy("run", str(tmp_path / "tracking_restart.yaml"), "--workdir", str(tmp_path / "work"),
                 "--tracking-uri", server.uri, "--no-report"),
        stdout=log_path.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 400
        finished: list = []
        while time.monotonic() < deadline and driver.poll() is None:
            finished = [r for r in trial_runs(client) if r.info.status == "FINISHED"]
            if finished:
                break
            time.sleep(1)
        assert driver.poll() is None, log_path.read_text()[-3000:]
        assert 1 <= len(finished) < TRIALS, "the outage must land midway"
        server.stop()  # SIGTERM, then SIGKILL whatever is left of the server's process group
        time.sleep(OUTAGE_S)
        assert driver.poll() is None, "the driver gave up while the server was away:\n" + log_path.read_text()[-3000:]
        server.start()
        code = driver.wait(timeout=600)
    finally:
        kill_driver(driver)
    assert code == 0, log_path.read_text()[-3000:]

    runs = trial_runs(client)
    by_trial = {r.data.tags["sedstudy.trial_id"]: r for r in runs}
    assert len(runs) == TRIALS and len(by_trial) == TRIALS  # one run per trial, none duplicated
    assert {r.info.status for r in runs} == {"FINISHED"}
    for run in runs:  # every epoch's metrics logged exactly once, the final metrics too
        for key in ("train/loss", "epoch"):
            steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
            assert sorted(steps) == list(range(EPOCHS)), (run.data.tags["sedstudy.cell"], key, steps)
        assert len(client.get_metric_history(run.info.run_id, "psds1")) == 1
        assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")] == ["checkpoints/best_model.pt"]
    experiment = client.get_experiment_by_name("tracking_restart")
    every = client.search_runs([experiment.experiment_id])
    assert len(every) == TRIALS + 1  # the trials and the study's parent run, nothing else
    assert {r.info.status for r in every} == {"FINISHED"}  # none left RUNNING
