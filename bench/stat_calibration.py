"""Null rejection rate and power of each primary test of a report, and of the ANOVA before seed blocking.

Simulates the calibration test's studies (tests/reports/test_report_planted.py: 2 x 2 cells, 6 seeds sharing a seed
effect, new seed labels and shuffled rows each time; B has no effect, A shifts PSDS1 by two noise sds) and prints,
per test, the share of studies that reject a true null (with its 95 % Monte Carlo interval) and the share that find
the planted effect. "before" is the factorial ANOVA that treated seeds as independent replicates (no block).

    .venv/bin/python bench/stat_calibration.py                     # 1000 studies (about a minute)
    .venv/bin/python bench/stat_calibration.py --studies 4000 --dropped 3
"""
from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reports.stats.anova import factor_effects  # noqa: E402
from reports.stats.comparisons import compare_to_baseline  # noqa: E402

ALPHA = 0.05


def _calibration_test():
    """The calibration test's simulated studies, loaded by path (tests/ is not an installed package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tests" / "reports" / "planted_simulation.py"
    spec = importlib.util.spec_from_file_location("planted_simulation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unblocked(frame: pd.DataFrame) -> pd.Series:
    """p per term of the ANOVA without the seed block (seeds as independent replicates), as reports had it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = anova_lm(ols("psds1 ~ C(A) + C(B) + C(A):C(B)", frame).fit(), typ=2)
    return pd.Series({"A": table.loc["C(A)", "PR(>F)"], "B": table.loc["C(B)", "PR(>F)"],
                      "A × B": table.loc["C(A):C(B)", "PR(>F)"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--dropped", type=int, default=0, help="trials removed at random per study (failed runs)")
    parser.add_argument("--rng", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.rng)
    test = _calibration_test()
    cells, baseline, b_cell, a_cell = list(test.SIM_CELLS.values()), test.BASELINE, test.B_CELL, test.A_CELL
    hits: dict[tuple[str, str], int] = {}
    model = ""
    for _ in range(args.studies):
        frame = test.simulate(rng, dropped=args.dropped, seeds=args.seeds)
        effects = factor_effects(frame, ["A", "B"], "psds1", alpha=ALPHA).set_index("term")
        model = effects["model"].iloc[0]
        before = unblocked(frame)
        compared = compare_to_baseline(frame, cells=cells, baseline=baseline, metrics=["psds1"]).set_index("cell")
        found = {
            (f"F-test, seed-blocked ({model})", "null: B"): effects.loc["B", "p"],
            (f"F-test, seed-blocked ({model})", "null: A × B"): effects.loc["A × B", "p"],
            (f"F-test, seed-blocked ({model})", "power: A"): effects.loc["A", "p"],
            ("F-test, seeds as replicates (before)", "null: B"): before["B"],
            ("F-test, seeds as replicates (before)", "null: A × B"): before["A × B"],
            ("F-test, seeds as replicates (before)", "power: A"): before["A"],
            ("paired t, cell vs baseline", "null: B cell"): compared.loc[b_cell, "p_t"],
            ("paired t, cell vs baseline", "power: A cell"): compared.loc[a_cell, "p_t"],
            ("Wilcoxon, cell vs baseline", "null: B cell"): compared.loc[b_cell, "p_wilcoxon"],
            ("Wilcoxon, cell vs baseline", "power: A cell"): compared.loc[a_cell, "p_wilcoxon"],
            ("paired t, Holm over 3 contrasts", "power: A cell"): compared.loc[a_cell, "p_t_adj"],
        }
        for key, p in found.items():
            hits[key] = hits.get(key, 0) + bool(p < ALPHA)
    half = 1.96 * math.sqrt(ALPHA * (1 - ALPHA) / args.studies)
    print(f"{args.studies} simulated studies: 2 x 2 cells x {args.seeds} seeds, {args.dropped} trials dropped, "
          f"alpha {ALPHA}; a null rate's 95 % Monte Carlo interval around alpha: [{ALPHA - half:.3f}, "
          f"{ALPHA + half:.3f}] (the exact Wilcoxon test's size with {args.seeds} pairs is below alpha)")
    for (test, what), count in hits.items():
        print(f"  {test:<42} {what:<14} {count / args.studies:.3f}")


if __name__ == "__main__":
    main()
