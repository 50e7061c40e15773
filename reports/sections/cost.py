"""Time and energy: wall time, GPU hours and energy per cell and for the study (`cost/*` metrics)."""
from __future__ import annotations

from reports.sections.section import ReportInputs, Section, SectionContent
from reports.tables.provenance import cost_table

NO_COST_NOTE = "The runs record no time or energy (trials of sedstudy before cost/* metrics)."


def build(inputs: ReportInputs) -> SectionContent:
    runs = inputs.runs
    prov = runs.provenance
    if prov is None or not prov["cost/wall_s"].notna().any():
        return SectionContent(empty_note=NO_COST_NOTE)
    return SectionContent(tables=(cost_table(prov, runs.cells, link=inputs.link),), empty_note=NO_COST_NOTE)


SECTION = Section("cost", "Time and energy", build)
