from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from reports.fetch.load import load_study
from reports.stats.analysis import analyze, ranked_cells
from reports.stats.anova import factor_effects
from reports.stats.comparisons import adjust, compare_to_baseline, holm
from reports.stats.intervals import t_interval

from .conftest import ragged_cell


def test_t_interval_by_hand() -> None:
    mean, low, high = t_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, df=2) * sd 1 / sqrt(3)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    mean, low, high = t_interval([0.4, math.nan])  # one value: no interval, never a zero-width one
    assert mean == 0.4 and math.isnan(low) and math.isnan(high)
    assert all(math.isnan(v) for v in t_interval([]))
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\), but got 95"):
        t_interval([1.0, 2.0], confidence=95)


def reference_holm(p: list[float]) -> list[float]:
    """Holm (1979), step by step: the i-th smallest p times (m - i), never below an earlier one, capped at 1."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def reference_bh(p: list[float]) -> list[float]:
    """Benjamini-Hochberg (1995): m p_(i) / i, then the minimum over all larger ranks, capped at 1."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    for rank, i in enumerate(order):
        out[i] = min(min(1.0, m * p[j] / (later + 1)) for later, j in enumerate(order) if later >= rank)
    return out


def test_holm_and_bh_match_the_references() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.uniform(0, 0.2, int(rng.integers(1, 15)))
        assert holm(p) == pytest.approx(reference_holm(list(p)))
        assert adjust(p, "bh") == pytest.approx(reference_bh(list(p)))
    p = rng.uniform(0, 0.2, 6)
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])  # and the statistics library agrees
    with_nan = np.concatenate([p[:3], [math.nan]])
    adjusted = adjust(with_nan, "holm")
    assert math.isnan(adjusted[3]) and adjusted[:3] == pytest.approx(reference_holm(list(p[:3])))


def _frame(values: dict[str, dict[int, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"cell": cell, "seed": seed, "m": value} for cell, by_seed in values.items()
                         for seed, value in by_seed.items()])


def test_paired_comparison_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    base = {seed: 0.4 + rng.normal(0, 0.01) for seed in range(7)}
    better = {seed: value + 0.02 + rng.normal(0, 0.01) for seed, value in base.items()}
    few = {0: 0.5, 1: 0.52, 2: 0.49, 9: 0.7}  # seed 9 has no baseline pair
    table = compare_to_baseline(_frame({"base": base, "better": better, "few": few, "empty": {}}),
                                cells=["base", "better", "few", "empty", "absent"], baseline="base", metrics=["m"])
    assert list(table["cell"]) == ["better", "few", "empty", "absent"]
    row = table.iloc[0]
    a, b = np.array(list(base.values())), np.array(list(better.values()))
    assert row["n_pairs"] == 7
    assert row["diff"] == pytest.approx((b - a).mean())
    assert (row["diff_ci_low"], row["diff_ci_high"]) == pytest.approx(t_interval(b - a)[1:])
    assert row["t"] == pytest.approx(stats.ttest_rel(b, a).statistic)
    assert row["p_t"] == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert row["p_wilcoxon"] == pytest.approx(stats.wilcoxon(b - a).pvalue)
    few_row = table.iloc[1]
    assert few_row["n_pairs"] == 3 and math.isnan(few_row["p_wilcoxon"])
    assert few_row["note"] == "seeds without a pair in the reference cell: 9; Wilcoxon needs 6 pairs"
    p = np.array([row["p_t"], few_row["p_t"]])
    assert table["p_t_adj"].iloc[:2].to_numpy() == pytest.approx(reference_holm(list(p)))
    assert list(table["note"].iloc[2:]) == ["no finished runs", "no finished runs"]
    assert table["p_t"].iloc[2:].isna().all() and not table["significant"].iloc[2:].any()


def test_wilcoxon_batches_match_scipy_row_by_row() -> None:
    rng = np.random.default_rng(5)
    base = {seed: 0.4 + rng.normal(0, 0.01) for seed in range(8)}
    tied = [0.01, 0.01, -0.02, 0.03, 0.0, 0.05, 0.02, 0.04]  # a zero and tied magnitudes: scipy's own handling
    cells = {"base": base, "clean": {s: v + rng.normal(0.01, 0.01) for s, v in base.items()},
             "tied": {s: v + d for (s, v), d in zip(base.items(), tied)},
             "clean2": {s: v + rng.normal(0.0, 0.01) for s, v in base.items()}}
    table = compare_to_baseline(_frame(cells), cells=list(cells), baseline="base", metrics=["m"]).set_index("cell")
    for cell in ("clean", "tied", "clean2"):
        diffs = np.array([cells[cell][s] - base[s] for s in range(8)])
        assert table.loc[cell, "p_wilcoxon"] == pytest.approx(stats.wilcoxon(diffs).pvalue), cell
        assert table.loc[cell, "p_t"] == pytest.approx(stats.ttest_1samp(diffs, 0.0).pvalue), cell


