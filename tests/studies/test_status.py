"""`sedstudy status` of a running study: counts, best per cell, and the time left at the finished trials' pace."""
from __future__ import annotations

import json
from pathlib import Path

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from reports.contract import (
    CELL_TAG,
    KIND_TAG,
    PARENT_TAG,
    PLANNED_TRIALS_ARTIFACT,
    SEED_TAG,
    STUDY_TAG,
)
from studies.status import format_status, study_status


def test_running_study_status_with_time_left(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("busy", artifact_location=(tmp_path / "art").as_uri())
    parent = client.create_run(experiment, tags={KIND_TAG: "study", STUDY_TAG: "busy"}).info.run_id
    planned = [{"cell": cell, "seed": seed} for cell in ("a=1", "a=2") for seed in (1, 2)]
    client.log_dict(parent, planned, PLANNED_TRIALS_ARTIFACT)
    client.set_tag(parent, "sedstudy.objective", json.dumps({"metric": "psds1", "mode": "max"}))
    for cell, seed, seconds, value in (("a=1", 1, 10, 0.30), ("a=1", 2, 20, 0.40)):
        tags = {PARENT_TAG: parent, KIND_TAG: "trial", CELL_TAG: cell, SEED_TAG: str(seed)}
        run = client.create_run(experiment, start_time=1_000_000, tags=tags).info.run_id
        client.log_batch(run, metrics=[Metric("psds1", value, 0, 0)])
        client.set_terminated(run, "FINISHED", end_time=1_000_000 + seconds * 1000)
    client.create_run(experiment, tags={PARENT_TAG: parent, KIND_TAG: "trial", CELL_TAG: "a=2", SEED_TAG: "1"})
    status = study_status(uri, "busy")
    assert status.totals == {"finished": 2, "running": 1, "failed": 0, "not started": 1}
    assert status.time_left_s == 15 * (1 + 0.5)  # mean 15 s per trial, one not started and one half done
    assert [c.best for c in status.cells] == [0.40, None]
    text = format_status(status)
    assert "~0:00:22 left at the current pace" in text.splitlines()[0]
    assert text.splitlines()[-2].split() == ["2", "0", "0", "0", "0.4000", "a=1"]
