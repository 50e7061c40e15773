"""Tuning inside a cell: Optuna's TPE (through Ray Tune) samples configs, ASHA stops the weak ones early, and the
cell's seed trials run with the best sampled values.

A cell's tuning phase is one ``Tuner.fit`` with ``ConcurrencyLimiter(OptunaSearch(TPESampler(seed)))`` and an
``ASHAScheduler`` on ``tune/objective`` (the best per-epoch validation value so far, see
``trainable.ObjectiveReporter``); every sample stops at ``training.epochs`` before the test split is scored, so
tuning never sees the test split. Each sample is one MLflow run (``sedstudy.kind=tune``).

Resume (the store is the only state): a phase is complete once ``num_samples`` of the cell's samples are FINISHED
(ASHA-stopped included) or FAILED; a failed sample counts, as in Tune (a diverging config is a result of the
search). A launch that stopped mid-phase left samples RUNNING: they are marked KILLED
(``sedstudy.tune.interrupted``) and the phase finishes the missing samples in a new ``Tuner.fit``, with TPE
warm-started from every finished and failed sample (``OptunaSearch.add_evaluated_point``). ASHA's rungs start
empty again. So the store ends with exactly ``num_samples`` FINISHED or FAILED samples per tuned cell and no
finished sample ever reruns; an interrupted one is replaced by a new draw, not continued.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.contract import (
    TUNE_EPOCHS_METRIC,
    TUNE_OBJECTIVE_METRIC,
    TUNE_PARAMS_TAG,
    TUNE_SAMPLE_TAG,
    TUNE_STOPPED_TAG,
)
from search_spaces.factors import Cell
from studies.definition import DistributionSpec, Study
from studies.tracking import StudyTracker

TERMINAL = ("FINISHED", "FAILED")


@dataclass(frozen=True)
class BestSample:
    index: int
    values: dict[str, Any]
    value: float


@dataclass(frozen=True)
class TuningState:
    """What the store holds of one cell's tuning phase."""

    cell: str  # the cell id
    num_samples: int
    runs: tuple[Any, ...]  # mlflow Run, by sample index

    def with_status(self, *statuses: str) -> list[Any]:
        return [r for r in self.runs if r.info.status in statuses]

    @property
    def done(self) -> int:
        return len(self.with_status(*TERMINAL))

    @property
    def complete(self) -> bool:
        return self.done >= self.num_samples

    @property
    def stopped_early(self) -> list[Any]:
        return [r for r in self.with_status("FINISHED") if TUNE_STOPPED_TAG in r.data.tags]

    @property
    def next_index(self) -> int:
        return max((sample_index(r) for r in self.runs), default=-1) + 1

    def best(self) -> BestSample | None:
        return best_sample(self.runs)


def sample_index(run: Any) -> int:
    return int(run.data.tags.get(TUNE_SAMPLE_TAG, "0"))


def best_sample(runs: Any) -> BestSample | None:
    """The FINISHED sample with the highest ``tune/objective``; ties go to the lowest sample index."""
    scored = []
    for run in runs:
        value = run.data.metrics.get(TUNE_OBJECTIVE_METRIC)
        if run.info.status == "FINISHED" and value is not None and math.isfinite(value):
            scored.append((-value, sample_index(run), run))
    if not scored:
        return None
    negative, index, run = min(scored, key=lambda item: item[:2])
    return BestSample(index, json.loads(run.data.tags[TUNE_PARAMS_TAG]), -negative)


def tuning_state(tracker: StudyTracker, study: Study, cell: Cell) -> TuningState:
    assert study.spec.tuning is not None
    return TuningState(cell.id, study.spec.tuning.num_samples, tuple(tracker.tune_runs(cell.id)))


def optuna_distribution(dist: DistributionSpec) -> Any:
    import optuna

    if dist.distribution == "choice":
        return optuna.distributions.CategoricalDistribution(dist.values)
    assert dist.low is not None and dist.high is not None
    if dist.distribution == "int":
        return optuna.distributions.IntDistribution(int(dist.low), int(dist.high))
    return optuna.distributions.FloatDistribution(dist.low, dist.high, log=dist.distribution == "loguniform")


def make_searcher(study: Study, state: TuningState) -> Any:
    """TPE (seeded) over the space, told every finished and failed sample the store already holds."""
    import optuna
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    tuning = study.spec.tuning
    assert tuning is not None
    space = {path: optuna_distribution(dist) for path, dist in tuning.space.items()}
    searcher = OptunaSearch(space, metric=TUNE_OBJECTIVE_METRIC, mode="max",
                            sampler=optuna.samplers.TPESampler(seed=tuning.seed))
    for run in state.with_status(*TERMINAL):
        value = run.data.metrics.get(TUNE_OBJECTIVE_METRIC)
        failed = run.info.status == "FAILED" or value is None or not math.isfinite(value)
        searcher.add_evaluated_point(json.loads(run.data.tags[TUNE_PARAMS_TAG]), None if failed else value,
                                     error=failed)
    return ConcurrencyLimiter(searcher, max_concurrent=tuning.max_concurrent)


