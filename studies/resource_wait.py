"""A Tune pass whose trials wait for resources with none running stops after ``resources.wait_limit_s`` and says
why: what a trial asks for and what the cluster has free.

studies/resources_check.py refuses a request no node can ever hold before any compute; this is the other case,
a request the cluster could hold but does not give now (another study, a Ray job or actor holds the CPUs or
GPUs), which would otherwise wait silently behind Ray's warning. The watch is a Tune callback that sees the trials'
states at every turn of Tune's loop, with a stopper that ends the experiment once it gives up; the launcher then
stops the study as an interrupt does (`sedstudy resume` continues it).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ray import tune
from ray.tune.experiment import Trial

from studies.interrupt import ResourcesWaitExceeded

CHECK_EVERY_S = 1.0  # Tune's loop turns many times a second and the check reads every trial's state


def cluster_free_and_total() -> tuple[dict[str, float], dict[str, float]]:
    """The resources the connected Ray cluster has free now, and its total."""
    import ray

    return ray.available_resources(), ray.cluster_resources()


class ResourceWait(tune.Callback):
    """Gives up when trials have been PENDING, none RUNNING, for longer than ``limit_s`` (None: never)."""

    def __init__(self, limit_s: float | None, cpu: float, gpu: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 cluster: Callable[[], tuple[Mapping[str, float], Mapping[str, float]]] = cluster_free_and_total
                 ) -> None:
        self.limit_s = limit_s
        self.cpu = cpu
        self.gpu = gpu
        self.clock = clock
        self.cluster = cluster  # () -> (free, total) resources
        self.waiting_since: float | None = None  # clock() when the trials started waiting with none running
        self.reason: str | None = None  # why it gave up
        self._checked_at: float | None = None

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        """At most once a second (``CHECK_EVERY_S``): a check per turn of Tune's loop made the driver's cost per
        trial grow with the study's trials (bench/scale.py, 10,000 trials)."""
        if self.limit_s is None or self.reason is not None:
            return
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < CHECK_EVERY_S:
            return
        self._checked_at = now
        pending = sum(1 for trial in trials if trial.status == Trial.PENDING)
        if not pending or any(trial.status == Trial.RUNNING for trial in trials):
            self.waiting_since = None
            return
        if self.waiting_since is None:
            self.waiting_since = now
        elif now - self.waiting_since > self.limit_s:
            free, total = self.cluster()
            self.reason = wait_reason(pending, now - self.waiting_since, self.cpu, self.gpu, free=free, total=total)

    @property
    def stopper(self) -> tune.Stopper:
        """What ends Tune's experiment once the watch gave up (RunConfig's ``stop``)."""
        return _StopWhenGivenUp(self)

    def raise_if_given_up(self) -> None:
        if self.reason is not None:
            raise ResourcesWaitExceeded(self.reason)


class _StopWhenGivenUp(tune.Stopper):
    def __init__(self, wait: ResourceWait) -> None:
        self.wait = wait

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.wait.reason is not None


class ReportedAtLeast(tune.Stopper):
    """Stops a trial once it reports ``metric`` >= ``value``: what RunConfig's ``stop={metric: value}`` does, as a
    stopper that can stand beside another."""

    def __init__(self, metric: str, value: float) -> None:
        self.metric = metric
        self.value = value

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return self.metric in result and result[self.metric] >= self.value

    def stop_all(self) -> bool:
        return False


def wait_reason(pending: int, waited_s: float, cpu: float, gpu: float, *, free: Mapping[str, float],
                total: Mapping[str, float]) -> str:
    """Why the study stops: the trials' request, and what the cluster has free of its total."""
    free_cpu, free_gpu = free.get("CPU", 0.0), free.get("GPU", 0.0)
    room = (" (the cluster's free resources are split over nodes none of which has that much, or the trials' "
            "workers are slow to start)") if free_cpu >= cpu and free_gpu >= gpu else \
        " (another study, a Ray job or an actor holds the rest)"
    return (f"{pending} trial(s) waited {waited_s:.0f} s for resources with none running, longer than "
            f"resources.wait_limit_s: each asks for {cpu:g} CPU and {gpu:g} GPU, but the cluster has {free_cpu:g} CPU "
            f"and {free_gpu:g} GPU free of {total.get('CPU', 0.0):g} CPU and {total.get('GPU', 0.0):g} GPU{room}. "
            f"Free them, lower resources.cpu / resources.gpu, or raise resources.wait_limit_s (null waits forever)")
