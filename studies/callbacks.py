"""Tune callbacks run in the driver: MLflow records (single writer) and the progress display."""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ray import tune
from rich.live import Live

from reports.contract import (
    CHECKPOINT_ARTIFACT_DIR,
    TUNE_EPOCHS_METRIC,
    TUNE_OBJECTIVE_METRIC,
    TUNE_STOPPED_TAG,
)
from search_spaces.factors import Cell
from sed_core.training.trainer import ARTIFACT_DIRS, BEST_FILE
from studies.definition import Sample, Study, Trial
from studies.progress import StudyProgress, clock_text
from studies.step_progress import read_step_progress
from studies.tracking import StudyTracker
from studies.trial_payload import seed_payload_of, tuning_payload_of
from studies.trial_result import ENVIRONMENT_KEY, NODE_KEY, metrics_of


def failure_reason(trial: Any) -> str:
    """The last line of the trial's error (the exception), from storage or, before it is synced, the local file."""
    error = trial.get_error()
    if error is None and trial.error_file and Path(trial.error_file).is_file():
        error = Path(trial.error_file).read_text(errors="replace")
    if error is None:
        return "unknown error (see the trial's error file)"
    text = [line for line in str(error).strip().splitlines() if line.strip()]
    return text[-1] if text else type(error).__name__


class MLflowStudyCallback(tune.Callback):
    def __init__(self, tracker: StudyTracker, trials: dict[str, Trial]) -> None:
        self.tracker = tracker
        self.trials = trials
        self._nodes: dict[str, str] = {}

    def _trial(self, trial: Any) -> Trial:
        return self.trials[seed_payload_of(trial.config).trial_id]

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.tracker.start_trial(self._trial(trial))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        ours = self._trial(trial)
        node = result.get(NODE_KEY)
        moved = bool(node) and node != self._nodes.get(ours.trial_id)
        if moved:
            self._nodes[ours.trial_id] = node
        environment = json.loads(result[ENVIRONMENT_KEY]) if ENVIRONMENT_KEY in result else None
        self.tracker.log_result(ours, metrics_of(result), int(result.get("step", iteration)),
                                node=str(node) if moved else None, environment=environment)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        ours = self._trial(trial)
        output_dir = seed_payload_of(trial.config).output_dir
        best = output_dir / BEST_FILE
        if best.exists():
            self.tracker.log_artifact(ours, best, CHECKPOINT_ARTIFACT_DIR)
        for folder in ARTIFACT_DIRS:
            if (output_dir / folder).is_dir():
                self.tracker.log_artifacts(ours, output_dir / folder, folder)
        self.tracker.end_trial(ours)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.tracker.end_trial(self._trial(trial), failure=failure_reason(trial))

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.tracker.note_retry(self._trial(trial), failure_reason(trial))


def epoch_metrics_text(result: dict[str, Any]) -> str:
    """An epoch's numbers, each with the split it was measured on: ``train loss=0.412 synthetic_validation
    intersection_f1=0.318``."""
    parts = [f"train loss={result['train/loss']:.3f}"] if "train/loss" in result else []
    for key, value in result.items():
        if key.startswith("val/") and isinstance(value, (int, float)):
            _, split, metric = key.split("/", 2)
            parts.append(f"{split} {metric}={value:.3f}")
    return " ".join(parts)