def test_comparison_edge_cases() -> None:
    frame = _frame({"base": {0: 0.4, 1: 0.5}, "same_shift": {0: 0.45, 1: 0.55}, "one": {1: 0.3}})
    table = compare_to_baseline(frame, cells=["base", "same_shift", "one"], baseline="base", metrics=["m"],
                                correction="bh")
    assert table.iloc[0]["diff"] == pytest.approx(0.05) and math.isnan(table.iloc[0]["p_t"])
    assert table.iloc[0]["note"] == "the difference is the same for every seed: no test"
    assert table.iloc[1]["note"] == "1 paired seed(s), a test needs 2"
    no_base = compare_to_baseline(frame, cells=["gone", "one"], baseline="gone", metrics=["m"])
    assert list(no_base["note"]) == ["the reference cell has no finished runs"]
    with pytest.raises(ValueError, match=r"correction must be one of \['holm', 'bh'\], but got 'bonferroni'"):
        compare_to_baseline(frame, cells=["base"], baseline="base", metrics=["m"], correction="bonferroni")


def _balanced(seed: int = 0, n: int = 4) -> pd.DataFrame:
    """2 x 2 cells, seeds 10, 13, 16, ... shared by every cell, each seed shifting every cell alike."""
    rng = np.random.default_rng(seed)
    shift = {10 + 3 * k: rng.normal(0, 0.5) for k in range(n)}
    rows = [{"seed": s, "A": a, "B": b,
             "y": 1.0 * (a == "a2") + 0.5 * (a == "a2") * (b == "b2") + shift[s] + rng.normal(0, 0.3)}
            for a in ("a1", "a2") for b in ("b1", "b2") for s in shift]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed)  # rows in no particular order


def test_blocked_anova_matches_sums_of_squares_by_hand() -> None:
    """A randomised complete block design: the seed's SS leaves the residual, the factors' SS are unchanged."""
    data = _balanced()
    table = factor_effects(data, ["A", "B"], "y").set_index("term")
    grand = data["y"].mean()
    ss_a = sum(len(g) * (g["y"].mean() - grand) ** 2 for _, g in data.groupby("A"))
    ss_b = sum(len(g) * (g["y"].mean() - grand) ** 2 for _, g in data.groupby("B"))
    ss_seed = sum(len(g) * (g["y"].mean() - grand) ** 2 for _, g in data.groupby("seed"))
    cell_means = data.groupby(["A", "B"])["y"].transform("mean")
    ss_within = float(((data["y"] - cell_means) ** 2).sum())
    ss_ab = float(((cell_means - grand) ** 2).sum()) - ss_a - ss_b  # balanced: the cells' SS splits exactly
    ss_res = ss_within - ss_seed
    df_res = len(data) - 4 - (data["seed"].nunique() - 1)
    assert set(table["model"]) == {"blocked"}
    assert table.loc["A", "sum_sq"] == pytest.approx(ss_a)
    assert table.loc["A × B", "sum_sq"] == pytest.approx(ss_ab)
    assert table.loc["seed (block)", "sum_sq"] == pytest.approx(ss_seed)
    assert table.loc["residual", "df"] == df_res and table.loc["residual", "sum_sq"] == pytest.approx(ss_res)
    assert table.loc["B", "F"] == pytest.approx(ss_b / (ss_res / df_res))
    assert table.loc["A", "p"] == pytest.approx(stats.f.sf(ss_a / (ss_res / df_res), 1, df_res))
    assert table.loc["A", "partial_eta_sq"] == pytest.approx(ss_a / (ss_a + ss_res))
    assert list(table.index) == ["A", "B", "A × B", "seed (block)", "residual"]


def test_two_cells_blocked_f_is_the_paired_t_squared() -> None:
    """With one two-level factor, the blocked F-test is the paired t-test over seeds (F = t², same p)."""
    data = _balanced()
    data = data[data["B"] == "b1"]
    table = factor_effects(data, ["A"], "y").set_index("term")
    a1 = data[data["A"] == "a1"].sort_values("seed")["y"].to_numpy()
    a2 = data[data["A"] == "a2"].sort_values("seed")["y"].to_numpy()
    paired = stats.ttest_rel(a2, a1)
    assert table.loc["A", "F"] == pytest.approx(paired.statistic ** 2)
    assert table.loc["A", "p"] == pytest.approx(paired.pvalue)


