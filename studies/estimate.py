"""What a study will cost before it runs: steps per trial, FLOPs per step, GPU hours at a stated throughput.

FLOPs are counted (torch.utils.flop_counter) on one clip through the student's forward and backward and the
teacher's forward, then scaled by the batch; evaluation adds one forward per clip of the selection split each
epoch and of the test split twice at the end. GPU hours = FLOPs / (``effective_tflops`` x 3600); the default
throughput is a stated assumption to be replaced by a measured one (bench/).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch.utils.flop_counter import FlopCounterMode

from sed_core.config.schema import ExperimentConfig
from sed_core.data.splits import load_split
from sed_core.errors import SedStudyError
from sed_core.models.build import build_model
from sed_core.training.freeze import apply_freeze

if TYPE_CHECKING:
    from studies.definition import Study

DEFAULT_EFFECTIVE_TFLOPS = 40.0  # an assumption: ~10 % of an H100's dense bf16 peak, typical of small-batch SED


@dataclass(frozen=True)
class TrialCost:
    steps: int | None  # training steps of the trial; None when the data is not there to count
    train_tflop_per_step: float
    eval_tflop: float  # evaluation over the whole trial

    @property
    def total_tflop(self) -> float | None:
        return None if self.steps is None else self.steps * self.train_tflop_per_step + self.eval_tflop


def clip_flops(config: ExperimentConfig) -> tuple[float, float]:
    """(training FLOPs, inference FLOPs) for one clip: student forward + backward + teacher forward; forward."""
    cfg = config.model_copy(update={"model": config.model.model_copy(update={
        "backbone": config.model.backbone.model_copy(update={"init": "random"})})})
    torch.manual_seed(0)
    model = build_model(cfg)
    apply_freeze(model, cfg, epoch=cfg.training.epochs - 1)  # the costliest phase: backbone unfrozen
    n = int(round(cfg.data.clip_seconds * cfg.data.sample_rate))
    inputs = model.inputs(torch.zeros(1, n))
    with FlopCounterMode(display=False) as forward:
        with torch.no_grad():
            model(inputs)
    with FlopCounterMode(display=False) as train:
        out = model(inputs)
        (out.strong.sum() + out.weak.sum()).backward()
    inference = float(forward.get_total_flops())
    return float(train.get_total_flops()) + inference, inference


def split_sizes(config: ExperimentConfig) -> dict[str, int] | None:
    """Clips per split the trial reads, from the TSVs (audio not opened); None when the data is not there."""
    names = [*config.data.batch.sources(), config.evaluation.selection_split, config.evaluation.test_split]
    try:
        return {name: len(load_split(config.data.root, name, classes=config.data.classes, check_audio=False))
                for name in dict.fromkeys(names)}
    except SedStudyError:
        return None


def trial_cost(config: ExperimentConfig, flops: tuple[float, float], sizes: dict[str, int] | None) -> TrialCost:
    train_flops, inference_flops = flops
    batch = config.data.batch.sources()
    clips_per_step = sum(batch.values())
    epochs = config.training.epochs
    steps = None
    if config.training.steps_per_epoch is not None:
        steps = config.training.steps_per_epoch * epochs
    elif sizes is not None:
        steps = min(sizes[name] // b for name, b in batch.items()) * epochs
    eval_clips = 0
    if sizes is not None:
        eval_clips = epochs * sizes[config.evaluation.selection_split] + 2 * sizes[config.evaluation.test_split]
    return TrialCost(steps, train_flops * clips_per_step / 1e12, eval_clips * inference_flops / 1e12)


def architecture_key(config: ExperimentConfig) -> str:
    """Configs with the same key cost the same per clip (model, features, clip length, freeze schedule)."""
    return (config.model.model_dump_json() + config.features.model_dump_json()
            + f"{config.data.clip_seconds}/{config.data.sample_rate}/{config.training.epochs}")


@dataclass(frozen=True)
class StudyCost:
    """Per cell: trials, steps per trial, TFLOP per step and per trial; totals and GPU hours."""

    rows: list[dict]
    total_tflop: float | None
    gpu_hours: float | None
    effective_tflops: float
    # tuning phases (num_samples x all epochs per tuned cell): an upper bound, ASHA stops most samples earlier
    tuning_tflop: float | None = None
    tuning_gpu_hours: float | None = None

    @property
    def total_gpu_hours(self) -> float | None:
        """Seed trials plus the tuning budget (its upper bound)."""
        if self.gpu_hours is None or (self.tuning_tflop is not None and self.tuning_gpu_hours is None):
            return None
        return self.gpu_hours + (self.tuning_gpu_hours or 0.0)


def estimate_study(study: Study) -> StudyCost:
    """Count each distinct architecture once; trials of a cell share its cost (seeds do not change it)."""
    flops: dict[str, tuple[float, float]] = {}
    sizes: dict[str, dict[str, int] | None] = {}
    rows = []
    for cell in study.cells:
        trials = [t for t in study.trials if t.cell.id == cell.id]
        config = trials[0].config
        key = architecture_key(config)
        if key not in flops:
            flops[key] = clip_flops(config)
        root = str(config.data.root)
        if root not in sizes:
            sizes[root] = split_sizes(config)
        cost = trial_cost(config, flops[key], sizes[root])
        rows.append({"cell": cell.id, "trials": len(trials), "steps_per_trial": cost.steps,
                     "tflop_per_step": cost.train_tflop_per_step, "tflop_per_trial": cost.total_tflop})
    tflops = study.spec.resources.effective_tflops or DEFAULT_EFFECTIVE_TFLOPS
    per_cell = [r["tflop_per_trial"] for r in rows]
    total = None if any(v is None for v in per_cell) else sum(r["tflop_per_trial"] * r["trials"] for r in rows)
    hours = None if total is None else total / tflops / 3600
    tuning_tflop = tuning_hours = None
    if study.spec.tuning is not None and study.tuned_cells:
        by_cell = {r["cell"]: r["tflop_per_trial"] for r in rows}
        per_cell = [by_cell[c.id] for c in study.tuned_cells]
        if all(v is not None for v in per_cell):
            tuning_tflop = study.spec.tuning.num_samples * sum(per_cell)
            tuning_hours = tuning_tflop / tflops / 3600
        else:
            tuning_tflop = float("nan")  # planned, but the steps are unknown until the data is in place
    return StudyCost(rows, total, hours, tflops, tuning_tflop, tuning_hours)
