"""Issue 21: `sedstudy status` tells a study whose driver is gone (SIGKILL: the parent run stays RUNNING) from one
that runs, by the heartbeat the driver's thread writes to the parent run; and the launcher's thread beats while
the study runs and stops when it ends or is interrupted."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from reports.contract import HEARTBEAT_EVERY_TAG, HEARTBEAT_TAG
from sed_core.errors import ConfigError
from studies import launcher
from studies.definition import Study, load_study
from studies.heartbeat import HEARTBEAT_ENV, THREAD_NAME, Heartbeat, beat_text, heartbeat_every_s, last_beat
from studies.interrupt import StudyInterrupted
from studies.status import format_status, study_status
from studies.tracking import StudyTracker, default_tracking_uri

STUDY = """
name: {name}
experiment:
  preset: tiny
  data:
    root: {data}
  training: {{epochs: 1, steps_per_epoch: 1}}
design:
  factors:
    model.pooling: [attention, max]
seeds: [1, 2]
"""


def tracked_study(tmp_path: Path, name: str, data: str = "data/tiny") -> tuple[Study, StudyTracker]:
    """A study of 4 trials and its tracker on the SQLite store of `tmp_path`, launched from there."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(STUDY.format(name=name, data=data))
    study = load_study(path, workdir=tmp_path)
    launch = {"workdir": str(tmp_path), "storage": "", "address": ""}
    return study, StudyTracker(default_tracking_uri(tmp_path), study, artifact_root=tmp_path / "mlartifacts",
                               launch=launch)


def half_run(study: Study, tracker: StudyTracker) -> None:
    """One trial finished, one running, two not started: the state a SIGKILLed driver leaves."""
    finished, running = study.trials[:2]
    tracker.start_trial(finished)
    tracker.log_metrics(finished, {"psds1": 0.3}, step=0)
    tracker.end_trial(finished)
    tracker.start_trial(running)


def first_line(tracking_uri: str, study: str) -> str:
    return format_status(study_status(tracking_uri, study)).splitlines()[0]


def test_a_running_study_whose_heartbeat_stopped_says_its_driver_is_gone(tmp_path: Path):
    stale_study, stale = tracked_study(tmp_path, "stale")
    alive_study, alive = tracked_study(tmp_path, "alive")
    for study, tracker in ((stale_study, stale), (alive_study, alive)):
        half_run(study, tracker)
        tracker.beat(30.0)
    client, uri = MlflowClient(stale.tracking_uri), stale.tracking_uri
    ten_minutes_ago = time.time() - 600
    client.set_tag(stale.parent_run_id, HEARTBEAT_TAG, beat_text(ten_minutes_ago))

    gone = study_status(uri, "stale")
    assert gone.parent_status == "RUNNING" and gone.time_left_s is None
    assert gone.driver_gone_since == pytest.approx(ten_minutes_ago, abs=1)
    line = first_line(uri, "stale")
    assert line.startswith("study stale (running): 1 finished, 1 running, 0 failed, 2 not started; driver gone: "
                           f"no heartbeat since {time.strftime('%Y-%m-%d %H:%M', time.gmtime(ten_minutes_ago))}")
    assert line.endswith(" UTC (the process that ran it stopped without ending it); "
                         f"`sedstudy resume stale --workdir {tmp_path}` continues it")
    assert "left at the current pace" not in line

    running = study_status(uri, "alive")
    assert running.driver_gone_since is None and running.time_left_s is not None
    assert "left at the current pace" in first_line(uri, "alive") and "driver gone" not in first_line(uri, "alive")


