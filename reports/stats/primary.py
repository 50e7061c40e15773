"""The primary verdicts: the analysis plan's family of contrasts on its metric, tested and corrected as declared.

Only these rows say "significant" in a report; every other test it shows is secondary (exploratory)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from reports.fetch.analysis_plan import AnalysisPlan
from reports.fetch.records import FINISHED
from reports.fetch.sequential_design import SequentialSeeds
from reports.stats.anova import UNREPLICATED_NOTE, factor_effects
from reports.stats.comparisons import adjust, all_pairs, compare_cells
from reports.stats.sequential import BETTER, WORSE, contrast_alpha, contrasts_with_baseline

PRIMARY_COLUMNS = ("contrast", "cell", "reference", "metric", "test", "n", "estimate", "ci_low", "ci_high", "p",
                   "p_adj", "significant", "note")
ENDED_STATUSES = (FINISHED, "FAILED")  # a KILLED run was interrupted: a resume continues it
MIN_SEEDS_WARNING = 3  # below this many seeds, intervals and tests rest on one or two differences


def sequential_verdicts(runs: pd.DataFrame, *, cells: Sequence[str], baseline: str, design: SequentialSeeds,
                        plan: AnalysisPlan, metric: str) -> pd.DataFrame:
    """The adaptive design's decision per cell against the baseline, recomputed from the runs as the launcher
    computed it: `estimate` the mean paired difference at the last complete look, `ci_low`/`ci_high` its repeated
    confidence interval, `p` the repeated p-value, `p_adj` it times the contrasts (Bonferroni, as the design
    splits alpha), `significant` better or worse; `note` the decision and the look."""
    contrasts = [cell for cell in cells if cell != baseline]
    ended = runs[runs["status"].isin(ENDED_STATUSES)]
    finished = runs[(runs["status"] == FINISHED) & runs[metric].notna()]
    state = contrasts_with_baseline(
        design, alpha=contrast_alpha(plan.alpha, len(contrasts)), cells=cells, baseline=baseline,
        values=dict(zip(zip(finished["cell"], finished["seed"].astype(int)), finished[metric].astype(float))),
        ended=zip(ended["cell"], ended["seed"].astype(int)))
    rows = []
    for cell, (done, contrast) in state.items():
        last = contrast.looks[-1] if contrast.looks else None
        if contrast.decided_at is not None:
            note = f"{contrast.decision} at look {len(contrast.looks)} ({contrast.decided_at} seed pairs)"
        elif done == len(design.looks):
            note = f"undecided after the last look ({design.max} seeds)"
        else:
            note = f"undecided after {done} of {len(design.looks)} looks"
        rows.append({"contrast": f"{cell} vs {baseline}", "cell": cell, "reference": baseline, "metric": metric,
                     "test": "group_sequential", "n": last.n if last else 0,
                     "estimate": last.diff if last else math.nan, "ci_low": last.low if last else math.nan,
                     "ci_high": last.high if last else math.nan, "p": contrast.p_value,
                     "p_adj": min(1.0, contrast.p_value * len(contrasts)) if not math.isnan(contrast.p_value)
                     else math.nan, "significant": contrast.decision in (
                         BETTER, WORSE), "note": note, "decision": contrast.decision})
    return pd.DataFrame(rows, columns=[*PRIMARY_COLUMNS, "decision"])


def primary_verdicts(finished: pd.DataFrame, *, cells: Sequence[str], baseline: str, factors: Sequence[str],
                     plan: AnalysisPlan, metric: str) -> pd.DataFrame:
    """One row per contrast of the plan's family, in design order; `p_adj` corrected across the family.

    Contrast families: `estimate` is the mean paired difference cell - reference with its 95 % t interval, `n` the
    seed pairs, `p` the plan's test. main_effects: one row per factor, `estimate` its partial η² and `p` the
    seed-blocked F-test; a model without replicates gives no verdict (note says why).
    """
    if plan.family == "main_effects":
        return _main_effects(finished, factors, plan, metric)
    contrasts = all_pairs(cells) if plan.family == "all_pairs" else [(c, baseline) for c in cells if c != baseline]
    compared = compare_cells(finished, contrasts, metrics=[metric], correction=plan.correction, alpha=plan.alpha,
                             test=plan.primary_test)
    p_column = "p_t" if plan.primary_test == "paired_t" else "p_wilcoxon"
    rows = [{"contrast": f"{row['cell']} vs {row['reference']}", "cell": row["cell"], "reference": row["reference"],
             "metric": metric, "test": plan.primary_test, "n": int(row["n_pairs"]), "estimate": row["diff"],
             "ci_low": row["diff_ci_low"], "ci_high": row["diff_ci_high"], "p": row[p_column],
             "p_adj": row[f"{p_column}_adj"], "significant": bool(row["significant"]),
             "note": _without_other_tests(str(row["note"]), plan.primary_test)}
            for _, row in compared.iterrows()]
    return pd.DataFrame(rows, columns=list(PRIMARY_COLUMNS))


def _without_other_tests(note: str, test: str) -> str:
    """The comparison's note without what it says of a test the plan does not use (Wilcoxon's pair minimum)."""
    if test == "wilcoxon":
        return note
    return "; ".join(part for part in note.split("; ") if part and not part.startswith("Wilcoxon needs"))


def _main_effects(finished: pd.DataFrame, factors: Sequence[str], plan: AnalysisPlan, metric: str) -> pd.DataFrame:
    effects = factor_effects(finished, factors, metric, alpha=plan.alpha).set_index("term") if factors else None
    rows = []
    for factor in factors:
        effect = effects.loc[factor]
        rows.append({"contrast": f"main effect of {factor}", "cell": "", "reference": "", "metric": metric,
                     "test": "blocked_f", "n": int(finished[metric].notna().sum()),
                     "estimate": effect["partial_eta_sq"], "ci_low": math.nan, "ci_high": math.nan,
                     "p": effect["p"] if effect["model"] != "unreplicated" else math.nan,
                     "p_adj": math.nan, "significant": False, "note": effect["note"]})
    table = pd.DataFrame(rows, columns=list(PRIMARY_COLUMNS))
    if len(table):
        table["p_adj"] = adjust(table["p"].to_numpy(dtype=float), plan.correction)
        table["significant"] = table["p_adj"] < plan.alpha
        if effects["model"].iloc[0] == "unreplicated":
            table["note"] = UNREPLICATED_NOTE
    return table
