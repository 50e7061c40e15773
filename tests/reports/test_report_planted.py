"""Planted effects: a factor that truly shifts PSDS1 must be flagged; a factor without effect must be flagged at no
more than the nominal rate over many repetitions (simulated in memory with the report's statistics functions)."""
from __future__ import annotations

import gc
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from reports.fetch.load import load_study
from reports.stats.analysis import analyze
from reports.stats.anova import factor_effects
from reports.stats.comparisons import compare_to_baseline
from reports.tables.render import to_markdown
from reports.tables.study import effects_table

from .conftest import CELL_A, CELL_B, CELL_C, CELL_D

ALPHA = 0.05
REPETITIONS = 500
SLACK = 3 * math.sqrt(ALPHA * (1 - ALPHA) / REPETITIONS)  # three binomial standard errors: 0.029
SHIFT = 0.02  # the planted effect of A on PSDS1: two noise sds
NOISE, SEED_SD, SEEDS = 0.01, 0.01, 6
SIM_CELLS = {("a1", "b1"): "A=a1|B=b1", ("a1", "b2"): "A=a1|B=b2", ("a2", "b1"): "A=a2|B=b1",
             ("a2", "b2"): "A=a2|B=b2"}
BASELINE = SIM_CELLS[("a1", "b1")]


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


def simulate(rng: np.random.Generator) -> pd.DataFrame:
    """One study: psds1 = 0.4 + SHIFT [A=a2] + seed effect (shared by the cells) + noise; B does nothing."""
    seed_effect = rng.normal(0.0, SEED_SD, SEEDS)
    rows = [{"cell": cell, "seed": seed, "A": a, "B": b,
             "psds1": 0.4 + SHIFT * (a == "a2") + seed_effect[seed] + rng.normal(0.0, NOISE)}
            for (a, b), cell in SIM_CELLS.items() for seed in range(SEEDS)]
    return pd.DataFrame(rows)


def test_fixture_study_flags_the_planted_factor_only(store) -> None:
    runs = load_study(store.uri, "planted")
    analysis = analyze(runs)
    effects = analysis.effects[analysis.effects["metric"] == "psds1"].set_index("term")
    assert effects.loc["model.pooling", "significant"] and effects.loc["model.pooling", "p"] < 0.001
    assert not effects.loc["training.mixup.probability", "significant"]
    assert not effects.loc["model.pooling × training.mixup.probability", "significant"]
    flagged = analysis.comparisons[(analysis.comparisons["metric"] == "psds1") & analysis.comparisons["significant"]]
    assert set(flagged["cell"]) == {CELL_C, CELL_D}  # pooling=mean; CELL_B differs from the baseline in mixup only
    assert CELL_B not in set(flagged["cell"]) and CELL_A == runs.baseline_cell
    lines = to_markdown(effects_table(analysis.effects, alpha=ALPHA)).splitlines()
    assert any(line.startswith("| PSDS1 | model.pooling | 1 |") and "**yes**" in line for line in lines)
    assert any(line.startswith("| PSDS1 | training.mixup.probability | 1 |") and "yes" not in line
               for line in lines)


def test_planted_effect_power_and_null_rate_over_repetitions(frozen_heap: None) -> None:
    rng = np.random.default_rng(2024)
    hits = {"A": 0, "B": 0, "A × B": 0, "A vs baseline": 0, "B vs baseline": 0}
    for _ in range(REPETITIONS):
        frame = simulate(rng)
        effects = factor_effects(frame, ["A", "B"], "psds1", alpha=ALPHA).set_index("term")["significant"]
        compared = compare_to_baseline(frame, cells=list(SIM_CELLS.values()), baseline=BASELINE, metrics=["psds1"],
                                       alpha=ALPHA).set_index("cell")["significant"]
        hits["A"] += bool(effects["A"])
        hits["B"] += bool(effects["B"])
        hits["A × B"] += bool(effects["A × B"])
        hits["A vs baseline"] += bool(compared[SIM_CELLS[("a2", "b1")]])
        hits["B vs baseline"] += bool(compared[SIM_CELLS[("a1", "b2")]])
    rates = {key: count / REPETITIONS for key, count in hits.items()}
    print(f"planted-effect rates over {REPETITIONS} repetitions (alpha {ALPHA}, slack {SLACK:.3f}): {rates}")
    assert rates["A"] >= 0.8, rates  # power of the ANOVA main effect
    assert rates["A vs baseline"] >= 0.5, rates  # power of the Holm-corrected paired test (6 pairs, 3 tests)
    for null in ("B", "A × B", "B vs baseline"):
        assert rates[null] <= ALPHA + SLACK, (null, rates)


@pytest.mark.parametrize("correction", ["holm", "bh"])
def test_no_effect_anywhere_is_rarely_flagged(correction: str, frozen_heap: None) -> None:
    """All cells equal: Holm keeps the family-wise rate, BH the false-discovery rate (= FWER here) under alpha."""
    rng = np.random.default_rng(11)
    any_flagged = 0
    repetitions = 200
    for _ in range(repetitions):
        frame = simulate(rng).assign(psds1=lambda f: f["psds1"] - SHIFT * (f["A"] == "a2"))
        compared = compare_to_baseline(frame, cells=list(SIM_CELLS.values()), baseline=BASELINE, metrics=["psds1"],
                                       correction=correction, alpha=ALPHA)
        any_flagged += bool(compared["significant"].any())
    assert any_flagged / repetitions <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / repetitions)
