"""Confidence intervals: mean and 95 % Student-t interval per cell and metric."""
from __future__ import annotations

from reports.sections.section import ReportInputs, Section, SectionContent
from reports.tables.study import few_seeds_warning, interval_table


def build(inputs: ReportInputs) -> SectionContent:
    runs, summary = inputs.runs, inputs.analysis.summary
    warning = few_seeds_warning(summary, runs.metrics)
    return SectionContent(tables=(interval_table(summary, runs.metrics, factors=runs.factors, link=inputs.link),),
                          texts=(warning,) if warning else (), left_out=warning)


SECTION = Section("intervals", "Confidence intervals", build)
