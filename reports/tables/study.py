"""The report's tables as `Table`s: the paper table, intervals per cell, baseline comparisons, factor effects."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from reports.stats.anova import MODELS
from reports.stats.comparisons import MIN_WILCOXON_PAIRS
from reports.stats.primary import MIN_SEEDS_WARNING
from reports.stats.summary import factor_columns
from reports.tables.model import Table, TableCell

DECIMALS = 3
DASH = "–"
DAGGER = "†"
WARNING_SIGN = "⚠"
METRIC_NAMES = {"psds1": "PSDS1", "psds2": "PSDS2", "collar_f1": "collar F1", "intersection_f1": "intersection F1",
                "psds1_t50": "PSDS1@50", "psds2_t50": "PSDS2@50"}
PSDS_CONVENTIONS = {
    "exact": "PSDS1, PSDS2: exact, the PSD-ROC over every threshold (sed_scores_eval)",
    "t50": "PSDS1@50, PSDS2@50: the PSD-ROC at 50 thresholds 0.01..0.99 step 0.02, the convention DCASE 2022 papers "
           "published (DESED_task with psds_eval), 0.01 or so below the exact value",
}

CellLink = Callable[[str], str | None]  # cell id -> where its runs are listed (an in-page anchor)


def metric_name(metric: str) -> str:
    """Display name of a metric key (`psds1` -> `PSDS1`); unknown keys stay as they are."""
    return METRIC_NAMES.get(metric, metric)


def convention_notes(metrics: Sequence[str]) -> tuple[str, ...]:
    """The PSDS convention of each PSDS metric a table shows, one note per convention."""
    shown = set(metrics)
    return tuple(note for kind, note in PSDS_CONVENTIONS.items()
                 if shown & ({"psds1", "psds2"} if kind == "exact" else {"psds1_t50", "psds2_t50"}))


def paper_table(summary: pd.DataFrame, comparisons: pd.DataFrame, metrics: Sequence[str], *, factors: Sequence[str],
                objective: str, objective_mode: str, correction: str, alpha: float,
                link: CellLink = lambda cell: None) -> Table:
    """Rows = cells (baseline first), columns = factor levels, n, `mean ± sd` per metric, note.

    Bold: the best mean per column (max, or min for the objective when its mode is "min"), ties at the shown
    precision all bold. †: a primary verdict of the analysis plan says the cell differs from the baseline (the
    comparisons' `significant`, True on primary rows only). n reads
    finished/planned; failed, missing and running trials are named in the note, and a cell without finished
    runs shows dashes.
    """
    factors = factor_columns(summary, factors)
    best = {metric: _best(summary[f"{metric}_mean"], lower=metric == objective and objective_mode == "min")
            for metric in metrics}
    flagged = set(zip(comparisons.loc[comparisons["significant"], "cell"],
                      comparisons.loc[comparisons["significant"], "metric"]))
    rows = []
    for _, cell in summary.iterrows():
        row = [TableCell(str(cell[factor])) for factor in factors]
        row.append(TableCell(_n(cell)))
        for metric in metrics:
            mean, sd = cell[f"{metric}_mean"], cell[f"{metric}_sd"]
            text = DASH if math.isnan(mean) else f"{mean:.{DECIMALS}f} ± " + (
                "n/a" if math.isnan(sd) else f"{sd:.{DECIMALS}f}")
            if (cell["cell"], metric) in flagged:
                text += f" {DAGGER}"
            is_best = not math.isnan(mean) and round(mean, DECIMALS) == best[metric]
            row.append(TableCell(text, bold=is_best, link=link(cell["cell"]),
                                 title=f"{cell[f'{metric}_n']} runs" if not math.isnan(mean) else None))
        row.append(TableCell(_note(cell)))
        rows.append(tuple(row))
    header = (*factors, "n", *(metric_name(metric) for metric in metrics), "note")
    notes = ((f"Mean ± sd over seeds (finished trials; n = finished / planned). Bold: best per column. "
              f"{DAGGER}: differs from the baseline cell by the analysis plan's primary test (paired over seeds, "
              f"{correction_name(correction)}-corrected p < {alpha:g}); the other columns carry no verdict."),
             *convention_notes(metrics))
    return Table(name="paper", caption="Results per cell", header=header,
                 align=("l",) * len(factors) + ("r",) + ("c",) * len(metrics) + ("l",), rows=tuple(rows), notes=notes)


def interval_table(summary: pd.DataFrame, metrics: Sequence[str], *, factors: Sequence[str],
                   link: CellLink = lambda cell: None) -> Table:
    """Rows = cells; per metric `mean [95 % CI]` (Student t over seeds; n/a below two seeds, and a warning sign
    below MIN_SEEDS_WARNING)."""
    factors = factor_columns(summary, factors)
    rows = []
    for _, cell in summary.iterrows():
        row = [TableCell(str(cell[factor])) for factor in factors]
        row.append(TableCell(str(cell["n_finished"])))
        for metric in metrics:
            mean, low, high = (cell[f"{metric}_{stat}"] for stat in ("mean", "ci_low", "ci_high"))
            n = int(cell[f"{metric}_n"])
            if math.isnan(mean):
                text = DASH
            elif math.isnan(low):
                text = f"{mean:.{DECIMALS}f} [n/a]"
            else:
                text = f"{mean:.{DECIMALS}f} [{low:.{DECIMALS}f}, {high:.{DECIMALS}f}]"
            if not math.isnan(mean) and n != cell["n_finished"]:
                text += f" (n={n})"
            if not math.isnan(mean) and n < MIN_SEEDS_WARNING:
                text += f" {WARNING_SIGN}"
            row.append(TableCell(text, link=link(cell["cell"])))
        rows.append(tuple(row))
    header = (*factors, "n", *(f"{metric_name(metric)} [95 % CI]" for metric in metrics))
    return Table(name="intervals", caption="Mean and 95 % confidence interval per cell", header=header,
                 align=("l",) * len(factors) + ("r",) + ("c",) * len(metrics), rows=tuple(rows),
                 notes=(f"Student-t interval of the mean over the finished seeds of each cell; n/a below 2 seeds "
                        f"(one seed says nothing about spread). {WARNING_SIGN}: fewer than {MIN_SEEDS_WARNING} seeds, "
                        "an interval from one or two differences, too unstable to compare cells by.",
                        *convention_notes(metrics)))


def few_seeds_warning(summary: pd.DataFrame, metrics: Sequence[str]) -> str:
    """A sentence naming how many cells have fewer than MIN_SEEDS_WARNING finished seeds, or "" when none."""
    counts = summary[[f"{metric}_n" for metric in metrics]].min(axis=1)
    few = summary.loc[(counts > 0) & (counts < MIN_SEEDS_WARNING), "cell"]
    if few.empty:
        return ""
    cells = "cell has" if len(few) == 1 else "cells have"
    return (f"{WARNING_SIGN} Few seeds: {len(few)} of {len(summary)} {cells} fewer than {MIN_SEEDS_WARNING} finished "
            f"seeds (least: {int(counts[few.index].min())}). Their intervals are n/a or rest on one or two "
            "differences, and paired tests need at least 2 pairs: add seeds before reading differences.")


def comparison_table(comparisons: pd.DataFrame, levels: Mapping[str, Mapping[str, str]], factors: Sequence[str], *,
                     correction: str, alpha: float, test: str = "paired_t",
                     link: CellLink = lambda cell: None) -> Table:
    """One row per (cell, metric) against the baseline: pairs, Δ [95 % CI], p (t), p (Wilcoxon), corrected p of
    `test`, and the verdict: yes/no on primary rows (`role`), a dash on secondary (exploratory) ones."""
    rows = []
    adjusted = "p_t_adj" if test == "paired_t" else "p_wilcoxon_adj"
    roles = comparisons["role"] if "role" in comparisons.columns else pd.Series("primary", comparisons.index)
    for (_, comparison), role in zip(comparisons.iterrows(), roles):
        cell = comparison["cell"]
        diff = comparison["diff"]
        text = DASH if math.isnan(diff) else (f"{diff:+.{DECIMALS}f} [{comparison['diff_ci_low']:+.{DECIMALS}f}, "
                                              f"{comparison['diff_ci_high']:+.{DECIMALS}f}]")
        tested = not math.isnan(comparison[adjusted])
        verdict = DASH if role != "primary" or not tested else "yes" if comparison["significant"] else "no"
        rows.append((*(TableCell(levels[cell][factor]) for factor in factors),
                     TableCell(metric_name(comparison["metric"])), TableCell(str(comparison["n_pairs"])),
                     TableCell(text, link=link(cell)), TableCell(format_p(comparison["p_t"])),
                     TableCell(format_p(comparison["p_wilcoxon"])), TableCell(format_p(comparison[adjusted])),
                     TableCell(verdict, bold=bool(comparison["significant"])),
                     TableCell(str(comparison["note"]))))
    test_name = "t-test" if test == "paired_t" else "Wilcoxon"
    header = (*factors, "metric", "pairs", "Δ vs baseline [95 % CI]", "p (t)", "p (Wilcoxon)",
              f"p adj. ({test_name})", "significant (primary)", "note")
    notes = ((f"Paired by seed; Δ = cell - baseline. p adj.: the {test_name} p corrected with "
              f"{correction_name(correction)} across the rows of the same metric (one family per metric). "
              f"significant (primary): the analysis plan's verdict, p adj. < {alpha:g}, on the primary rows only; "
              f"a dash marks a secondary row, exploratory: its p-values are shown, no verdict is drawn. "
              f"Wilcoxon signed-rank from {MIN_WILCOXON_PAIRS} pairs on."),
             *convention_notes(comparisons["metric"].unique() if len(comparisons) else ()))
    return Table(name="comparisons", caption="Differences to the baseline cell", header=header,
                 align=("l",) * len(factors) + ("l", "r", "c", "r", "r", "r", "c", "l"), rows=tuple(rows),
                 notes=notes)


def effects_table(effects: pd.DataFrame, *, alpha: float) -> Table:
    """Seed-blocked ANOVA rows (metric, term, df, F, p, partial η², verdict, note); the caption names the model of
    each metric (anova.MODELS)."""
    rows = []
    roles = effects["role"] if "role" in effects.columns else pd.Series("secondary", effects.index)
    for (_, effect), role in zip(effects.iterrows(), roles):
        df = _number(effect["df"], 0)
        if not math.isnan(effect["df_resid"]) and not math.isnan(effect["F"]):
            df = f"{df}, {_number(effect['df_resid'], 0)}"
        verdict = DASH if role != "primary" or math.isnan(effect["p"]) else \
            "yes" if effect["significant"] else "no"
        rows.append((TableCell(metric_name(effect["metric"])), TableCell(str(effect["term"])),
                     TableCell(df), TableCell(_number(effect["F"], 2)),
                     TableCell(format_p(effect["p"])), TableCell(_number(effect["partial_eta_sq"], 3)),
                     TableCell(verdict, bold=bool(effect["significant"])), TableCell(str(effect["note"]))))
    models = [] if effects.empty else list(dict.fromkeys(zip(effects["metric"], effects["model"])))
    by_model: dict[str, list[str]] = {}
    for metric, model in models:
        by_model.setdefault(model, []).append(metric_name(metric))
    described = " ".join(f"{', '.join(metrics)}: {MODELS.get(model, model)}." for model, metrics in by_model.items())
    notes = (("Factorial ANOVA of each metric on the factors and their two-way interactions, with seed as a block: "
              "a seed fixes the initialisation and data order of every cell, so differences are read within seeds. "
              f"{described} df: the term's and the residual's. partial η² = SS_term / (SS_term + SS_residual). "
              f"significant (primary): the analysis plan's verdict when its family is the factors' main effects "
              f"(corrected p < {alpha:g}); a dash elsewhere: secondary, exploratory, uncorrected p."),
             *convention_notes(effects["metric"].unique() if len(effects) else ()))
    return Table(name="effects", caption="Effects of the factors", header=(
        "metric", "term", "df", "F", "p", "partial η²", "significant (primary)", "note"),
        align=("l", "l", "r", "r", "r", "r", "c", "l"), rows=tuple(rows), notes=notes)


def format_p(p: float) -> str:
    """`< 0.001`, else three decimals; NaN as a dash."""
    if math.isnan(p):
        return DASH
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _number(value: float, decimals: int) -> str:
    return DASH if math.isnan(value) else f"{value:.{decimals}f}"


def _best(means: pd.Series, *, lower: bool) -> float:
    finite = means.dropna()
    if finite.empty:
        return math.nan
    return round(float(finite.min() if lower else finite.max()), DECIMALS)


def _n(cell: pd.Series) -> str:
    return f"{cell['n_finished']}/{cell['n_planned']}" if cell["n_planned"] else str(cell["n_finished"])


def _note(cell: pd.Series) -> str:
    notes = ["baseline"] if cell["baseline"] else []
    for column, word in (("n_failed", "failed"), ("n_missing", "missing"), ("n_running", "running")):
        if cell[column]:
            notes.append(f"{cell[column]} {word}")
    if cell["note"]:
        notes.append(str(cell["note"]))
    return ", ".join(notes)


def correction_name(correction: str) -> str:
    return {"holm": "Holm", "bh": "Benjamini-Hochberg"}.get(correction, correction)
