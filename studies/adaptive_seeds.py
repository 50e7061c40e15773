"""Adaptive seeds: run a look, decide each contrast with the baseline from the store, add seeds where undecided.

The decision state is never kept: every look recomputes it from the trial runs in the tracking store, so a resume
at any point continues where the store says the study is (`needs`)."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from reports.fetch.sequential_design import SequentialSeeds
from reports.stats.sequential import DECIDED, SequentialContrast, contrast_alpha, contrasts_with_baseline
from studies.definition import Study, Trial

Key = tuple[str, int]  # (cell id, seed)


@dataclass(frozen=True)
class Needs:
    """The trials the next look runs, and each contrast's state at the looks complete so far."""

    trials: frozenset[Key]
    contrasts: Mapping[str, SequentialContrast]
    looks_done: Mapping[str, int]


def needs(design: SequentialSeeds, *, alpha: float, cells: Sequence[str], baseline: str,
          values: Mapping[Key, float], ended: Iterable[Key]) -> Needs:
    """For each cell other than the baseline: the contrast over its complete looks (every seed of the look ended,
    finished or failed, in the cell and the baseline), and, while it is undecided and looks remain, the seeds of
    its next look that have not ended, in the cell and the baseline. `alpha` is each contrast's level."""
    ended = set(ended)
    state = contrasts_with_baseline(design, alpha=alpha, cells=cells, baseline=baseline, values=values,
                                    ended=ended, p_value=False)
    wanted: set[Key] = set()
    for cell, (done, contrast) in state.items():
        if contrast.decision in DECIDED or done == len(design.looks):
            continue
        for seed in design.seeds[:design.looks[done]]:
            wanted |= {key for key in ((cell, seed), (baseline, seed)) if key not in ended}
    return Needs(frozenset(wanted), {cell: contrast for cell, (_, contrast) in state.items()},
                 {cell: done for cell, (done, _) in state.items()})


def run_adaptive(study: Study, trials: Sequence[Trial], tracker, run_pass: Callable[[list[Trial]], dict[str, str]],
                 *, say: Callable[[str], None] = lambda line: print(line, flush=True)) -> tuple[int, int]:
    """Looks until every contrast is decided, the looks run out or the GPU-hour budget is spent; returns (trials
    run, trials failed) by this launch. A trial that fails is not retried within the launch (a relaunch retries
    it, as for fixed seeds)."""
    design = study.spec.sequential
    assert design is not None
    plan = study.spec.analysis
    metric = plan.primary_metric(study.spec.objective.metric)
    cells = [cell.id for cell in study.cells]
    alpha = contrast_alpha(plan.alpha, len(cells) - 1)
    by_key = {(t.cell.id, t.seed): t for t in trials}
    attempted: set[Key] = set()
    ran = failed = 0
    while True:
        values, finished = tracker.finished_values(metric)
        state = needs(design, alpha=alpha, cells=cells, baseline=study.baseline.id, values=values,
                      ended=finished | attempted)
        wanted = sorted(key for key in state.trials if key in by_key)  # a tuned cell whose tuning found nothing
        tracker.record_planned([by_key[key] for key in sorted((finished | attempted | set(wanted)) & set(by_key))])
        if not wanted:
            break
        budget = design.budget_gpu_hours
        spent = tracker.trial_hours() * study.spec.resources.gpu
        if budget is not None and spent >= budget:
            say(f"adaptive seeds: the GPU-hour budget is spent ({spent:.2f} of {budget:g} h); {len(wanted)} trials "
                "of the next look are not run, and the undecided contrasts stay undecided")
            break
        undecided = sum(1 for c in state.contrasts.values() if c.decision not in DECIDED)
        say(f"adaptive seeds: {undecided} of {len(state.contrasts)} contrasts undecided; running {len(wanted)} "
            f"trials of their next look")
        pending = [by_key[key] for key in wanted]
        failed += len(run_pass(pending))
        ran += len(pending)
        attempted |= set(wanted)
    for line in decision_lines(study, state):
        say(line)
    return ran, failed


def decision_lines(study: Study, state: Needs) -> list[str]:
    """One line per contrast: its state, the seeds looked at, the repeated interval of the last look."""
    names = study.names
    lines = []
    for cell in study.cells:
        contrast = state.contrasts.get(cell.id)
        if contrast is None:
            continue
        last = contrast.looks[-1] if contrast.looks else None
        where = (f"{last.n} seed pairs, Δ {last.diff:+.4f} [{last.low:+.4f}, {last.high:+.4f}]"
                 if last is not None else "no complete look")
        lines.append(f"  {names.cell(cell)} vs baseline: {contrast.decision} ({where})")
    return lines
