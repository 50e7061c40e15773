"""What a trial reports to Tune, and how the driver's callbacks read it back.

A trial's metrics (its epoch's losses and validation values, the final test metrics with one value per class, its
cost so far) travel as one JSON string under ``METRICS_KEY``, not as top-level numbers. Tune keeps, for every
numeric key of a trial's results, six summary statistics and two windows of recent values, and re-serialises
them into its experiment state: about 0.7 KB a key and a trial, held for the whole study (40 keys over 10,000
trials: about 0.3 GB of the driver's memory and of each experiment-state save). A string is kept once, as the
last result. Only what Tune itself acts on is a top-level number (a tuning sample's objective and epochs, which
its searcher, ASHA and stopper read).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

METRICS_KEY = "sedstudy_metrics"  # JSON of the trial's metrics of this report
NODE_KEY = "ray_node_id"  # which cluster node ran the trial: a tag of its run
ENVIRONMENT_KEY = "sedstudy_environment"  # JSON of the machine and packages, with an attempt's first report

# Keys Ray adds to every result; every other top-level number a trial reports is a metric of ours.
RAY_RESULT_KEYS = {
    "step", "done", "training_iteration", "trial_id", "date", "timestamp", "time_this_iter_s", "time_total_s",
    "pid", "hostname", "node_ip", "time_since_restore", "iterations_since_restore", "checkpoint_dir_name",
    "should_checkpoint", "experiment_tag", "config", "episodes_total", "timesteps_total",
}


def tune_result(metrics: Mapping[str, float], *, step: int, node: str, environment: str | None = None,
                tune_metrics: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The dict for ``tune.report``: ``metrics`` packed, ``tune_metrics`` (what Tune acts on) as numbers."""
    result: dict[str, Any] = {METRICS_KEY: json.dumps({k: float(v) for k, v in metrics.items()}), "step": step,
                              NODE_KEY: node, **(tune_metrics or {})}
    if environment is not None:
        result[ENVIRONMENT_KEY] = environment
    return result


def metrics_of(result: Mapping[str, Any] | None) -> dict[str, float]:
    """Every metric of a Tune result: its packed metrics and its top-level numbers that Ray did not add."""
    if not result:
        return {}
    metrics = {k: float(v) for k, v in result.items()
               if k not in RAY_RESULT_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool)}
    packed = result.get(METRICS_KEY)
    if isinstance(packed, str):
        metrics.update(json.loads(packed))
    return metrics