def test_mixed_model_where_cells_have_different_seeds() -> None:
    data = _balanced(n=5)
    data = data[~((data["A"] == "a2") & (data["B"] == "b2") & (data["seed"] == 10))]  # one trial failed
    table = factor_effects(data, ["A", "B"], "y").set_index("term")
    assert set(table["model"]) == {"mixed"}
    assert table.loc["residual", "df"] == len(data) - 4 - (5 - 1)
    assert table.loc["A", "p"] < 0.05 and 0 < table.loc["A", "partial_eta_sq"] < 1
    assert "seed variance" in table.loc["residual", "note"]


def test_one_seed_gives_no_verdict() -> None:
    single = _balanced(n=1)  # one run per cell: the interaction is the residual
    table = factor_effects(single, ["A", "B"], "y").set_index("term")
    assert set(table["model"]) == {"unreplicated"}
    assert table.loc["A × B", "note"] == "left out: no runs left for a residual (add seeds)"
    assert table.loc["residual", "df"] == 1
    assert not table["significant"].any() and table.loc["A", "note"].startswith("no verdict")


def test_anova_keeps_terms_it_cannot_estimate() -> None:
    data = _balanced()
    gap = data[~((data["A"] == "a2") & (data["B"] == "b2"))].assign(C="c1")  # one combination never finished
    table = factor_effects(gap, ["A", "B", "C"], "y").set_index("term")
    assert table.loc["C", "note"] == "one level with finished runs: no effect to test"
    assert table.loc["A × B", "note"] == "not estimable: level combinations without finished runs"
    assert table.loc["A × C", "note"] == "a factor of the pair has one level with finished runs"
    assert table.loc["A", "p"] < 0.05 and math.isnan(table.loc["A × B", "p"])
    flat = factor_effects(data.assign(y=0.0), ["A", "B"], "y").set_index("term")
    assert flat.loc["A", "note"] == "the metric does not vary: every finished trial has the same value"
    assert flat["p"].isna().all() and not flat["significant"].any()
    with pytest.raises(ValueError, match="expected a seed column"):
        factor_effects(data.drop(columns="seed"), ["A", "B"], "y")


def test_ragged_study_statistics(store) -> None:
    runs = load_study(store.uri, "ragged")
    analysis = analyze(runs)
    comparisons = analysis.comparisons.set_index(["cell", "metric"])
    assert len(comparisons) == 5 * 3  # every non-baseline cell and metric, none dropped
    assert comparisons.loc[(ragged_cell("max", "0.5"), "psds1"), "note"] == "no finished runs"
    assert comparisons.loc[(ragged_cell("mean", "0.5"), "psds1"), "note"] == "1 paired seed(s), a test needs 2"
    diff = comparisons.loc[(ragged_cell("attention", "0.0"), "psds1"), "diff"]
    assert diff == pytest.approx(-0.01)  # mixup 0.0 loses 0.01 at every paired seed
    summary = analysis.summary.set_index("cell")
    assert summary.loc[ragged_cell("max", "0.0"), "n_running"] == 1
    assert math.isnan(summary.loc[ragged_cell("mean", "0.5"), "psds1_ci_low"])  # one seed: n/a, not zero width
    effects = analysis.effects
    assert set(effects["metric"]) == {"psds1", "psds2", "collar_f1"}
    assert ranked_cells(runs, analysis.summary, 3) == [ragged_cell("attention", "0.5"),
                                                        ragged_cell("attention", "0.0"), ragged_cell("max", "0.0")]


def sweep(levels: int, seeds: tuple[int, ...], *, drop_every: int = 0) -> pd.DataFrame:
    """One factor of `levels` levels (a learning-rate sweep), every level on `seeds`, every `drop_every`-th run
    missing (cells then have different seeds)."""
    rng = np.random.default_rng(0)
    rows = [{"lr": f"{i:04d}", "seed": seed, "psds1": 0.3 + 0.001 * i + 0.01 * rng.standard_normal()}
            for i in range(levels) for seed in seeds]
    if drop_every:
        rows = [row for k, row in enumerate(rows) if k % drop_every]
    return pd.DataFrame(rows)


def test_a_factor_of_hundreds_of_levels_is_fitted_without_the_mixed_model_or_not_at_all() -> None:
    incomplete = factor_effects(sweep(250, (1, 2, 3), drop_every=7), ["lr"], "psds1")
    assert set(incomplete["model"]) == {"blocked"}  # cells with different seeds, too many columns for mixedlm
    assert incomplete.set_index("term").loc["lr", "df"] == 249
    huge = factor_effects(sweep(450, (1, 2)), ["lr"], "psds1")
    assert set(huge["model"]) == {"none"}
    note = huge.set_index("term").loc["lr", "note"]
    assert note == ("not fitted: 450 levels make a model of 450 columns (at most 400); the per-cell intervals and "
                    "comparisons stand")
    assert math.isnan(huge.set_index("term").loc["lr", "p"])
