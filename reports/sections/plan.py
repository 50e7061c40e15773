"""Analysis plan: what the study declared it would test, and the primary verdicts that follow from it alone."""
from __future__ import annotations

import math

from reports.fetch.analysis_plan import CORRECTION_TEXT, FAMILY_TEXT, TEST_TEXT
from reports.sections.section import DataFile, ReportInputs, Section, SectionContent
from reports.stats.analysis import StudyAnalysis
from reports.tables.model import Table, TableCell
from reports.tables.study import DASH, DECIMALS, correction_name, format_p, metric_name

PRIMARY_CSV = "primary.csv"
ADAPTIVE_TEXT = (" Seeds were added adaptively, where a contrast was still undecided: the fixed-sample tests and "
                 "intervals elsewhere ignore that stopping rule and are descriptive only.")
SECONDARY_TEXT = ("Everything else in this report is secondary: the other metrics, the other contrasts, the factor "
                  "effects (unless they are the family), the bootstrap over clips and the post-processing stages are "
                  "exploratory, with p-values and no verdict of their own.")


def plan_bullets(inputs: ReportInputs) -> tuple[str, ...]:
    runs, analysis = inputs.runs, inputs.analysis
    plan = analysis.plan
    origin = ("Declared in the study (`analysis:`) before it ran." if analysis.declared else
              "Not declared: the study was recorded before sedstudy kept analysis plans, so the default plan is "
              "applied (write one under `analysis:` in the study YAML).")
    for previous, finished in runs.plan_amendments:
        then = previous.describe(runs.objective, len(runs.cells), len(runs.factors)).removeprefix("analysis plan: ")
        origin += (f" ⚠ Amended after {finished} trial{'' if finished == 1 else 's'} had finished: the plan then was "
                   f"{then}; verdicts under a plan chosen after results are not pre-declared.")
    objective = " (the study's objective)" if analysis.metric == runs.objective else ""
    correction = f"{CORRECTION_TEXT[plan.correction]} across the family"
    if analysis.overridden:
        correction += (f" (chosen for this report with --correction; the study declared "
                       f"{CORRECTION_TEXT[analysis.overridden]})")
    bootstrap = ("every cell against the baseline (chosen without looking at any result), corrected as one family "
                 "with the plan's correction; secondary" if plan.clip_bootstrap == "all" else
                 "none (the plan's clip_bootstrap: none)")
    if plan.clip_bootstrap == "all" and inputs.clips.table.empty:
        bootstrap += "; not computed in this report (the Notes say why)"
    test = TEST_TEXT[plan.primary_test]
    if runs.sequential is not None:
        contrasts = len(analysis.primary)
        test = (f"group-sequential paired test over seeds added look by look ({runs.sequential.describe()}); a "
                f"contrast is better or worse when its repeated confidence interval excludes 0, equivalent when it "
                f"lies within ±{runs.sequential.min_effect:g}, else undecided (Lan & DeMets 1983; Jennison & "
                f"Turnbull 1989)")
        correction = (f"alpha split evenly over the {contrasts} contrasts (Bonferroni: each at "
                      f"{plan.alpha / max(contrasts, 1):.3g}); p adj. = repeated p x {contrasts}")
    return (origin,
            f"Primary metric: {metric_name(analysis.metric)}{objective}.",
            f"Primary family: {FAMILY_TEXT[plan.family]} ({_count(analysis)}).",
            f"Primary test: {test}.",
            f"Multiplicity correction: {correction}; alpha = {plan.alpha:g}.",
            f"Bootstrap over clips: {bootstrap}.")


def verdict_table(inputs: ReportInputs) -> Table:
    runs, analysis = inputs.runs, inputs.analysis
    primary = analysis.primary
    effect_family = analysis.plan.family == "main_effects"
    rows = []
    for _, row in primary.iterrows():
        if effect_family:
            contrast = runs.display.factor(row["contrast"].removeprefix("main effect of "))
            estimate = DASH if math.isnan(row["estimate"]) else f"{row['estimate']:.{DECIMALS}f}"
        else:
            contrast = f"{runs.display.cell(row['cell'])} vs {runs.display.cell(row['reference'])}"
            estimate = DASH if math.isnan(row["estimate"]) else (
                f"{row['estimate']:+.{DECIMALS}f} [{row['ci_low']:+.{DECIMALS}f}, {row['ci_high']:+.{DECIMALS}f}]")
        tested = not math.isnan(row["p_adj"])
        verdict = ("yes" if row["significant"] else "no") if tested else DASH
        if "decision" in primary.columns:  # adaptive seeds: the decision, equivalence included
            verdict = str(row["decision"])
        rows.append((TableCell(contrast, link=inputs.link(row["cell"]) if row["cell"] else None),
                     TableCell(str(row["n"])), TableCell(estimate), TableCell(format_p(row["p"])),
                     TableCell(format_p(row["p_adj"])), TableCell(verdict, bold=bool(row["significant"])),
                     TableCell(str(row["note"]))))
    estimate_title = "partial η²" if effect_family else "Δ [95 % CI]"
    if inputs.runs.sequential is not None:
        estimate_title = "Δ [repeated CI]"
    unit = "finished runs" if effect_family else "seed pairs"
    return Table(name="primary", caption=f"Primary verdicts: {metric_name(analysis.metric)}", header=(
        "factor" if effect_family else "contrast", "n", estimate_title, "p", "p adj.",
        "decision" if "decision" in primary.columns else "significant", "note"),
        align=("l", "r", "c", "r", "r", "c", "l"), rows=tuple(rows),
        notes=(_verdict_note(inputs, unit),))


def _verdict_note(inputs: ReportInputs, unit: str) -> str:
    plan = inputs.analysis.plan
    if inputs.runs.sequential is not None:
        return (f"n: {unit} at the last complete look. Δ and its repeated confidence interval at that look (valid "
                "whenever the seeds stopped); p: the repeated p-value (the smallest alpha whose intervals exclude 0 "
                "by that look); significant: the decision is better or worse; the note says which look decided.")
    return (f"n: {unit}. p: {TEST_TEXT[plan.primary_test]}; p adj.: {correction_name(plan.correction)} across these "
            f"rows; significant: p adj. < {plan.alpha:g}. A dash: no test (the note says why).")


def build(inputs: ReportInputs) -> SectionContent:
    texts = (SECONDARY_TEXT,) if inputs.runs.sequential is None else (SECONDARY_TEXT + ADAPTIVE_TEXT,)
    return SectionContent(tables=(verdict_table(inputs),), bullets=plan_bullets(inputs), texts=texts,
                          data_files=(DataFile(PRIMARY_CSV, inputs.analysis.primary),))


def _count(analysis: StudyAnalysis) -> str:
    n = len(analysis.primary)
    noun = "factor" if analysis.plan.family == "main_effects" else "contrast"
    return f"{n} {noun}{'' if n == 1 else 's'}"


SECTION = Section("analysis-plan", "Analysis plan and primary verdicts", build)
