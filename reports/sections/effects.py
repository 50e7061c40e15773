"""Effects of the factors: factorial ANOVA of every metric with partial eta squared."""
from __future__ import annotations

from reports.sections.section import DataFile, LatexTable, ReportInputs, Section, SectionContent
from reports.tables.study import effects_table

EFFECTS_CSV = "effects.csv"
NO_FACTORS_NOTE = "Effects of the factors: skipped, the study has no factors (seeds only)."


def build(inputs: ReportInputs) -> SectionContent:
    analysis = inputs.analysis
    return SectionContent(tables=(effects_table(analysis.effects, alpha=analysis.alpha),),
                          empty_note=None if inputs.runs.factors else NO_FACTORS_NOTE,
                          data_files=(DataFile(EFFECTS_CSV, analysis.effects),))


SECTION = Section("effects", "Effects of the factors", build, latex=LatexTable("effects.tex", "effects"))
