"""Differences to the baseline: each cell against the baseline, paired by seed, corrected across the table."""
from __future__ import annotations

from reports.sections.section import DataFile, ReportInputs, Section, SectionContent
from reports.tables.study import comparison_table

COMPARISONS_CSV = "comparisons.csv"


def build(inputs: ReportInputs) -> SectionContent:
    runs, analysis = inputs.runs, inputs.analysis
    table = comparison_table(analysis.comparisons, runs.cell_levels, runs.factors, correction=analysis.correction,
                             alpha=analysis.alpha, test=analysis.plan.test or "paired_t",
                             link=inputs.link)
    return SectionContent(tables=(table,), data_files=(DataFile(COMPARISONS_CSV, analysis.comparisons),))


SECTION = Section("comparisons", "Differences to the baseline", build)
