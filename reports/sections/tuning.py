"""Tuning inside cells: the tuning phases of a study that tuned (its `kind=tune` runs, never counted as seeds)."""
from __future__ import annotations

from reports.sections.section import ReportInputs, Section, SectionContent
from reports.tables.tuning import tuning_table


def build(inputs: ReportInputs) -> SectionContent:
    table = tuning_table(inputs.client, inputs.runs)
    return SectionContent(tables=() if table is None else (table,))


SECTION = Section("tuning", "Tuning inside cells", build, optional=True)
