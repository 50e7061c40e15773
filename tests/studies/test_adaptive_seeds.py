"""Adaptive seeds through the launcher's own decision code (`needs`): what the next look runs, and, over simulated
studies with planted effects, more true effects decided than a fixed design with as many seeds, at no more than
alpha false verdicts."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from reports.fetch.sequential_design import SequentialSeeds
from reports.stats.sequential import BETTER, DECIDED, EQUIVALENT, UNDECIDED, WORSE
from studies.adaptive_seeds import needs

ALPHA = 0.05
DESIGN = SequentialSeeds(initial=3, step=2, max=11, min_effect=0.01, spending="obrien_fleming")
# the contrasts of one simulated ablation, as PSDS1 differences: three factors do nothing, two matter a lot, three
# are as small as SED ablations usually are (the paired differences' sd is 0.01)
EFFECTS = (0.0, 0.0, 0.0, 0.03, 0.03, 0.01, 0.015, 0.01)
NOISE = 0.01 / math.sqrt(2)  # per trial: a paired difference then has sd 0.01


def test_the_next_look_runs_the_undecided_cells_and_the_baseline() -> None:
    design = SequentialSeeds(initial=2, step=2, max=6, first=1, min_effect=0.01)
    cells = ["base", "clear", "unclear"]
    values = {("base", 1): 0.40, ("base", 2): 0.41, ("clear", 1): 0.60, ("clear", 2): 0.61,
              ("unclear", 1): 0.45, ("unclear", 2): 0.38}
    state = needs(design, alpha=ALPHA / 2, cells=cells, baseline="base", values=values, ended=set(values))
    assert state.contrasts["unclear"].decision == UNDECIDED
    assert state.trials == {("base", 3), ("base", 4), ("unclear", 3), ("unclear", 4)}
    # the same store with a look still running: nothing new starts, the running look is what is needed
    started = needs(design, alpha=ALPHA / 2, cells=cells, baseline="base", values=values,
                    ended=set(values) - {("unclear", 2)})
    assert started.trials == {("unclear", 2)} and started.looks_done["unclear"] == 0
    nothing = needs(design, alpha=ALPHA / 2, cells=cells, baseline="base", values={}, ended=set())
    assert nothing.trials == {(cell, seed) for cell in cells for seed in (1, 2)}


def simulate_two_cell_study(rng: np.random.Generator, effect: float) -> tuple[str, int]:
    """One study of the baseline and one cell, run look by look as the launcher runs it; (decision, seeds a cell)."""
    seed_effect = {seed: rng.normal(0, 0.02) for seed in DESIGN.seeds}
    values: dict[tuple[str, int], float] = {}
    while True:
        state = needs(DESIGN, alpha=ALPHA, cells=["base", "cell"], baseline="base", values=values, ended=set(values))
        if not state.trials:
            break
        for cell, seed in state.trials:
            values[(cell, seed)] = 0.4 + effect * (cell == "cell") + seed_effect[seed] + rng.normal(0, NOISE)
    return state.contrasts["cell"].decision, max(seed for _, seed in values)


@pytest.mark.slow
def test_adaptive_seeds_decide_more_true_effects_than_as_many_fixed_seeds() -> None:
    rng = np.random.default_rng(20)
    repetitions = 300
    decided = seeds = false = nulls = found = true = 0
    for _ in range(repetitions):
        for effect in EFFECTS:
            decision, used = simulate_two_cell_study(rng, effect)
            seeds += used
            if effect == 0:
                nulls += 1
                false += decision in (BETTER, WORSE)
            else:
                true += 1
                found += decision == BETTER
            decided += decision in DECIDED
    mean_seeds = seeds / (repetitions * len(EFFECTS))
    fixed_n = math.ceil(mean_seeds)  # the fixed design gets at least as many seeds as the adaptive one used
    fixed_found = sum(stats.ttest_1samp(rng.normal(effect, 0.01, fixed_n), 0.0).pvalue < ALPHA
                      for _ in range(repetitions) for effect in EFFECTS if effect)
    power, fixed_power, fpr = found / true, fixed_found / true, false / nulls
    se_power = math.sqrt(power * (1 - power) / true + fixed_power * (1 - fixed_power) / true)
    print(f"adaptive: {mean_seeds:.2f} seeds a cell, true effects decided {power:.3f}; fixed {fixed_n} seeds: "
          f"{fixed_power:.3f} (Monte Carlo se of the difference {se_power:.3f}); false verdicts on null contrasts "
          f"{fpr:.3f} ± {math.sqrt(fpr * (1 - fpr) / nulls):.3f}; decided {decided / (repetitions * len(EFFECTS)):.3f}")
    assert power > fixed_power + 2 * se_power
    assert fpr <= ALPHA + 2.576 * math.sqrt(ALPHA * (1 - ALPHA) / nulls)


def test_an_equivalent_contrast_stops_and_says_so() -> None:
    values = {(cell, seed): 0.4 + 0.0001 * (seed % 2) for cell in ("base", "cell") for seed in DESIGN.seeds[:3]}
    state = needs(DESIGN, alpha=ALPHA, cells=["base", "cell"], baseline="base", values=values, ended=set(values))
    assert state.contrasts["cell"].decision == EQUIVALENT and not state.trials


STUDY = """
name: adaptive_loop
experiment:
  preset: tiny
  data: {{root: data/tiny}}
