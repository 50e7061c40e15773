"""Issue 21: trials that wait longer than `resources.wait_limit_s` for resources the cluster could give but does
not (another job holds them), none of them running, stop the study as an interrupt does, and the message says what
a trial asks for and what the cluster has free."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from reports.contract import INTERRUPTED_TAG
from studies.cli import main
from studies.heartbeat import THREAD_NAME
from studies.interrupt import EXIT_RESOURCES_WAIT, ResourcesWaitExceeded
from studies.quiet import TUNE_UNREPORTED_LOGGER, TUNE_UNREPORTED_NOTICE
from studies.resource_wait import ResourceWait, wait_reason

from .conftest import study_runs

STUDY = """
name: starved
experiment:
  preset: tiny
  data: {{root: {data}}}
  training: {{epochs: 1, steps_per_epoch: 1}}
design:
  factors:
    model.pooling: [attention, max]
seeds: [1]
resources: {{cpu: 1, wait_limit_s: 3}}
"""


def trials(*states: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(status=state) for state in states]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def watch(limit_s: float | None, clock: Clock) -> ResourceWait:
    return ResourceWait(limit_s, 2, 0.5, clock=clock,
                        cluster=lambda: ({"CPU": 1.0, "GPU": 0.0}, {"CPU": 4.0, "GPU": 1.0}))


def test_the_watch_gives_up_only_after_the_limit_with_every_trial_waiting_and_none_running():
    clock = Clock()
    wait = watch(10, clock)
    for now, states in ((0, ("PENDING", "RUNNING")), (100, ("PENDING", "RUNNING")),  # queued behind its own trials
                        (101, ("PENDING", "PENDING", "TERMINATED")), (110, ("PENDING", "PENDING", "TERMINATED")),
                        (111, ("PENDING", "RUNNING")),  # one got the resources: the wait starts again
                        (112, ("PENDING", "PENDING")), (122, ("PENDING", "PENDING"))):
        clock.now = now
        wait.on_step_begin(0, trials(*states))
        assert wait.reason is None and not wait.stopper.stop_all()
    wait.raise_if_given_up()
    clock.now = 122.5  # within a second of the last check: not looked at again yet
    wait.on_step_begin(0, trials("PENDING", "PENDING"))
    assert wait.reason is None
    clock.now = 123
    wait.on_step_begin(0, trials("PENDING", "PENDING"))
    assert wait.reason is not None and wait.stopper.stop_all()
    assert wait.reason.startswith("2 trial(s) waited 11 s for resources with none running, longer than "
                                  "resources.wait_limit_s: each asks for 2 CPU and 0.5 GPU, but the cluster has 1 CPU "
                                  "and 0 GPU free of 4 CPU and 1 GPU (another study, a Ray job or an actor holds")
    with pytest.raises(ResourcesWaitExceeded, match="each asks for 2 CPU"):
        wait.raise_if_given_up()


def test_without_a_limit_the_watch_waits_forever_and_nothing_to_wait_for_is_no_wait():
    clock = Clock()
    forever, idle = watch(None, clock), watch(1, clock)
    for now in (0, 10_000, 20_000):
        clock.now = now
        forever.on_step_begin(0, trials("PENDING"))
        idle.on_step_begin(0, trials("TERMINATED", "ERROR"))
    assert forever.reason is None and idle.reason is None


def test_free_resources_that_fit_yet_give_nothing_are_explained():
    reason = wait_reason(1, 700, 1, 0, free={"CPU": 3.0}, total={"CPU": 4.0})
    assert "has 3 CPU and 0 GPU free of 4 CPU and 0 GPU (the cluster's free resources are split over nodes" in reason


@pytest.fixture()
def ray_with_its_cpu_held():
    """A Ray of this test's own with 1 CPU, held by an actor (the session's shared in-process Ray is started again
    by the fixtures that use it); yields the actor."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=1, num_gpus=0, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        @ray.remote(num_cpus=1)
        class Holder:
            def ready(self) -> bool:
                return True

        holder = Holder.remote()
        ray.get(holder.ready.remote(), timeout=120)
        yield holder
    finally:
        ray.shutdown()


@pytest.mark.integration
@pytest.mark.slow
def test_trials_that_wait_too_long_for_a_held_cpu_stop_the_study_and_say_why(tmp_path: Path, tiny_dataset: Path,
                                                                            ray_with_its_cpu_held,
                                                                            capsys: pytest.CaptureFixture[str],
                                                                            caplog: pytest.LogCaptureFixture):
    import ray

    path = tmp_path / "starved.yaml"
    path.write_text(STUDY.format(data=tiny_dataset))
    started = time.monotonic()
    tune_logger = logging.getLogger(TUNE_UNREPORTED_LOGGER)  # Ray's loggers do not propagate to caplog's
    tune_logger.addHandler(caplog.handler)
    try:
        code = main(["run", str(path), "--workdir", str(tmp_path), "--no-report"])
    finally:
        tune_logger.removeHandler(caplog.handler)
    err = capsys.readouterr().err
    assert code == EXIT_RESOURCES_WAIT, err[-3000:]
    assert time.monotonic() - started < 120, "the study should stop soon after its 3 s wait limit"
    assert "study starved: stopped: 2 trial(s) waited " in err
    assert ("each asks for 1 CPU and 0 GPU, but the cluster has 0 CPU and 0 GPU free of 1 CPU and 0 GPU (another "
            "study, a Ray job or an actor holds the rest)") in err
    assert "raise resources.wait_limit_s (null waits forever)" in err and " resume " in err
    assert not [r for r in caplog.records if r.getMessage().startswith(TUNE_UNREPORTED_NOTICE)]  # no noise
    [parent] = study_runs(tmp_path, "starved", "study")
    assert parent.info.status == "KILLED" and "resources.wait_limit_s" in parent.data.tags[INTERRUPTED_TAG]
    assert [r.info.status for r in study_runs(tmp_path, "starved", "trial")
            if r.info.status in ("RUNNING", "SCHEDULED")] == []
    assert THREAD_NAME not in {t.name for t in threading.enumerate()}  # the heartbeat stopped with the study

    ray.kill(ray_with_its_cpu_held)  # Tune left nothing waiting for the CPU: it comes back whole
    deadline = time.monotonic() + 60
    while ray.available_resources().get("CPU", 0.0) < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0.0) == 1
