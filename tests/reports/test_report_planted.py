"""Calibration of the primary tests: a factor without effect is flagged at the nominal rate (within the Monte Carlo
interval around alpha, not only below it), a planted effect is found, and the report built from a store draws the
verdicts the in-memory statistics draw.

Each simulated study draws new seed labels and shuffles its rows, so a test that paired runs by row order instead of
by seed would lose the shared seed effect and fall below the interval (as the ANOVA without a seed block does:
about 0.01 at alpha 0.05 here)."""
from __future__ import annotations

import dataclasses
import gc
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from reports.build import build_report
from reports.fetch.analysis_plan import AnalysisPlan
from reports.fetch.load import load_study
from reports.stats.analysis import analyze
from reports.stats.anova import factor_effects
from reports.stats.comparisons import compare_to_baseline
from reports.stats.primary import primary_verdicts

from .conftest import CELL_A, CELL_B, CELL_C, CELL_D
from .planted_simulation import A_CELL, B_CELL, BASELINE, SIM_CELLS, WILCOXON_SIZE, simulate

ALPHA = 0.05
REPETITIONS = 500
Z99 = 2.576  # a 99 % Monte Carlo interval: the rates below are checked together, and each must hold
@pytest.fixture
def frozen_heap() -> Iterator[None]:
    """Keep the cyclic garbage collector off the objects that exist before the loop (matplotlib, MLflow, ...):
    the repetitions allocate a lot, and every full collection would walk that heap again."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def interval(rate: float, repetitions: int = REPETITIONS) -> tuple[float, float]:
    half = Z99 * math.sqrt(rate * (1 - rate) / repetitions)
    return rate - half, rate + half


def test_fixture_study_report_follows_the_plan(store, tmp_path) -> None:
    """Store -> report: the planted study's primary verdicts (the default plan: each cell against the baseline,
    paired t, Holm) flag the pooling=mean cells only, and equal the in-memory verdicts on the same runs."""
    paths = build_report(store.uri, "planted", tmp_path, clip_statistic=None, learning_curves=False)
    primary = pd.read_csv(tmp_path / "primary.csv")
    assert list(primary["cell"]) == [CELL_B, CELL_C, CELL_D] and set(primary["reference"]) == {CELL_A}
    assert list(primary["significant"]) == [False, True, True]  # pooling=mean; CELL_B differs in mixup only
    runs = load_study(store.uri, "planted")
    finished = runs.runs[runs.runs["status"] == "FINISHED"]
    expected = primary_verdicts(finished, cells=runs.cells, baseline=runs.baseline_cell, factors=runs.factors,
                                plan=AnalysisPlan(), metric="psds1")
    assert primary["p_adj"].to_numpy() == pytest.approx(expected["p_adj"].to_numpy(), rel=1e-12)
    text = paths.markdown.read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Analysis plan and primary verdicts"
    assert "Not declared: the study was recorded before sedstudy kept analysis plans" in text
    effects = pd.read_csv(paths.effects_csv).set_index(["metric", "term"])
    assert set(effects["model"]) == {"blocked"}  # every cell finished every seed: seed is a complete block
    assert effects.loc[("psds1", "model.pooling"), "p"] < 0.001
    assert not effects["significant"].any() and set(effects["role"]) == {"secondary"}  # the plan's family differs


def test_main_effects_plan_from_the_store(store) -> None:
    runs = load_study(store.uri, "planted")
    plan = AnalysisPlan(family="main_effects")
    analysis = analyze(dataclasses.replace(runs, plan=plan))
    verdicts = analysis.primary.set_index("contrast")["significant"]
    assert verdicts.to_dict() == {"main effect of model.pooling": True,
                                  "main effect of training.mixup.probability": False}
    effects = analysis.effects.set_index(["metric", "term"])
    assert effects.loc[("psds1", "model.pooling"), "role"] == "primary"
    assert effects.loc[("psds1", "model.pooling"), "significant"]
    assert not effects.loc[("psds2", "model.pooling"), "significant"]  # another metric: secondary


@pytest.mark.slow
def test_null_rates_sit_within_their_monte_carlo_intervals(frozen_heap: None) -> None:
    """Each primary test's rejection rate of a true null lies within the 99 % Monte Carlo interval around its size
    (alpha; the Wilcoxon test's exact size with 6 pairs); the planted effect is found."""
    rng = np.random.default_rng(2024)
    hits: dict[str, int] = {}

    def count(key: str, flagged: bool) -> None:
        hits[key] = hits.get(key, 0) + bool(flagged)

    for _ in range(REPETITIONS):
        for dropped, model in ((0, "blocked"), (3, "mixed")):
            frame = simulate(rng, dropped=dropped)
            effects = factor_effects(frame, ["A", "B"], "psds1", alpha=ALPHA).set_index("term")
            assert set(effects["model"]) == {model}
            count(f"{model} F, B (null)", effects.loc["B", "p"] < ALPHA)
            count(f"{model} F, A × B (null)", effects.loc["A × B", "p"] < ALPHA)
            count(f"{model} F, A (power)", effects.loc["A", "p"] < ALPHA)
        frame = simulate(rng)
        compared = compare_to_baseline(frame, cells=list(SIM_CELLS.values()), baseline=BASELINE,
                                       metrics=["psds1"]).set_index("cell")
        count("paired t, B cell (null)", compared.loc[B_CELL, "p_t"] < ALPHA)
        count("Wilcoxon, B cell (null)", compared.loc[B_CELL, "p_wilcoxon"] < ALPHA)
        count("paired t, A cell (power)", compared.loc[A_CELL, "p_t"] < ALPHA)
        count("Holm family, A cell (power)", compared.loc[A_CELL, "significant"])
    rates = {key: value / REPETITIONS for key, value in hits.items()}
    print(f"rates over {REPETITIONS} simulated studies (alpha {ALPHA}): {rates}")
    for key, rate in rates.items():
        if key.endswith("(null)"):
            low, high = interval(WILCOXON_SIZE if key.startswith("Wilcoxon") else ALPHA)
            assert low <= rate <= high, (key, rate, (low, high))
    assert rates["blocked F, A (power)"] >= 0.9 and rates["mixed F, A (power)"] >= 0.9, rates
    assert rates["paired t, A cell (power)"] >= 0.6 and rates["Holm family, A cell (power)"] >= 0.4, rates


@pytest.mark.slow
@pytest.mark.parametrize("correction", ["holm", "bh"])
def test_no_effect_anywhere_keeps_the_family_rate(correction: str, frozen_heap: None) -> None:
    """All cells equal: the family's chance of any verdict lies between alpha / m (at least the smallest p of m
    tests) and alpha (Holm keeps the family-wise rate; BH's false-discovery rate equals it here)."""
    rng = np.random.default_rng(11)
    plan = AnalysisPlan(correction=correction)
    repetitions = 300
    any_flagged = 0
    for _ in range(repetitions):
        frame = simulate(rng, shift=0.0)
        verdicts = primary_verdicts(frame, cells=list(SIM_CELLS.values()), baseline=BASELINE, factors=["A", "B"],
                                    plan=plan, metric="psds1")
        any_flagged += bool(verdicts["significant"].any())
    rate = any_flagged / repetitions
    assert interval(ALPHA / 3, repetitions)[0] <= rate <= interval(ALPHA, repetitions)[1], rate