design:
  factors:
    model.pooling: [attention, max, mean]
seeds: {{initial: 3, step: 2, max: 7, min_effect: 0.01, spending: pocock{budget}}}
resources: {{gpu: 0.5}}
"""


class FakeStore:
    """The tracker's side of the loop: finished values by (cell, seed) and the trial hours spent."""

    def __init__(self, hours: float = 0.0) -> None:
        self.values: dict[tuple[str, int], float] = {}
        self.hours = hours
        self.planned: list[list[tuple[str, int]]] = []

    def finished_values(self, metric: str) -> tuple[dict[tuple[str, int], float], set[tuple[str, int]]]:
        return dict(self.values), set(self.values)

    def trial_hours(self) -> float:
        return self.hours

    def record_planned(self, trials) -> None:
        self.planned.append([(t.cell.id, t.seed) for t in trials])


def adaptive_study(tmp_path, budget: str = ""):
    from studies.definition import load_study

    path = tmp_path / "adaptive_loop.yaml"
    path.write_text(STUDY.format(budget=budget))
    return load_study(path, workdir=tmp_path)


def test_the_launch_loop_runs_each_trial_once_until_nothing_is_undecided(tmp_path) -> None:
    from studies.adaptive_seeds import run_adaptive

    study = adaptive_study(tmp_path)
    store = FakeStore()
    effect = {"model.pooling=attention": 0.0, "model.pooling=max": 0.2, "model.pooling=mean": 0.0}
    runs: list[tuple[str, int]] = []
    rng = np.random.default_rng(0)

    def run_pass(pending) -> dict[str, str]:
        for trial in pending:
            runs.append((trial.cell.id, trial.seed))
            store.values[(trial.cell.id, trial.seed)] = 0.4 + effect[trial.cell.id] + rng.normal(0, 0.01)
        return {}

    lines: list[str] = []
    ran, failed = run_adaptive(study, study.trials, store, run_pass, say=lines.append)
    assert len(runs) == len(set(runs)) == ran and failed == 0
    assert {seed for cell, seed in runs if cell == "model.pooling=max"} == {1, 2, 3}  # decided at the first look
    assert store.planned[-1] == sorted(runs)
    assert any(line.startswith("  pooling=max vs baseline: better (3 seed pairs") for line in lines)


def test_no_look_starts_past_the_gpu_hour_budget(tmp_path) -> None:
    from studies.adaptive_seeds import run_adaptive

    study = adaptive_study(tmp_path, budget=", budget_gpu_hours: 4")
    store = FakeStore(hours=10.0)  # 10 trial hours at 0.5 GPU each: 5 GPU hours, over the budget of 4
    lines: list[str] = []
    ran, _ = run_adaptive(study, study.trials, store, lambda pending: pytest.fail("ran past the budget"),
                          say=lines.append)
    assert ran == 0
    assert lines[0].startswith("adaptive seeds: the GPU-hour budget is spent (5.00 of 4 h); 9 trials of the next "
                               "look are not run")
