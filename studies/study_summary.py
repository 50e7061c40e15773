"""The study at a glance on its parent run: the objective's mean per cell, the best cell, trials per state.

MLflow's runs table shows a run's latest metrics as columns, so these land beside the parent run without opening
anything. Metric names allow only letters, digits and ``_-. /:``, so a cell id (``a.b=x|c.d=y``) is written as
``a.b:x c.d:y``.
"""
from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_MAX_KEY = 250  # MLflow's limit on a metric name
_UNSAFE = re.compile(r"[^\w.\- :]")


def cell_metric_key(prefix: str, cell_id: str) -> str:
    """`<prefix>/<cell as a metric name>`; a name past MLflow's length limit is cut and given a short hash."""
    label = _UNSAFE.sub("_", cell_id.replace("=", ":").replace("|", " "))
    key = f"{prefix}/{label}"
    if len(key) <= _MAX_KEY:
        return key
    digest = hashlib.sha256(cell_id.encode()).hexdigest()[:8]
    return f"{key[:_MAX_KEY - 10]}..{digest}"


_RUN_STATES = {"FINISHED": "finished", "RUNNING": "running", "SCHEDULED": "running"}


def run_state(status: str) -> str:
    """A trial run's MLflow status as the study counts it: finished, running, or failed (FAILED, KILLED)."""
    return _RUN_STATES.get(status, "failed")


@dataclass(frozen=True)
class StudySummary:
    metrics: dict[str, float]
    best_cell: str | None


def study_summary(objective: str, mode: str, values: Mapping[str, Iterable[float]],
                  states: Mapping[str, int]) -> StudySummary:
    """Summary metrics of a study: `<objective>_mean/<cell>` and `<objective>_seeds/<cell>` per cell with finished
    trials, `best/<objective>_mean` (the best cell by its mean, `mode` "max" or "min"), `trials/<state>` counts.

    values: cell id -> the objective of each finished trial of the cell; states: state -> number of trials."""
    metrics: dict[str, float] = {f"trials/{state}": float(n) for state, n in states.items()}
    means: dict[str, float] = {}
    for cell, cell_values in values.items():
        finite = [v for v in cell_values if math.isfinite(v)]
        if finite:
            means[cell] = math.fsum(finite) / len(finite)
            metrics[cell_metric_key(f"{objective}_mean", cell)] = means[cell]
            metrics[cell_metric_key(f"{objective}_seeds", cell)] = float(len(finite))
    if not means:
        return StudySummary(metrics, None)
    pick = max if mode == "max" else min
    best = pick(sorted(means), key=lambda cell: means[cell])
    metrics[f"best/{objective}_mean"] = means[best]
    return StudySummary(metrics, best)
