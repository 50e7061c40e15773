"""What a study will cost before it runs: steps per trial, FLOPs per step, GPU hours at a stated throughput.

FLOPs are counted once per distinct model (``flops.architecture_key``) on one clip through the student's forward
and backward and the teacher's forward, then scaled by the batch; evaluation adds one forward per clip of the
selection split each epoch and of the test split twice at the end. Steps come from the data when it is there,
else from the synthetic preset the study generates or DESED's official list sizes (with a warning). Hours per
trial are the longer of compute and data time (``throughput``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sed_core.config.schema import ExperimentConfig
from sed_core.data.fingerprint import OFFICIAL_CLIPS
from sed_core.data.splits import load_split
from sed_core.errors import SedStudyError
from sed_core.training.required import required_splits
from studies.flops import architecture_key, clip_flops
from studies.throughput import describe, throughput

if TYPE_CHECKING:
    from studies.definition import Study, SyntheticDataSpec

__all__ = ["DataSizes", "StudyCost", "TrialCost", "architecture_key", "clip_flops", "estimate_study", "split_sizes",
           "trial_cost"]


@dataclass(frozen=True)
class TrialCost:
    steps: int | None  # training steps of the trial; None when the split sizes are unknown
    train_tflop_per_step: float
    eval_tflop: float  # evaluation over the whole trial
    clips: int | None = None  # clips the trial reads (training batches and evaluations)

    @property
    def total_tflop(self) -> float | None:
        return None if self.steps is None else self.steps * self.train_tflop_per_step + self.eval_tflop


@dataclass(frozen=True)
class DataSizes:
    """Clips per split a trial reads, and where the numbers come from."""

    clips: dict[str, int] | None
    source: str
    warning: str | None = None


def split_sizes(config: ExperimentConfig, synthetic: SyntheticDataSpec | None = None) -> DataSizes:
    """From the TSVs at ``data.root`` (audio not opened); where they are not readable, from the synthetic preset
    the study generates there, else from DESED's official list sizes (a warning: the real copy may lack clips)."""
    names = required_splits(config)
    root = config.data.root
    try:
        return DataSizes({name: len(load_split(root, name, classes=config.data.classes, check_audio=False))
                          for name in names}, f"the data at {root}")
    except SedStudyError as err:
        reason = str(err).splitlines()[0]
    if synthetic is not None:
        from sed_core.data.synth.presets import SYNTH_PRESETS

        preset = SYNTH_PRESETS[synthetic.preset].split_sizes()
        if all(name in preset for name in names):
            return DataSizes({name: preset[name] for name in names},
                             f"the synthetic '{synthetic.preset}' preset (the run generates it at {root})")
    missing = [name for name in names if name not in OFFICIAL_CLIPS]
    if not missing:
        return DataSizes({name: OFFICIAL_CLIPS[name] for name in names}, "DESED's official lists",
                         f"no readable data at {root} ({reason}); steps per epoch are taken from DESED's official "
                         f"list sizes (sed_core.data.fingerprint.OFFICIAL_CLIPS). A real run reads the data before "
                         f"any compute: prepare it with `sedstudy prepare-desed`")
    return DataSizes(None, "", f"no readable data at {root} ({reason}), and {missing} are not among DESED's official "
                               f"lists: steps unknown until the data is in place (or set training.steps_per_epoch)")


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
    clips = None if steps is None else steps * clips_per_step + eval_clips
    return TrialCost(steps, train_flops * clips_per_step / 1e12, eval_clips * inference_flops / 1e12, clips)


@dataclass(frozen=True)
class StudyCost:
    """Per cell: trials, steps per trial, TFLOP per step and per trial, hours per trial and what bounds them
    (compute or data); totals, GPU hours, the warnings and the assumptions behind them."""

    rows: list[dict]
    total_tflop: float | None
    gpu_hours: float | None
    effective_tflops: float | None  # resources.effective_tflops (measured), None: assumed per precision
    # tuning phases (num_samples x all epochs per tuned cell): an upper bound, ASHA stops most samples earlier
    tuning_tflop: float | None = None
    tuning_gpu_hours: float | None = None
    warnings: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    size_sources: list[str] = field(default_factory=list)
    distinct_models: int = 0

    @property
    def total_gpu_hours(self) -> float | None:
        """Seed trials plus the tuning budget (its upper bound)."""
        if self.gpu_hours is None or (self.tuning_tflop is not None and self.tuning_gpu_hours is None):
            return None
        return self.gpu_hours + (self.tuning_gpu_hours or 0.0)


def estimate_study(study: Study) -> StudyCost:
    """FLOPs counted once per distinct model, split sizes read once per dataset; trials of a cell share its cost
    (seeds do not change it)."""
    flops: dict[str, tuple[float, float]] = {}
    sizes: dict[tuple[Path, tuple[str, ...]], DataSizes] = {}
    resources = study.spec.resources
    rows = []
    for cell in study.cells:
        trials = [t for t in study.trials if t.cell.id == cell.id]
        config = trials[0].config
        key = architecture_key(config)
        if key not in flops:
            flops[key] = clip_flops(config)
        where = (config.data.root, tuple(required_splits(config)))
        if where not in sizes:
            sizes[where] = split_sizes(config, study.spec.synthetic_data)
        cost = trial_cost(config, flops[key], sizes[where].clips)
        speed = throughput(config, cpus=resources.cpu, effective_tflops=resources.effective_tflops)
        hours = bound = None
        if cost.total_tflop is not None and cost.clips is not None:
            hours, bound = speed.hours(cost.total_tflop, cost.clips)
        rows.append({"cell": cell.id, "trials": len(trials), "steps_per_trial": cost.steps,
                     "tflop_per_step": cost.train_tflop_per_step, "tflop_per_trial": cost.total_tflop,
                     "hours_per_trial": hours, "bound": bound, "precision": config.training.precision})
    known = all(r["hours_per_trial"] is not None for r in rows)
    total = sum(r["tflop_per_trial"] * r["trials"] for r in rows) if known else None
    hours = sum(r["hours_per_trial"] * r["trials"] for r in rows) if known else None
    tuning_tflop = tuning_hours = None
    if study.spec.tuning is not None and study.tuned_cells:
        by_cell = {r["cell"]: r for r in rows}
        tuned = [by_cell[c.id] for c in study.tuned_cells]
        if all(r["hours_per_trial"] is not None for r in tuned):
            tuning_tflop = study.spec.tuning.num_samples * sum(r["tflop_per_trial"] for r in tuned)
            tuning_hours = study.spec.tuning.num_samples * sum(r["hours_per_trial"] for r in tuned)
        else:
            tuning_tflop = float("nan")  # planned, but the steps are unknown until the data is in place
    warnings = list(dict.fromkeys(s.warning for s in sizes.values() if s.warning))
    sources = list(dict.fromkeys(s.source for s in sizes.values() if s.clips is not None))
    assumptions = describe(resources.effective_tflops is not None, {r["precision"] for r in rows},
                           resources.effective_tflops)
    return StudyCost(rows, total, hours, resources.effective_tflops, tuning_tflop, tuning_hours, warnings,
                     assumptions, sources, len(flops))
