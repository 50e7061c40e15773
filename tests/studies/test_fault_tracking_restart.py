"""The MLflow tracking server stopped mid-study and started again (same port, same store): nothing lost, nothing
duplicated, at three lengths of outage.

- short (~25 s): MLflow's REST client retries by itself (about four minutes of backoff by default);
- long: past the client's retries (here made to fail at once, ``MLFLOW_HTTP_REQUEST_MAX_RETRIES=0``, which
  stands for an outage longer than its four minutes), the study's own wait (``failures.tracking_outage_s``,
  30 min by default) holds the records and pauses the trials until the server answers;
- longer than ``failures.tracking_outage_s``: the study stops (exit 69), keeps the records the server did not take
  in its journal, and `sedstudy resume` writes them first, then runs what is left.

The outage of the long case is ``$SEDSTUDY_TEST_LONG_OUTAGE_S`` seconds (45 by default; 600 measures a ten-minute
outage). The SQL store ignores a metric row it already holds, so a write made twice adds nothing.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from .conftest import MlflowServer, four_trial_study, kill_driver, sedstudy

TRIALS = 4
EPOCHS = 3
SHORT_OUTAGE_S = 10  # plus the ~15 s the server takes to start again
LONG_OUTAGE_S = float(os.environ.get("SEDSTUDY_TEST_LONG_OUTAGE_S", "45"))


def trial_runs(client: MlflowClient, name: str) -> list:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")


def launch(tmp_path: Path, server: MlflowServer, name: str, verb: str = "run", extra_yaml: str = "",
           env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path]:
    study = tmp_path / f"{name}.yaml"
    if not study.exists():
        study.write_text(four_trial_study(name, tmp_path / "data") + extra_yaml)
    log_path = tmp_path / f"driver.{verb}.log"
    driver = subprocess.Popen(
        sedstudy(verb, str(study), "--workdir", str(tmp_path / "work"), "--tracking-uri", server.uri, "--no-report"),
        stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **(env or {})})
    return driver, log_path


def wait_for_first_finished(client: MlflowClient, name: str, driver: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 400
    finished: list = []
    while time.monotonic() < deadline and driver.poll() is None:
        finished = [r for r in trial_runs(client, name) if r.info.status == "FINISHED"]
        if finished:
            break
        time.sleep(1)
    assert driver.poll() is None, log_path.read_text()[-3000:]
    assert 1 <= len(finished) < TRIALS, "the outage must land midway"


def assert_recorded_exactly_once(client: MlflowClient, name: str) -> None:
    runs = trial_runs(client, name)
    by_trial = {r.data.tags["sedstudy.trial_id"]: r for r in runs}
    assert len(runs) == TRIALS and len(by_trial) == TRIALS  # one run per trial, none duplicated
    assert {r.info.status for r in runs} == {"FINISHED"}
    for run in runs:  # every epoch's metrics logged exactly once, the final metrics too
        for key in ("train/loss", "epoch"):
            steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
            assert sorted(steps) == list(range(EPOCHS)), (run.data.tags["sedstudy.cell"], key, steps)
        assert len(client.get_metric_history(run.info.run_id, "psds1")) == 1
        assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")] == ["checkpoints/best_model.pt"]
        assert run.data.params["training.epochs"] == str(EPOCHS)
    experiment = client.get_experiment_by_name(name)
    every = client.search_runs([experiment.experiment_id])
    assert len(every) == TRIALS + 1  # the trials and the study's parent run, nothing else
    assert {r.info.status for r in every} == {"FINISHED"}  # none left RUNNING


@pytest.mark.integration
@pytest.mark.slow
def test_study_survives_a_restart_of_its_tracking_server(tmp_path: Path, restartable_mlflow_server, tiny_dataset: Path):
    server, name = restartable_mlflow_server, "tracking_restart"
    client = MlflowClient(server.uri)
    (tmp_path / f"{name}.yaml").write_text(four_trial_study(name, tiny_dataset))
    driver, log_path = launch(tmp_path, server, name)
    try:
        wait_for_first_finished(client, name, driver, log_path)
        server.stop()  # SIGTERM, then SIGKILL whatever is left of the server's process group
        time.sleep(SHORT_OUTAGE_S)
        assert driver.poll() is None, "the driver gave up while the server was away:\n" + log_path.read_text()[-3000:]
        server.start()
        code = driver.wait(timeout=600)
    finally:
        kill_driver(driver)
    assert code == 0, log_path.read_text()[-3000:]
    assert_recorded_exactly_once(client, name)


@pytest.mark.integration
@pytest.mark.slow
def test_study_waits_out_an_outage_longer_than_mlflows_own_retries(tmp_path: Path, restartable_mlflow_server,
                                                                    tiny_dataset: Path):
    server, name = restartable_mlflow_server, "tracking_long_outage"
    client = MlflowClient(server.uri)
    (tmp_path / f"{name}.yaml").write_text(four_trial_study(name, tiny_dataset))
    driver, log_path = launch(tmp_path, server, name, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    try:
        wait_for_first_finished(client, name, driver, log_path)
        server.stop()
        time.sleep(LONG_OUTAGE_S)
        assert driver.poll() is None, "the driver gave up while the server was away:\n" + log_path.read_text()[-3000:]
        server.start()
        code = driver.wait(timeout=600)
    finally:
        kill_driver(driver)
    log = log_path.read_text()
    assert code == 0, log[-3000:]
    assert "does not answer" in log and "answers again after" in log, log[-3000:]
    assert_recorded_exactly_once(client, name)
    assert not (tmp_path / "work" / "tracking_journal" / f"{name}.jsonl").exists()


@pytest.mark.integration
@pytest.mark.slow
def test_study_stops_after_its_outage_limit_and_resume_writes_what_it_kept(tmp_path: Path, restartable_mlflow_server,
                                                                           tiny_dataset: Path):
    server, name = restartable_mlflow_server, "tracking_gave_up"
    client = MlflowClient(server.uri)
    (tmp_path / f"{name}.yaml").write_text(four_trial_study(name, tiny_dataset) + "failures: {tracking_outage_s: 5}\n")
    quick = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    driver, log_path = launch(tmp_path, server, name, env=quick)
    try:
        wait_for_first_finished(client, name, driver, log_path)
        server.stop()
        code = driver.wait(timeout=300)
    finally:
        kill_driver(driver)
    log = log_path.read_text()
    journal = tmp_path / "work" / "tracking_journal" / f"{name}.jsonl"
    assert code == 69, log[-3000:]
    assert "did not answer for" in log and "failures.tracking_outage_s (5 s)" in log, log[-3000:]
    assert "resume" in log.splitlines()[-1], log[-3000:]
    assert journal.is_file(), log[-3000:]  # the trials' reports after the server went away

    server.start()
    resumed, resume_log = launch(tmp_path, server, name, verb="resume", env=quick)
    try:
        code = resumed.wait(timeout=600)
    finally:
        kill_driver(resumed)
    assert code == 0, resume_log.read_text()[-3000:]
    assert "record(s) kept in" in resume_log.read_text()
    assert not journal.exists()
    assert_recorded_exactly_once(client, name)
