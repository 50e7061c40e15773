"""A tracking store that stops answering: writes wait for it up to failures.tracking_outage_s, then go to the study's
journal, which the next tracker writes first, exactly once (studies/tracking_outage.py)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sed_core.errors import ConfigError
from studies.definition import load_study
from studies.interrupt import EXIT_TRACKING_UNAVAILABLE, TrackingUnavailable
from studies.tracking import StudyTracker, default_tracking_uri, journal_path
from studies.tracking_outage import Journal, Outage, PatientClient, TrackingUnreachable, is_unreachable

from .conftest import free_port

STUDY = """
name: outage_study
experiment:
  preset: tiny
  data:
    root: data/tiny
design:
  factors:
    model.pooling: [attention, max]
seeds: [1]
failures: {tracking_outage_s: 60}
"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_server_that_does_not_answer_is_unreachable_and_a_refused_request_is_not() -> None:
    saved = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    try:
        with pytest.raises(MlflowException) as refused:
            MlflowClient(f"http://127.0.0.1:{free_port()}").search_experiments(max_results=1)
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
        else:
            os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = saved
    assert is_unreachable(refused.value)
    assert is_unreachable(ConnectionRefusedError())
    assert not is_unreachable(MlflowException("Run 'abc' not found", error_code="RESOURCE_DOES_NOT_EXIST"))
    assert not is_unreachable(ValueError("bad value"))


def test_calls_wait_for_the_store_then_give_up_past_the_limit_and_refuse_every_later_call() -> None:
    clock = FakeClock()
    outage = Outage("http://db", limit_s=30, clock=clock, sleep=clock.sleep, retry_every_s=5)
    answers = iter([ConnectionRefusedError(), ConnectionRefusedError(), "ok"])

    def flaky() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert outage.call("log_batch", flaky) == "ok" and clock.now == 10 and outage.since is None

    def down() -> None:
        raise ConnectionRefusedError()

    with pytest.raises(TrackingUnreachable, match="did not answer for 35 s, longer than failures.tracking_outage_s"):
        outage.call("log_batch", down)
    assert outage.gave_up
    with pytest.raises(TrackingUnreachable):
        outage.call("get_run", lambda: "answers again")  # given up: the study stops, nothing more is tried
    with pytest.raises(ValueError):  # a refused request is the caller's error, never waited on
        Outage("http://db", 30, clock=clock, sleep=clock.sleep).call("set_tag", lambda: int("x"))
    stopped = outage.stopped(None)
    assert isinstance(stopped, TrackingUnavailable) and stopped.exit_code == EXIT_TRACKING_UNAVAILABLE == 69


def test_an_unlimited_outage_is_waited_for() -> None:
    clock = FakeClock()
    outage = Outage("http://db", limit_s=None, clock=clock, sleep=clock.sleep, retry_every_s=5)
    calls = iter([ConnectionRefusedError()] * 1000 + ["ok"])

    def flaky() -> str:
        answer = next(calls)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert outage.call("log_batch", flaky) == "ok" and clock.now == 5000


def test_journal_keeps_entries_in_order_and_take_empties_it(tmp_path: Path) -> None:
    path = tmp_path / "outage_study.yaml"
    path.write_text(STUDY)
    study = load_study(path, workdir=tmp_path)
    first, second = study.trials
    journal = Journal(tmp_path / "j" / "study.jsonl")
    assert journal.take(study) == [] and len(journal) == 0
    journal.append("set_tag", first, ("key", "value"), {})
    journal.append("end_trial", second, (), {"failure": None})
    journal.append("log_artifact", first, (tmp_path / "best_model.pt", "checkpoints"), {})
    assert len(journal) == 3
    entries = journal.take(study)
    assert [(m, item, args) for m, item, args, _ in entries] == [
        ("set_tag", first, ["key", "value"]), ("end_trial", second, []),
        ("log_artifact", first, [str(tmp_path / "best_model.pt"), "checkpoints"])]
    assert not journal.path.exists()


def test_a_journal_another_study_cannot_rebuild_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "outage_study.yaml"
    path.write_text(STUDY)
    study = load_study(path, workdir=tmp_path)
    journal = Journal(tmp_path / "study.jsonl")
    journal.append("set_tag", study.trials[0], ("key", "value"), {})
    path.write_text(STUDY.replace("seeds: [1]", "seeds: [2]"))
    with pytest.raises(ConfigError, match=r"study.jsonl:1: .* cannot be read back"):
        journal.take(load_study(path, workdir=tmp_path))
    assert journal.path.exists()  # nothing is lost by refusing it


