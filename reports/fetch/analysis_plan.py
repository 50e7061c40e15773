"""The analysis plan a study declares before it runs: which metric and contrasts the verdicts are about, which test
decides them and how the family is corrected. Everything else in a report is secondary (exploratory).

A study writes it under `analysis:` (validated here, with the study) and records it on the parent run's
`sedstudy.analysis` tag; a report reads it back (`AnalysisPlan.of`). A store older than the tag gets the default
plan, and the report says the plan was not declared.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from reports.contract import ANALYSIS_AMENDED_TAG, ANALYSIS_TAG
from reports.fetch.tagged_spec import TaggedSpec

FAMILIES = ("vs_baseline", "all_pairs", "main_effects")
CONTRAST_TESTS = ("paired_t", "wilcoxon")
CORRECTIONS = ("holm", "bh")
MIN_WILCOXON_SEEDS = 6  # two-sided exact Wilcoxon cannot go below p = 2 / 2**n, which is over 0.05 for n < 6

FAMILY_TEXT = {
    "vs_baseline": "each cell against the baseline cell",
    "all_pairs": "every pair of cells",
    "main_effects": "the main effect of each factor",
}
TEST_TEXT = {
    "paired_t": "paired t-test over seeds (pairs = the same seed in both cells)",
    "wilcoxon": "Wilcoxon signed-rank test over seeds (pairs = the same seed in both cells)",
    "blocked_f": "F-test of the factor in the factorial model with seed as a block (a random seed effect where "
                 "cells have different seeds)",
}
CORRECTION_TEXT = {"holm": "Holm (family-wise error rate)", "bh": "Benjamini-Hochberg (false discovery rate)"}


class AnalysisPlan(TaggedSpec):
    """`metric`: the primary metric (None: the study's objective). `family`: the primary contrasts. `test`: the
    test of a contrast family (None: paired_t; main_effects is always the seed-blocked F-test). `correction`
    across the family, `alpha`. `clip_bootstrap`: `all` bootstraps every cell against the baseline (a rule that
    never looks at results), `none` skips it."""

    TAG, WHAT = ANALYSIS_TAG, "an analysis plan"

    metric: str | None = None
    family: Literal["vs_baseline", "all_pairs", "main_effects"] = "vs_baseline"
    test: Literal["paired_t", "wilcoxon"] | None = None
    correction: Literal["holm", "bh"] = "holm"
    alpha: float = Field(0.05, gt=0, lt=0.5)
    clip_bootstrap: Literal["all", "none"] = "all"

    @model_validator(mode="after")
    def _check(self) -> AnalysisPlan:
        if self.family == "main_effects" and self.test is not None:
            raise ValueError(f"test: {self.test} has no effect with family: main_effects, whose test is the "
                             "seed-blocked F-test of each factor; remove `test`, or choose family: vs_baseline or "
                             "all_pairs")
        return self

    @property
    def primary_test(self) -> str:
        """paired_t, wilcoxon, or blocked_f (main effects)."""
        return "blocked_f" if self.family == "main_effects" else self.test or "paired_t"

    def primary_metric(self, objective: str) -> str:
        return self.metric or objective

    def with_correction(self, correction: str | None) -> AnalysisPlan:
        """The plan with `correction` (a report's `--correction`) in place of the declared one; None keeps it."""
        if correction is None or correction == self.correction:
            return self
        if correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {list(CORRECTIONS)}, but got {correction!r}")
        return self.model_copy(update={"correction": correction})

    def family_size(self, cells: int, factors: int) -> int:
        """The number of primary tests: contrasts of `cells` cells, or one per factor."""
        return {"vs_baseline": cells - 1, "all_pairs": cells * (cells - 1) // 2, "main_effects": factors}[self.family]

    def describe(self, objective: str, cells: int, factors: int) -> str:
        """One line: what the verdicts will be about (`sedstudy validate`, the dry run)."""
        n = self.family_size(cells, factors)
        return (f"analysis plan: primary metric {self.primary_metric(objective)}; {FAMILY_TEXT[self.family]} "
                f"({n} test{'' if n == 1 else 's'}); {TEST_TEXT[self.primary_test]}; {CORRECTION_TEXT[self.correction]}"
                f", alpha {self.alpha:g}")



def plan_amendments(tags: Mapping[str, str]) -> tuple[tuple[AnalysisPlan, int], ...]:
    """The plans a relaunch replaced after trials had finished, oldest first, each with the finished trials then;
    ValueError naming the tag when it is not that JSON list."""
    raw = tags.get(ANALYSIS_AMENDED_TAG)
    if raw is None:
        return ()
    try:
        return tuple((AnalysisPlan.model_validate(entry["previous"]), int(entry["finished_trials"]))
                     for entry in json.loads(raw))
    except (json.JSONDecodeError, TypeError, KeyError, ValueError, ValidationError) as error:
        raise ValueError(f"tag {ANALYSIS_AMENDED_TAG!r} must hold a JSON list of {{previous, finished_trials}}, but "
                         f"got {raw!r} ({error})") from error
