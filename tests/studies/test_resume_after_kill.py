"""SIGKILL the driver of a running study, then ``sedstudy resume``: one finished run per trial, none rerun."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from studies.tracking import default_tracking_uri

from .conftest import four_trial_study, kill_driver, sedstudy, study_runs

TRIALS = 4  # 2 at a time: the kill lands after the first finishes, with trials left to run




@pytest.mark.integration
@pytest.mark.slow
def test_resume_after_sigkill_finishes_every_trial_exactly_once(tmp_path: Path, tiny_dataset: Path):
    (tmp_path / "killed.yaml").write_text(four_trial_study("killed", tiny_dataset))
    log = (tmp_path / "driver.log").open("w")
    driver = subprocess.Popen(sedstudy("run", str(tmp_path / "killed.yaml"), "--workdir", str(tmp_path),
                                       "--no-report"), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            finished = [r for r in study_runs(tmp_path, "killed", "trial") if r.info.status == "FINISHED"]
            if finished or driver.poll() is not None:
                break
            time.sleep(1)
        assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
        assert 1 <= len(finished) < TRIALS, "the kill must land midway"
    finally:
        kill_driver(driver)  # the driver and the in-process Ray it started, nothing else
    before = {r.data.tags["sedstudy.trial_id"]: r for r in study_runs(tmp_path, "killed", "trial")}
    done_before = {t: r for t, r in before.items() if r.info.status == "FINISHED"}

    resumed = subprocess.run(sedstudy("resume", "killed", "--workdir", str(tmp_path), "--no-report"),
                             capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"{len(done_before)} already finished, {TRIALS - len(done_before)} to run" in resumed.stdout

    after = study_runs(tmp_path, "killed", "trial")
    assert len(after) == TRIALS and {r.info.status for r in after} == {"FINISHED"}
    by_trial = {r.data.tags["sedstudy.trial_id"]: r for r in after}
    assert len(by_trial) == TRIALS
    for trial_id, run in done_before.items():  # finished before the kill: the same run, untouched
        assert by_trial[trial_id].info.run_id == run.info.run_id
        assert by_trial[trial_id].info.end_time == run.info.end_time
    client = MlflowClient(default_tracking_uri(tmp_path))
    for run in after:  # every epoch logged once, none twice
        history = client.get_metric_history(run.info.run_id, "train/loss")
        assert sorted(m.step for m in history) == [0, 1, 2], [m.step for m in history]
    parent = client.search_runs([after[0].info.experiment_id], "tags.`sedstudy.kind` = 'study'")
    assert [p.info.status for p in parent] == ["FINISHED"]
    every = client.search_runs([after[0].info.experiment_id])  # trials, the parent, anything else
    assert len(every) == TRIALS + 1 and [r.info.run_id for r in every if r.info.status == "RUNNING"] == []
