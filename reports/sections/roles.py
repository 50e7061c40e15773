"""Student and teacher: both mean-teacher models' numbers per cell, and how the teacher compares."""
from __future__ import annotations

from reports.sections.section import ReportInputs, Section, SectionContent
from reports.stats.model_roles import teacher_statement
from reports.tables.roles import roles_table


def build(inputs: ReportInputs) -> SectionContent:
    table = roles_table(inputs.runs, link=inputs.link)
    return SectionContent(tables=() if table is None else (table,), texts=(teacher_statement(inputs.runs),))


SECTION = Section("roles", "Student and teacher", build)
