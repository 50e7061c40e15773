"""The Ray Tune trial function: the composition root of one trial (config -> sed_core.training.fit)."""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ray
from ray import tune

from reports.contract import TUNE_EPOCHS_METRIC, TUNE_OBJECTIVE_METRIC
from studies.cost import TrialCost
from studies.provenance import environment
from studies.step_progress import StepProgressWriter
from studies.trial_payload import SeedTrialPayload, TuningSamplePayload, payload_of
from studies.trial_result import tune_result


class RayReporter:
    """Reporter protocol over ``tune.report``; every report carries the trial's cost so far (``cost/*``).

    Checkpoints are not handed to Tune: the trainer's ``last/`` stays in the trial's folder (under ``--storage``,
    which every node sees), and a trial that Tune retries, or a resumed study runs again, continues from it. Tune
    would copy each one into its storage and, keeping one per trial, save its whole experiment state at every
    checkpoint: a cost that grows with the study (bench/scale.py: 0.21 s of driver CPU a trial at 195 trials,
    0.70 s at 1,000)."""

    def __init__(self, cost: TrialCost | None = None, progress_dir: Path | None = None) -> None:
        self._steps = StepProgressWriter(progress_dir) if progress_dir is not None else None
        self._node = ray.get_runtime_context().get_node_id()
        self._cost = cost
        self._environment: str | None = json.dumps(environment())

    def checkpoint(self, path: Path) -> None:
        """The trainer wrote ``path`` (the trial folder's ``last/``): nothing to hand over."""

    def step_done(self, epoch: int, step: int, steps: int) -> None:
        """Steps within an epoch go to a file the driver's display reads (studies.step_progress), not to Tune."""
        if self._steps is not None:
            self._steps.step_done(epoch, step, steps)

    def report(self, metrics: Mapping[str, float], step: int) -> None:
        cost = self._cost.metrics() if self._cost is not None else {}
        tune.report(tune_result({**metrics, **cost}, step=step, node=self._node, environment=self._environment,
                                tune_metrics=self.tune_metrics(metrics)))
        self._environment = None

    def tune_metrics(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """The numbers Tune itself acts on (studies.trial_result): none for a seed trial."""
        return {}


class ObjectiveReporter(RayReporter):
    """Adds ``TUNE_OBJECTIVE_METRIC`` = the best value of ``metric`` reported so far to every report of a tuning sample.

    Tune refuses a result without the metric its searcher and scheduler use, and a sample's worth is its best
    epoch (the one the trainer would keep), so ASHA and TPE compare best-so-far validation values.
    """

    def __init__(self, metric: str, cost: TrialCost | None = None, progress_dir: Path | None = None) -> None:
        super().__init__(cost, progress_dir)
        self.metric = metric
        self.best = float("-inf")
        self.epochs = 0  # epochs trained: ASHA's and the stopper's time (a replayed history does not count twice)

    def tune_metrics(self, metrics: Mapping[str, float]) -> dict[str, float]:
        if self.metric in metrics:
            self.best = max(self.best, float(metrics[self.metric]))
        if "epoch" in metrics:
            self.epochs = int(metrics["epoch"]) + 1
        return {TUNE_OBJECTIVE_METRIC: self.best, TUNE_EPOCHS_METRIC: self.epochs}


def run_trial(params: dict[str, Any], fit: Callable[..., Any] | None = None) -> None:
    """One trial of a study, or one tuning sample (the searcher's values beside its payload), from the payload of
    ``studies.trial_payload``. ``fit``: the trainer, ``sed_core.training.trainer.fit``; the scale benchmark gives a
    simulated one (bench/simulated_fit.py) through ``run_study``'s keyword, which no config or command reaches."""
    if fit is None:  # loaded before the environment is recorded (it names the GPUs torch sees)
        from sed_core.training.trainer import fit
    payload = payload_of(params)
    if isinstance(payload, TuningSamplePayload):
        config = payload.config(params)
        output_dir = payload.output_dir(tune.get_context().get_trial_id())
    else:
        assert isinstance(payload, SeedTrialPayload), payload
        config = payload.config()
        output_dir = payload.output_dir
    gpus = float(ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0))
    cost = TrialCost(output_dir, gpus=gpus)
    reporter = (ObjectiveReporter(payload.metric, cost) if isinstance(payload, TuningSamplePayload)
                else RayReporter(cost, output_dir))
    config = config.model_copy(update={"output_dir": output_dir})
    try:
        fit(config, reporter, resume=True, embedding_cache_dir=payload.embedding_cache_dir)
    finally:
        cost.stop()
