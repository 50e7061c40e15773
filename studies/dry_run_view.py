"""The text of `sedstudy run --dry-run`: trials, cost estimate per cell, tuning budget, trial ids."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from studies.acting_view import acting_lines
from studies.definition import Study
from studies.estimate import estimate_study


def dry_run_lines(study: Study, warnings: Iterable[str] = ()) -> Iterator[str]:
    """The dry run's lines, in order; lazily, so the first ones show before the FLOPs are counted."""
    epochs = sum(t.config.training.epochs for t in study.trials)
    yield (f"study {study.name} ({study.spec.design.type}): {len(study.cells)} cells x {len(study.spec.seed_values)} "
           f"seeds = {len(study.trials)} trials, {epochs} epochs in all; resources per trial "
           f"{study.spec.resources.model_dump(exclude_none=True)}")
    yield from acting_lines(study)
    for line in warnings:
        yield f"warning: {line} (a dry run goes on; `sedstudy run` refuses this before any compute)"
    cost = estimate_study(study)
    for line in cost.warnings:
        yield f"warning: {line}"
    yield f"{'steps/trial':>12} {'TFLOP/step':>11} {'TFLOP/trial':>12} {'GPU-h/trial':>12} {'bound':>8}  cell (trials)"
    for row in cost.rows:
        steps = "?" if row["steps_per_trial"] is None else f"{row['steps_per_trial']:,}"
        per_trial = "?" if row["tflop_per_trial"] is None else f"{row['tflop_per_trial']:.3g}"
        hours = "?" if row["hours_per_trial"] is None else f"{row['hours_per_trial']:.3g}"
        bound = row["bound"] or "?"
        yield (f"{steps:>12} {row['tflop_per_step']:>11.3g} {per_trial:>12} {hours:>12} {bound:>8}  {row['cell']} "
               f"({row['trials']})")
    if cost.gpu_hours is None:
        yield "estimate: steps unknown until the data is in place (or set training.steps_per_epoch)"
    else:
        yield (f"estimate: {cost.total_tflop:.3g} TFLOP, {cost.gpu_hours:.3g} GPU-hours; steps from "
               f"{' and '.join(cost.size_sources) or 'training.steps_per_epoch'}; FLOPs counted on "
               f"{cost.distinct_models} distinct model(s)")
        adaptive = study.spec.sequential
        if adaptive is not None:
            share = adaptive.initial / adaptive.max  # every seed of a cell costs the same
            yield (f"adaptive seeds: between {len(study.cells) * adaptive.initial} trials ({adaptive.initial} seeds a "
                   f"cell, {cost.gpu_hours * share:.3g} GPU-hours) and {len(study.trials)} ({adaptive.max} seeds a "
                   f"cell, {cost.gpu_hours:.3g} GPU-hours); the estimate above is the most"
                   + (f", and no look starts past {adaptive.budget_gpu_hours:g} GPU-hours"
                      if adaptive.budget_gpu_hours else ""))
        for line in cost.assumptions:
            yield f"  {line}"
        if not study.spec.resources.gpu:
            yield ("  this study's trials run on CPUs (resources.gpu: 0): the hours are what they would take on one "
                   "GPU each, not their CPU time")
    if study.spec.tuning is not None:  # studies.tuning imports MLflow
        from studies.tuning import describe_tuning

        yield from describe_tuning(study)
    if cost.tuning_tflop is not None:
        if cost.tuning_gpu_hours is None:
            yield "tuning budget: steps unknown until the data is in place (or set training.steps_per_epoch)"
        else:
            yield (f"tuning budget: at most {cost.tuning_tflop:.3g} TFLOP = {cost.tuning_gpu_hours:.3g} GPU-hours "
                   f"(num_samples x all epochs at each tuned cell's own config; ASHA usually stops most samples "
                   f"well before that); with the seed trials at most {cost.total_gpu_hours:.3g} GPU-hours")
    tuned = {c.id for c in study.tuned_cells}
    absent = sorted({str(t.config.data.root) for t in study.trials if not t.config.data.root.is_dir()})
    if absent:
        yield (f"trial ids below count the data as absent ({', '.join(absent)}): they hash its content, and are "
               f"final once it is in place")
    for trial in study.trials:
        note = "  (tuned: its id follows from the best values)" if trial.cell.id in tuned else ""
        yield f"  {trial.trial_id}  {trial.cell.id}  seed={trial.seed}{note}"