class Switchable:
    """An MlflowClient that raises ConnectionRefusedError while ``down``."""

    def __init__(self, client: MlflowClient) -> None:
        self.client = client
        self.down = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise ConnectionRefusedError(f"{name}: connection refused")
            return attribute(*args, **kwargs)

        return call


def outage_tracker(tmp_path: Path) -> tuple[StudyTracker, Switchable, FakeClock]:
    path = tmp_path / "outage_study.yaml"
    path.write_text(STUDY)
    study = load_study(path, workdir=tmp_path)
    tracker = StudyTracker(default_tracking_uri(tmp_path), study, artifact_root=tmp_path / "mlartifacts",
                           journal=journal_path(tmp_path, study.name))
    switch = Switchable(tracker.client._client)
    clock = FakeClock()
    tracker.outage.clock, tracker.outage.sleep = clock, clock.sleep
    tracker.client = PatientClient(switch, tracker.outage)
    return tracker, switch, clock


def test_writes_past_the_limit_are_journaled_and_the_next_tracker_makes_them_once(tmp_path: Path) -> None:
    tracker, switch, clock = outage_tracker(tmp_path)
    study = tracker.study
    first, second = study.trials
    tracker.start_trial(first)
    tracker.log_metrics(first, {"epoch": 0.0, "train/loss": 1.0}, 0)
    switch.down = True
    tracker.log_metrics(first, {"epoch": 1.0, "train/loss": 0.5}, 1)  # waits 60 s, then the journal keeps it
    assert tracker.outage.gave_up and clock.now > 60
    tracker.start_trial(second)  # given up: kept without trying
    tracker.log_metrics(second, {"epoch": 0.0, "train/loss": 0.9}, 0)
    tracker.log_metrics(first, {"psds1": 0.25}, 2)
    tracker.end_trial(first)
    journal = tracker.journal
    saved = journal.path.read_text()
    assert [json.loads(line)["method"] for line in saved.splitlines()] == [
        "log_metrics", "start_trial", "log_metrics", "log_metrics", "end_trial"]
    with pytest.raises(TrackingUnavailable, match=r"5 record\(s\) it did not take are kept in .*outage_study"):
        tracker.raise_if_unavailable()

    resumed = StudyTracker(tracker.tracking_uri, study, journal=journal.path)  # the server answers again
    assert resumed.replayed == 5 and not journal.path.exists()
    client = MlflowClient(tracker.tracking_uri)
    runs = {r.data.tags["sedstudy.trial_id"]: r for r in client.search_runs(
        [resumed.experiment_id], "tags.`sedstudy.kind` = 'trial'")}
    assert set(runs) == {first.trial_id, second.trial_id}  # one run each, the second created by the replay
    assert runs[first.trial_id].info.status == "FINISHED"
    assert runs[second.trial_id].data.params  # described in full, as a launch creates it
    losses = client.get_metric_history(runs[first.trial_id].info.run_id, "train/loss")
    assert sorted((m.step, m.value) for m in losses) == [(0, 1.0), (1, 0.5)]

    journal.path.write_text(saved)  # replayed once more (a journal written again after a partial replay)
    for method, item, args, kwargs in journal.take(study):
        getattr(resumed, method)(item, *args, **kwargs)
    assert len(client.get_metric_history(runs[first.trial_id].info.run_id, "train/loss")) == 2
    assert len(client.get_metric_history(runs[first.trial_id].info.run_id, "psds1")) == 1
    assert len(client.search_runs([resumed.experiment_id], "tags.`sedstudy.kind` = 'trial'")) == 2


def test_a_short_outage_loses_nothing_and_keeps_no_journal(tmp_path: Path) -> None:
    tracker, switch, clock = outage_tracker(tmp_path)
    first = tracker.study.trials[0]
    tracker.start_trial(first)
    switch.down = True
    tracker.outage.sleep = lambda seconds: (clock.sleep(seconds), setattr(switch, "down", clock.now < 30))
    tracker.log_metrics(first, {"epoch": 0.0, "train/loss": 1.0}, 0)
    tracker.end_trial(first)
    assert not tracker.outage.gave_up and not tracker.journal.path.exists()
    run = MlflowClient(tracker.tracking_uri).get_run(tracker._runs[first.key])
    assert run.info.status == "FINISHED" and run.data.metrics["train/loss"] == 1.0


def test_the_outage_limit_is_a_positive_number_of_seconds_or_null(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(STUDY.replace("tracking_outage_s: 60", "tracking_outage_s: null"))
    assert load_study(path, workdir=tmp_path).spec.failures.tracking_outage_s is None
    path.write_text(STUDY.replace("tracking_outage_s: 60", "tracking_outage_s: 0"))
    with pytest.raises(ConfigError, match="failures.tracking_outage_s"):
        load_study(path, workdir=tmp_path)
