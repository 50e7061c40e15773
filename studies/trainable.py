"""The Ray Tune trial function: the composition root of one trial (config -> sed_core.training.fit)."""
from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ray
from ray import tune

from sed_core.config.schema import ExperimentConfig
from sed_core.training.trainer import LAST_DIR, fit
from studies.cost import TrialCost


NODE_KEY = "ray_node_id"  # which cluster node ran the trial: a tag of its run


class RayReporter:
    """Reporter protocol over ``tune.report``: a checkpoint travels with the report that follows it; every report
    carries the trial's cost so far (``cost/*``)."""

    def __init__(self, cost: TrialCost | None = None) -> None:
        self._pending: Path | None = None
        self._node = ray.get_runtime_context().get_node_id()
        self._cost = cost

    def checkpoint(self, path: Path) -> None:
        self._pending = Path(path)

    def report(self, metrics: Mapping[str, float], step: int) -> None:
        checkpoint = tune.Checkpoint.from_directory(str(self._pending)) if self._pending else None
        self._pending = None
        cost = self._cost.metrics() if self._cost is not None else {}
        tune.report({**metrics, **cost, "step": step, NODE_KEY: self._node}, checkpoint=checkpoint)


def run_trial(params: dict[str, Any]) -> None:
    spec = params["trial"]
    config = ExperimentConfig.model_validate(spec["config"])
    output_dir = Path(spec["output_dir"])
    config = config.model_copy(update={"output_dir": output_dir})
    last = output_dir / LAST_DIR
    restored = tune.get_checkpoint()
    if restored is not None and not last.exists():
        with restored.as_directory() as directory:
            shutil.copytree(directory, last)
    cache = spec.get("embedding_cache_dir")
    gpus = float(ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0))
    cost = TrialCost(output_dir, gpus=gpus)
    try:
        fit(config, RayReporter(cost), resume=True, embedding_cache_dir=Path(cache) if cache else None)
    finally:
        cost.stop()