class ProgressCallback(tune.Callback):
    """The driver's progress display. On a terminal, a live table of cells (done, running, failed, todo, best so
    far) under a line of totals, best result and time left; elsewhere (logs, CI) one line per epoch and per
    finished or failed trial. Both come from one `progress.StudyProgress`."""

    def __init__(self, trials: dict[str, Trial], objective: str, epochs_of: Callable[[Trial], int], *,
                 mode: str = "max", study: str = "", live: bool | None = None, baseline: str | None = None,
                 poll_s: float = 1.0, cell_names: Mapping[str, str] | None = None) -> None:
        self.trials = trials
        self.objective = objective
        self.names = dict(cell_names or {})  # cell id -> the short name shown (search_spaces.display)
        splits = {t.config.evaluation.test_split for t in trials.values()}
        shown_baseline = None if baseline is None else self.names.get(baseline, baseline)
        self.progress = StudyProgress(study, [(t.trial_id, self.name(t), t.seed, epochs_of(t))
                                              for t in trials.values()],
                                      objective, mode, baseline=shown_baseline,
                                      split=splits.pop() if len(splits) == 1 else None)
        self.epochs_of = {t.trial_id: epochs_of(t) for t in trials.values()}
        self.want_live = sys.stdout.isatty() if live is None else live
        self.poll_s = poll_s
        self._polled = float("-inf")
        self._folders: dict[str, Path] = {}  # running trial id -> the folder its worker writes progress.json to
        self._live: Live | None = None

    def name(self, trial: Trial) -> str:
        return self.names.get(trial.cell.id, trial.cell.id)

    def __getstate__(self) -> dict:
        # Tune pickles callbacks with its experiment state; a live display (threads, the terminal) is not state
        state = dict(self.__dict__)
        state["_live"] = None
        return state

    def _show(self, line: str | None) -> None:
        if self.want_live:
            if self._live is None:
                self._live = Live(self.progress.render(), refresh_per_second=2, transient=False)
                self._live.start()
            if line is not None:
                self._live.console.print(line, highlight=False, markup=False)
            self._live.update(self.progress.render())
        elif line is not None:
            print(f"{self.progress.summary()} | {line}", file=sys.stdout, flush=True)

    def _ours(self, trial: Any) -> Trial:
        return self.trials[seed_payload_of(trial.config).trial_id]

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        ours = self._ours(trial)
        self.progress.started_trial(ours.trial_id)
        self._folders[ours.trial_id] = seed_payload_of(trial.config).output_dir
        self._show(None)

    def on_step(self, iteration: int, trials: list, **info: Any) -> None:
        """Tune's loop turns often: at most every ``poll_s`` the running trials' steps within their epoch are read
        (studies.step_progress) and the live table redrawn; logs get lines per epoch only."""
        now = time.monotonic()
        if now - self._polled < self.poll_s or not self._folders:
            return
        self._polled = now
        moved = False
        for trial_id, folder in self._folders.items():
            steps = read_step_progress(folder)
            if steps is not None and steps != self.progress.steps.get(trial_id):
                self.progress.step_done(trial_id, steps)
                moved = True
        if moved and self.want_live:
            self._show(None)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        ours = self._ours(trial)
        metrics = metrics_of(result)
        if "train/loss" in metrics:
            epoch = int(result["step"])
            seconds = result.get("time_this_iter_s")
            self.progress.epoch_done(ours.trial_id, epoch, float(seconds) if isinstance(seconds, (int, float))
                                     else None)
            self._show(f"{self.name(ours)} seed={ours.seed} epoch {epoch + 1}/{self.epochs_of[ours.trial_id]} "
                       f"{epoch_metrics_text(metrics)}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        ours = self._ours(trial)
        self._folders.pop(ours.trial_id, None)
        value = metrics_of(trial.last_result).get(self.objective)
        self.progress.finished_trial(ours.trial_id, ours.seed, value)
        split = ours.config.evaluation.test_split
        shown = f"{split} {self.objective}={value:.3f}" if value is not None else "no result"
        self._show(f"finished {self.name(ours)} seed={ours.seed}: {shown}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        ours = self._ours(trial)
        self._folders.pop(ours.trial_id, None)
        self.progress.failed_trial(ours.trial_id)
        self._show(f"FAILED {self.name(ours)} seed={ours.seed}: {failure_reason(trial)}")

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        if self._live is not None:
            self._live.update(self.progress.render())
            self._live.stop()
            self._live = None


class TuningCallback(tune.Callback):
    """MLflow records of one cell's tuning phase: one run per sample (``sedstudy.kind=tune``), numbered from
    ``first_index`` in the order Tune starts them; a sample ASHA stops ends FINISHED, tagged with its epochs."""

    def __init__(self, tracker: StudyTracker, study: Study, cell: Cell, first_index: int, epochs: int) -> None:
        self.tracker = tracker
        self.study = study
        self.cell = cell
        self.next_index = first_index
        self.epochs = epochs
        self._samples: dict[str, Sample] = {}  # Tune trial id -> our sample
        self._epochs: dict[str, int] = {}

    def _sample(self, trial: Any) -> Sample:
        sample = self._samples.get(trial.trial_id)
        if sample is None:
            values = dict(tuning_payload_of(trial.config).sampled_values(trial.config))
            sample = self.study.sample(self.cell, self.next_index, values)
            self.next_index += 1
            self._samples[trial.trial_id] = sample
        return sample

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.tracker.start_sample(self._sample(trial))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        sample = self._sample(trial)
        metrics = metrics_of(result)
        if "epoch" in metrics:
            self._epochs[trial.trial_id] = max(self._epochs.get(trial.trial_id, 0), int(metrics["epoch"]) + 1)
        self.tracker.log_metrics(sample, metrics, int(result.get("step", iteration)))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        sample = self._sample(trial)
        trained = self._epochs.get(trial.trial_id, 0)
        if trained < self.epochs:
            self.tracker.set_tag(sample, TUNE_STOPPED_TAG, str(trained))
        self.tracker.end_trial(sample)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.tracker.end_trial(self._sample(trial), failure=failure_reason(trial))

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.tracker.note_retry(self._sample(trial), failure_reason(trial))


class TuningProgressCallback(tune.Callback):
    """One line per finished sample: its values, its best validation value and whether ASHA stopped it."""

    def __init__(self, cell: Cell, samples: int, epochs: int) -> None:
        self.cell = cell
        self.samples = samples
        self.epochs = epochs
        self.start = time.monotonic()
        self.done = 0

    def _line(self, trial: Any, text: str) -> None:
        self.done += 1
        values = " ".join(f"{p.rsplit('.', 1)[-1]}={v:.4g}" if isinstance(v, float) else f"{p.rsplit('.', 1)[-1]}={v}"
                          for p, v in tuning_payload_of(trial.config).sampled_values(trial.config))
        print(f"[{clock_text(time.monotonic() - self.start)}] tuning {self.cell.id} {self.done}/{self.samples}: "
              f"{values} -> {text}", file=sys.stdout, flush=True)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        value, trained = result.get(TUNE_OBJECTIVE_METRIC), int(result.get(TUNE_EPOCHS_METRIC, 0))
        shown = f"{value:.3f}" if isinstance(value, float) else "no result"
        early = f" (ASHA stopped it after {trained}/{self.epochs} epochs)" if trained < self.epochs else ""
        self._line(trial, shown + early)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._line(trial, f"FAILED: {failure_reason(trial)}")