def test_the_interval_the_driver_recorded_decides_and_a_store_older_than_the_heartbeat_keeps_the_time_left(
        tmp_path: Path):
    study, tracker = tracked_study(tmp_path, "slow_beats")
    half_run(study, tracker)
    client, uri = MlflowClient(tracker.tracking_uri), tracker.tracking_uri
    client.set_tag(tracker.parent_run_id, HEARTBEAT_TAG, beat_text(time.time() - 600))
    client.set_tag(tracker.parent_run_id, HEARTBEAT_EVERY_TAG, "3600")  # beats hourly: ten minutes is nothing
    assert "left at the current pace" in first_line(uri, "slow_beats")

    client.delete_tag(tracker.parent_run_id, HEARTBEAT_TAG)
    client.delete_tag(tracker.parent_run_id, HEARTBEAT_EVERY_TAG)
    assert study_status(uri, "slow_beats").driver_gone_since is None
    assert "left at the current pace" in first_line(uri, "slow_beats")

    client.set_tag(tracker.parent_run_id, HEARTBEAT_TAG, beat_text(time.time() - 600))
    tracker.end_study()  # an ended study's last beat is just history
    assert first_line(uri, "slow_beats").startswith("study slow_beats (finished): ")
    assert "driver gone" not in first_line(uri, "slow_beats")


def test_the_heartbeat_thread_beats_until_stopped_and_survives_a_failed_beat(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch):
    _, tracker = tracked_study(tmp_path, "beating")
    monkeypatch.setenv(HEARTBEAT_ENV, "0.05")
    beats: list[float] = []

    def beat(every_s: float) -> None:
        beats.append(every_s)
        if len(beats) == 2:
            raise ConnectionError("the tracking server is down (planted)")
        tracker.beat(every_s)

    heartbeat = Heartbeat(beat)
    heartbeat.start()
    try:
        assert beats == [0.05]  # the first beat is written before start() returns
        tags = MlflowClient(tracker.tracking_uri).get_run(tracker.parent_run_id).data.tags
        assert tags[HEARTBEAT_EVERY_TAG] == "0.05" and abs(time.time() - last_beat(tags)) < 5
        deadline = time.monotonic() + 30
        while len(beats) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(beats) >= 4 and heartbeat.alive
    finally:
        heartbeat.stop()
    assert not heartbeat.alive and THREAD_NAME not in {t.name for t in threading.enumerate()}
    after_stop = len(beats)
    time.sleep(0.3)
    assert len(beats) == after_stop


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan"])
def test_a_wrong_interval_is_refused_with_what_was_expected(value: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(HEARTBEAT_ENV, value)
    with pytest.raises(ConfigError, match=f"{HEARTBEAT_ENV} must be a number of seconds above 0, but got"):
        heartbeat_every_s()


@pytest.mark.parametrize("ending", ["finishes", "is interrupted"])
def test_the_launcher_beats_while_the_study_runs_and_stops_when_it_ends(ending: str, tmp_path: Path,
                                                                       tiny_dataset: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    """run_study with Tune's pass replaced (no Ray): the pass sees the beats land, then ends every trial or
    stops as Ctrl+C does."""
    monkeypatch.setenv(HEARTBEAT_ENV, "0.05")
    monkeypatch.setattr(launcher, "_start_ray", lambda address, study=None: False)
    path = tmp_path / "launched.yaml"
    path.write_text(STUDY.format(name="launched", data=tiny_dataset))
    seen: dict[str, object] = {}

    def tune_pass(study, trials, tracker, *args, **kwargs) -> dict[str, str]:
        client = MlflowClient(tracker.tracking_uri)
        first = client.get_run(tracker.parent_run_id).data.tags.get(HEARTBEAT_TAG)
        deadline = time.monotonic() + 30
        while client.get_run(tracker.parent_run_id).data.tags.get(HEARTBEAT_TAG) == first \
                and time.monotonic() < deadline:  # the tag holds whole seconds
            time.sleep(0.1)
        seen.update(first=first, later=client.get_run(tracker.parent_run_id).data.tags.get(HEARTBEAT_TAG),
                    threads={t.name for t in threading.enumerate()})
        if ending == "is interrupted":
            raise KeyboardInterrupt
        for trial in trials:
            tracker.start_trial(trial)
            tracker.end_trial(trial)
        return {}

    monkeypatch.setattr(launcher, "tune_pass", tune_pass)
    if ending == "finishes":
        outcome = launcher.run_study(path, workdir=tmp_path)
        assert outcome.ran == 4
    else:
        with pytest.raises(StudyInterrupted):
            launcher.run_study(path, workdir=tmp_path)
    assert seen["first"] is not None and seen["later"] is not None and seen["later"] != seen["first"]
    assert THREAD_NAME in seen["threads"]
    assert THREAD_NAME not in {t.name for t in threading.enumerate()}
