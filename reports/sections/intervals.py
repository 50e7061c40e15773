"""Confidence intervals: mean and 95 % Student-t interval per cell and metric."""
from __future__ import annotations

from reports.sections.section import ReportInputs, Section, SectionContent
from reports.tables.study import interval_table


def build(inputs: ReportInputs) -> SectionContent:
    runs = inputs.runs
    return SectionContent(tables=(interval_table(inputs.analysis.summary, runs.metrics, factors=runs.factors,
                                                 link=inputs.link),))


SECTION = Section("intervals", "Confidence intervals", build)
