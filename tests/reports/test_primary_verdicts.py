"""The analysis plan's primary verdicts, family by family, and the plan as the parent run records it."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reports.contract import ANALYSIS_TAG
from reports.fetch.analysis_plan import AnalysisPlan
from reports.stats.anova import factor_effects
from reports.stats.comparisons import adjust, compare_cells
from reports.stats.primary import primary_verdicts

CELLS = ["A=a1|B=b1", "A=a1|B=b2", "A=a2|B=b1", "A=a2|B=b2"]


def frame(seeds: int = 6, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.choice(np.arange(50, 5000), seeds, replace=False)
    shift = rng.normal(0, 0.02, seeds)
    rows = [{"cell": cell, "seed": int(labels[k]), "A": cell[2:4], "B": cell[-2:],
             "m": 0.4 + 0.03 * (cell[2:4] == "a2") + shift[k] + rng.normal(0, 0.01)}
            for cell in CELLS for k in range(seeds)]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed)


def verdicts(data: pd.DataFrame, **plan: object) -> pd.DataFrame:
    return primary_verdicts(data, cells=CELLS, baseline=CELLS[0], factors=["A", "B"], plan=AnalysisPlan(**plan),
                            metric="m")


def test_each_family_is_its_own_set_of_contrasts() -> None:
    data = frame()
    baseline = verdicts(data)
    assert list(baseline["cell"]) == CELLS[1:] and set(baseline["reference"]) == {CELLS[0]}
    pairs = verdicts(data, family="all_pairs", correction="bh")
    assert len(pairs) == 6
    raw = compare_cells(data, list(zip(pairs["cell"], pairs["reference"])), metrics=["m"])
    assert pairs["p"].to_numpy() == pytest.approx(raw["p_t"].to_numpy())
    assert pairs["p_adj"].to_numpy() == pytest.approx(adjust(raw["p_t"].to_numpy(), "bh"))  # the family of 6
    effects = verdicts(data, family="main_effects")
    anova = factor_effects(data, ["A", "B"], "m").set_index("term")
    assert list(effects["contrast"]) == ["main effect of A", "main effect of B"]
    assert effects["p"].to_numpy() == pytest.approx(anova.loc[["A", "B"], "p"].to_numpy())
    assert list(effects["significant"]) == [True, False] and set(effects["test"]) == {"blocked_f"}


def test_wilcoxon_decides_when_the_plan_says_so() -> None:
    data = frame()
    table = verdicts(data, test="wilcoxon")
    raw = compare_cells(data, [(cell, CELLS[0]) for cell in CELLS[1:]], metrics=["m"])
    assert table["p"].to_numpy() == pytest.approx(raw["p_wilcoxon"].to_numpy())
    assert list(table["significant"]) == list(raw["p_wilcoxon_adj"] < 0.05)


def test_one_seed_draws_no_verdict() -> None:
    data = frame(seeds=1)
    contrasts = verdicts(data)
    assert contrasts["p"].isna().all() and not contrasts["significant"].any()
    assert set(contrasts["note"]) == {"1 paired seed(s), a test needs 2"}
    effects = verdicts(data, family="main_effects")
    assert effects["p"].isna().all() and not effects["significant"].any()
    assert set(effects["note"]) == {"no verdict: one run per cell, the residual is the pooled higher-order "
                                    "interactions"}


def test_the_recorded_plan_round_trips_and_a_bad_one_is_named() -> None:
    plan = AnalysisPlan(metric="psds2", family="all_pairs", test="wilcoxon", correction="bh", alpha=0.01)
    assert AnalysisPlan.of({ANALYSIS_TAG: plan.record()}) == plan
    assert AnalysisPlan.of({}) is None  # a store older than declared plans
    with pytest.raises(ValueError, match="tag 'sedstudy.analysis' must hold the JSON of an analysis plan"):
        AnalysisPlan.of({ANALYSIS_TAG: json.dumps({"family": "favourites"})})
    assert plan.with_correction("holm").correction == "holm" and plan.with_correction(None) is plan


def test_the_cli_offers_the_plans_corrections() -> None:
    """`sedstudy report --correction` spells the choices itself (its parser imports no pydantic model)."""
    from reports.fetch.analysis_plan import CORRECTIONS
    from studies.cli.report import CORRECTIONS as CLI_CORRECTIONS

    assert CLI_CORRECTIONS == CORRECTIONS
