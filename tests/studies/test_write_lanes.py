"""Trial writes off Tune's loop (studies/write_lanes.py): a run's writes in order on its lane, flush waits for
all, a failed write raised in the caller's thread; the tracker queues its trial writes there and makes them once."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from studies.definition import load_study
from studies.tracking import StudyTracker, default_tracking_uri
from studies.write_lanes import WriteLanes


def test_each_keys_writes_keep_their_order_and_flush_waits_for_all() -> None:
    lanes = WriteLanes(3)
    seen: dict[str, list[int]] = {}
    lock = threading.Lock()

    def write(key: str, index: int) -> None:
        time.sleep(0.001 * (index % 3))
        with lock:
            seen.setdefault(key, []).append(index)

    for index in range(60):
        for key in ("a", "b", "c", "d"):
            lanes.submit(key, lambda key=key, index=index: write(key, index))
    lanes.flush()
    assert lanes.pending == 0
    assert seen == {key: list(range(60)) for key in "abcd"}
    lanes.close()


def test_a_full_queue_makes_the_caller_wait_for_room_instead_of_growing() -> None:
    lanes = WriteLanes(1, max_pending=2)
    gate = threading.Event()
    made: list[int] = []
    lanes.submit("a", gate.wait)  # the lane is busy until the gate opens
    lanes.submit("a", lambda: made.append(1))
    third = threading.Thread(target=lanes.submit, args=("a", lambda: made.append(2)))
    third.start()
    third.join(0.3)
    assert third.is_alive() and lanes.pending == 2  # waits for room: nothing beyond max_pending is queued
    gate.set()
    third.join(5)
    assert not third.is_alive()
    lanes.flush()
    assert made == [1, 2] and lanes.pending == 0
    assert WriteLanes(4).max_pending == 256
    with pytest.raises(ValueError, match="max_pending must be at least 1, got 0"):
        WriteLanes(1, max_pending=0)
    lanes.close()


def test_a_failed_write_is_raised_in_the_callers_thread_and_later_writes_still_run() -> None:
    lanes = WriteLanes(1)
    done: list[str] = []

    def fail() -> None:
        raise ValueError("the store refused it")

    lanes.submit("a", fail)
    with pytest.raises(ValueError, match="refused"):
        lanes.flush()
    with pytest.raises(ValueError, match="refused"):
        lanes.submit("b", lambda: done.append("b"))
    lanes.close()
    assert len(lanes.failed) == 1


def test_on_lane_is_true_only_in_the_lanes_threads() -> None:
    lanes = WriteLanes(2)
    inside: list[bool] = []
    lanes.submit("k", lambda: inside.append(lanes.on_lane))
    lanes.flush()
    assert inside == [True] and not lanes.on_lane
    lanes.close()


STUDY = """
name: lanes_study
experiment:
  preset: tiny
  data:
    root: data/tiny
design:
  factors:
    model.pooling: [attention, max]
seeds: [1, 2]
"""


def test_the_tracker_queues_trial_writes_and_makes_them_in_order(tmp_path: Path) -> None:
    (tmp_path / "lanes_study.yaml").write_text(STUDY)
    study = load_study(tmp_path / "lanes_study.yaml", workdir=tmp_path)
    tracker = StudyTracker(default_tracking_uri(tmp_path), study, artifact_root=tmp_path / "mlartifacts")
    tracker.start_background_writes(1)
    for trial in study.trials:
        assert tracker.start_trial(trial) is None  # queued
        for epoch in range(3):
            tracker.log_metrics(trial, {"epoch": float(epoch), "train/loss": 1.0 / (epoch + 1)}, epoch)
        tracker.log_metrics(trial, {"psds1": 0.5}, 2)
        tracker.end_trial(trial)
    tracker.flush()
    assert all(tracker.ended(t) for t in study.trials)
    tracker.stop_background_writes()
    tracker.raise_failed_writes()
    client = MlflowClient(tracker.tracking_uri)
    runs = client.search_runs([tracker.experiment_id], "tags.`sedstudy.kind` = 'trial'")
    assert len(runs) == 4 and {r.info.status for r in runs} == {"FINISHED"}
    for run in runs:
        assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")] == [0, 1, 2]
    first = next(r for r in runs if r.data.tags["sedstudy.trial_id"] == study.trials[0].trial_id)
    tracker.log_metrics(study.trials[0], {"epoch": 3.0, "train/loss": 0.1}, 3)  # lanes stopped: written at once
    assert len(client.get_metric_history(first.info.run_id, "train/loss")) == 4


def test_a_trials_first_report_carries_its_node_and_environment_in_its_metrics_request(tmp_path: Path,
                                                                                        monkeypatch) -> None:
    (tmp_path / "lanes_study.yaml").write_text(STUDY)
    study = load_study(tmp_path / "lanes_study.yaml", workdir=tmp_path)
    tracker = StudyTracker(default_tracking_uri(tmp_path), study, artifact_root=tmp_path / "mlartifacts")
    trial = study.trials[0]
    run_id = tracker.start_trial(trial)
    batches: list[dict] = []
    log_batch = MlflowClient.log_batch

    def counted(client, run, *args, **kwargs):
        batches.append(kwargs)
        return log_batch(client, run, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", counted)
    environment = {"python": "3.11.7", "packages": {"torch": "2.14.1"}}
    tracker.log_result(trial, {"epoch": 0.0, "train/loss": 1.0}, 0, node="10.0.0.2", environment=environment)
    tracker.log_result(trial, {"epoch": 0.0, "train/loss": 1.0}, 0, node="10.0.0.3")  # a retry replays epoch 0
    tracker.log_result(trial, {"epoch": 1.0, "train/loss": 0.5}, 1)
    assert [(len(b["metrics"]), [t.key for t in b["tags"]]) for b in batches] == [
        (2, ["sedstudy.ray_node", "sedstudy.environment"]), (0, ["sedstudy.ray_node"]), (2, [])]
    run = MlflowClient(tracker.tracking_uri).get_run(run_id)
    assert run.data.tags["sedstudy.ray_node"] == "10.0.0.3" and "torch" in run.data.tags["sedstudy.environment"]
    assert [m.step for m in MlflowClient(tracker.tracking_uri).get_metric_history(run_id, "train/loss")] == [0, 1]
    stored = MlflowClient(tracker.tracking_uri).download_artifacts(run_id, "environment.json", str(tmp_path))
    assert json.loads(Path(stored).read_text()) == environment