def run_tuning(study: Study, cell: Cell, tracker: StudyTracker, trial_root: Path, storage_path: str, *,
               gpu: float) -> int:
    """Finish the tuning phase of ``cell`` (its interrupted samples already marked); returns how many samples
    ran now (0 when it was complete)."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    from studies.callbacks import TuningCallback, TuningProgressCallback
    from studies.outage_stop import OutageStop
    from studies.resource_wait import ReportedAtLeast, ResourceWait
    from studies.trainable import run_trial
    from studies.trial_payload import PAYLOAD_KEY, tuning_sample_payload

    tuning = study.spec.tuning
    assert tuning is not None
    state = tuning_state(tracker, study, cell)
    missing = tuning.num_samples - state.done
    if missing <= 0:
        return 0
    epochs = study.cell_config(cell).training.epochs
    print(f"tuning {cell.id}: {missing} of {tuning.num_samples} samples to run ({state.done} done), TPE seed "
          f"{tuning.seed}, {'ASHA' if tuning.asha else 'no early stopping'} on {study.tuning_metric(cell)}",
          flush=True)
    scheduler = (FIFOScheduler() if tuning.asha is None else
                 ASHAScheduler(time_attr=TUNE_EPOCHS_METRIC, max_t=epochs, grace_period=tuning.asha.grace_period,
                               reduction_factor=tuning.asha.reduction_factor))
    label = cell_label(cell)
    param_space = {PAYLOAD_KEY: tuning_sample_payload(study, cell, trial_root, label)}
    wait = ResourceWait(study.spec.resources.wait_limit_s, study.spec.resources.cpu, gpu)
    tuner = tune.Tuner(
        tune.with_resources(run_trial, {"cpu": study.spec.resources.cpu, "gpu": gpu}),
        param_space=param_space,
        tune_config=tune.TuneConfig(search_alg=make_searcher(study, state), scheduler=scheduler,
                                    num_samples=missing, metric=TUNE_OBJECTIVE_METRIC, mode="max",
                                    # samples are short and alike: one worker process per slot, not per sample
                                    reuse_actors=True),
        run_config=tune.RunConfig(
            name=f"{study.name}-tune-{label}",
            storage_path=storage_path,
            # a sample stops after its last epoch's report: the trainer's final scoring is on the test split
            stop=[ReportedAtLeast(TUNE_EPOCHS_METRIC, epochs), wait.stopper, OutageStop(tracker.outage)],
            callbacks=[TuningCallback(tracker, study, cell, state.next_index, epochs),
                       TuningProgressCallback(cell, missing, epochs), wait],
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=study.spec.failures.max_retries),
        ),
    )
    tuner.fit()
    tracker.flush()
    tracker.raise_if_unavailable()
    wait.raise_if_given_up()
    return missing


def cell_label(cell: Cell) -> str:
    """A folder and experiment name for a cell (its id holds '|' and '=')."""
    import hashlib

    return hashlib.sha256(cell.id.encode()).hexdigest()[:10]


def best_values(tracker: StudyTracker, study: Study) -> dict[str, dict[str, Any]]:
    """cell id -> the best sampled values of each tuned cell whose tuning found a finished sample."""
    out = {}
    for cell in study.tuned_cells:
        best = tuning_state(tracker, study, cell).best()
        if best is not None:
            out[cell.id] = best.values
    return out


def describe_tuning(study: Study) -> list[str]:
    """The tuning plan, for ``validate`` and ``run --dry-run``."""
    tuning = study.spec.tuning
    if tuning is None:
        return []
    asha = ("ASHA off: every sample trains all epochs" if tuning.asha is None else
            f"ASHA grace_period {tuning.asha.grace_period}, reduction_factor {tuning.asha.reduction_factor:g}")
    lines = [(f"tuning: {len(study.tuned_cells)} cell(s) x {tuning.num_samples} samples (TPE seed {tuning.seed}, "
              f"{tuning.max_concurrent} at a time, {asha}) before their seed trials, which take the best values")]
    lines += [f"  {path}: {dist.describe()}" for path, dist in tuning.space.items()]
    lines += [f"  tuned cell {c.id} on {study.tuning_metric(c)}" for c in study.tuned_cells]
    return lines


def tuning_summary(state: TuningState) -> Mapping[str, Any]:
    """Counts and the best sample so far of one cell, for ``sedstudy status``."""
    best = state.best()
    return {"cell": state.cell, "num_samples": state.num_samples,
            "finished": len(state.with_status("FINISHED")), "stopped_early": len(state.stopped_early),
            "failed": len(state.with_status("FAILED")), "running": len(state.with_status("RUNNING", "SCHEDULED")),
            "best": None if best is None else {"sample": best.index, "value": best.value, "values": best.values}}
