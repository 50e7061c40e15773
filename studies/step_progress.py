"""Progress within an epoch, from a trial's worker to the driver's display: a small JSON file in the trial's
output folder (``progress.json``), rewritten atomically at most every ``interval_s`` seconds.

Tune results are per epoch (ASHA, the tuning stopper and MLflow count them), so steps travel beside them; where
the driver cannot see the trial's folder (a cluster without shared storage) the display just shows no steps.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROGRESS_FILE = "progress.json"


@dataclass(frozen=True)
class StepProgress:
    epoch: int  # 0-based
    step: int  # steps done in the epoch (1-based count)
    steps: int  # steps per epoch
    step_s: float | None  # measured seconds per training step (None until two steps were timed)


class StepProgressWriter:
    """The worker side: ``step_done`` is the trainer's per-step hook (sed_core.training.reporter.StepReporter)."""

    def __init__(self, folder: Path, *, interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(folder) / PROGRESS_FILE
        self.interval_s = interval_s
        self.clock = clock
        self._written = float("-inf")
        self._epoch_start: tuple[int, int, float] | None = None  # (epoch, step, time) of the first timed step

    def step_done(self, epoch: int, step: int, steps: int) -> None:
        now = self.clock()
        if self._epoch_start is None or self._epoch_start[0] != epoch:
            self._epoch_start = (epoch, step, now)  # an epoch's first step also pays the loader's start: not timed
        _, first_step, started = self._epoch_start
        step_s = (now - started) / (step - first_step) if step > first_step else None
        if now - self._written < self.interval_s and step < steps:
            return
        self._written = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"epoch": epoch, "step": step, "steps": steps, "step_s": step_s}))
        os.replace(tmp, self.path)


def read_step_progress(folder: Path) -> StepProgress | None:
    """The driver side: the latest progress of the trial writing to ``folder``; None when there is none (yet)."""
    try:
        raw = json.loads((Path(folder) / PROGRESS_FILE).read_text())
        return StepProgress(int(raw["epoch"]), int(raw["step"]), int(raw["steps"]),
                            None if raw.get("step_s") is None else float(raw["step_s"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
