"""The calibration studies: 2 x 2 cells with a shared seed effect, new seed labels and shuffled rows each time; factor
B has no effect, A shifts PSDS1 by SHIFT. Used by tests/reports/test_report_planted.py and bench/stat_calibration.py
(which loads this file by its path)."""
from __future__ import annotations

import numpy as np
import pandas as pd

SHIFT = 0.02  # the planted effect of A on PSDS1: two noise sds
NOISE, SEED_SD, SEEDS = 0.01, 0.01, 6
WILCOXON_SIZE = 2 / 2 ** SEEDS  # the exact two-sided test's largest p below 0.05 with 6 pairs: its true size
SIM_CELLS = {("a1", "b1"): "A=a1|B=b1", ("a1", "b2"): "A=a1|B=b2", ("a2", "b1"): "A=a2|B=b1",
             ("a2", "b2"): "A=a2|B=b2"}
BASELINE = SIM_CELLS[("a1", "b1")]
B_CELL, A_CELL = SIM_CELLS[("a1", "b2")], SIM_CELLS[("a2", "b1")]


def simulate(rng: np.random.Generator, shift: float = SHIFT, dropped: int = 0, seeds: int = SEEDS) -> pd.DataFrame:
    """One study: psds1 = 0.4 + shift [A=a2] + seed effect (shared by the cells) + noise; B does nothing. Seeds get
    new labels, `dropped` trials are removed at random (failed runs), and the rows come shuffled."""
    labels = rng.choice(np.arange(100, 100_000), seeds, replace=False)
    seed_effect = rng.normal(0.0, SEED_SD, seeds)
    rows = [{"cell": cell, "seed": int(labels[k]), "A": a, "B": b,
             "psds1": 0.4 + shift * (a == "a2") + seed_effect[k] + rng.normal(0.0, NOISE)}
            for (a, b), cell in SIM_CELLS.items() for k in range(seeds)]
    frame = pd.DataFrame(rows)
    if dropped:
        frame = frame.drop(index=rng.choice(len(frame), dropped, replace=False))
    return frame.sample(frac=1.0, random_state=int(rng.integers(2 ** 31))).reset_index(drop=True)
