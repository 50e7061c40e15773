"""A study of many simulated trials (bench/simulated_fit.py through bench/scale.py's driver) whose driver is
SIGKILLed midway resumes with exactly one FINISHED run per trial, every epoch and the final metrics recorded once.

$SEDSTUDY_TEST_SCALE_TRIALS sets the trials (100 by default; 1000 is the scale benchmark's record).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import kill_driver, study_runs

REPO = Path(__file__).resolve().parents[2]
TRIALS = int(os.environ.get("SEDSTUDY_TEST_SCALE_TRIALS", "100"))
EPOCHS = 2


def driver(tmp_path: Path, data: Path, log: Path) -> subprocess.Popen:
    command = [sys.executable, str(REPO / "bench" / "scale.py"), "--arm", "sedstudy", "--trials", str(TRIALS),
               "--concurrency", "2", "--epochs", str(EPOCHS), "--epoch-s", "0.1", "--out", str(tmp_path),
               "--data", str(data), "--no-latency"]
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.slow
def test_a_killed_driver_of_a_large_simulated_study_resumes_exactly(tmp_path: Path, tiny_dataset: Path) -> None:
    workdir, study = tmp_path / "work_c2", f"scale_c2_n{TRIALS}"
    first = driver(tmp_path, tiny_dataset, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 1800
        finished = 0
        while time.monotonic() < deadline and first.poll() is None:
            if (workdir / "mlflow.db").exists():
                finished = sum(r.info.status == "FINISHED" for r in study_runs(workdir, study, "trial"))
                if finished >= TRIALS // 3:
                    break
            time.sleep(2)
        assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
    finally:
        kill_driver(first)
    assert TRIALS // 3 <= finished < TRIALS

    second = driver(tmp_path, tiny_dataset, tmp_path / "second.log")
    try:
        code = second.wait(timeout=3600)
    finally:
        kill_driver(second)
    log = (tmp_path / "second.log").read_text()
    assert code == 0, log[-3000:]
    result = json.loads([line for line in log.splitlines() if line.startswith("RESULT ")][-1][len("RESULT "):])
    assert result["failed"] == 0

    from mlflow.tracking import MlflowClient

    from studies.tracking import default_tracking_uri

    runs = study_runs(workdir, study, "trial")
    assert len(runs) == TRIALS and len({r.data.tags["sedstudy.trial_id"] for r in runs}) == TRIALS
    assert {r.info.status for r in runs} == {"FINISHED"}
    client = MlflowClient(default_tracking_uri(workdir))
    for run in runs:  # every epoch once, the final metrics once
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "epoch")) == list(range(EPOCHS))
        assert len(client.get_metric_history(run.info.run_id, "psds1")) == 1
    assert {r.info.status for r in study_runs(workdir, study, "study")} == {"FINISHED"}
