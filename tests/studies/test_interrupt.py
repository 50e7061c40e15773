"""Ctrl+C on `sedstudy run` is honest: exit 130 with the resume command, no run left RUNNING, the parent run not
FINISHED, no report; `sedstudy resume` then finishes every trial exactly once."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from studies.tracking import default_tracking_uri

from .conftest import four_trial_study, kill_driver, sedstudy, study_runs

TRIALS = 4  # 2 at a time: the signal lands after the first finishes, with trials left to run




@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("stop", ["ctrl_c", "sigterm"])
def test_a_stopped_study_says_so_and_resumes_exactly(stop: str, tmp_path: Path, tiny_dataset: Path):
    (tmp_path / "interrupted.yaml").write_text(four_trial_study("interrupted", tiny_dataset))
    log = tmp_path / "driver.log"
    with log.open("w") as out:
        driver = subprocess.Popen(sedstudy("run", str(tmp_path / "interrupted.yaml"), "--workdir", str(tmp_path)),
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and driver.poll() is None:
            if any(r.info.status == "FINISHED" for r in study_runs(tmp_path, "interrupted", "trial")):
                break
            time.sleep(0.5)
        assert driver.poll() is None, log.read_text()[-3000:]
        if stop == "ctrl_c":
            os.killpg(driver.pid, signal.SIGINT)  # a terminal's Ctrl+C reaches the whole foreground group
        else:
            os.kill(driver.pid, signal.SIGTERM)  # a scheduler stops the driver
        code = driver.wait(timeout=180)
    finally:
        kill_driver(driver)
    text = log.read_text()
    assert code == 130, text[-3000:]
    assert "interrupted" in text and " resume " in text, text[-3000:]
    assert "ran 4 trials" not in text and not (tmp_path / "reports" / "interrupted").exists()
    [parent] = study_runs(tmp_path, "interrupted", "study")
    assert parent.info.status == "KILLED" and "sedstudy.interrupted" in parent.data.tags
    trials = study_runs(tmp_path, "interrupted", "trial")
    assert [r.info.status for r in trials if r.info.status in ("RUNNING", "SCHEDULED")] == []
    finished_before = {r.data.tags["sedstudy.trial_id"]: r.info.run_id for r in trials
                       if r.info.status == "FINISHED"}
    assert 1 <= len(finished_before) < TRIALS

    resumed = subprocess.run(sedstudy("resume", "interrupted", "--workdir", str(tmp_path), "--no-report"),
                             capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    after = study_runs(tmp_path, "interrupted", "trial")
    by_trial = {r.data.tags["sedstudy.trial_id"]: r for r in after}
    assert len(after) == len(by_trial) == TRIALS and {r.info.status for r in after} == {"FINISHED"}
    assert all(by_trial[t].info.run_id == run_id for t, run_id in finished_before.items())
    assert not any("sedstudy.interrupted" in r.data.tags for r in after)
    client = MlflowClient(default_tracking_uri(tmp_path))
    for run in after:  # every epoch logged once
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "train/loss")) == [0, 1, 2]
    [parent] = study_runs(tmp_path, "interrupted", "study")
    assert parent.info.status == "FINISHED" and "sedstudy.interrupted" not in parent.data.tags
