"""Provenance: code, data, backbone, metric and machine, listed once where every run agrees, per cell elsewhere."""
from __future__ import annotations

from reports.fetch.provenance import ATTRIBUTES
from reports.sections.section import ReportInputs, Section, SectionContent
from reports.tables.provenance import provenance_table

NO_PROVENANCE_NOTE = ("The runs record no provenance tags (trials of sedstudy before sedstudy.data.* and "
                      "sedstudy.metric).")


def build(inputs: ReportInputs) -> SectionContent:
    runs = inputs.runs
    prov = runs.provenance
    if prov is None or not prov[[key for key, _ in ATTRIBUTES]].notna().any().any():
        return SectionContent(empty_note=NO_PROVENANCE_NOTE)
    table, shared = provenance_table(prov, runs.cells, link=inputs.link)
    return SectionContent(tables=(table,), bullets=tuple(shared), empty_note=NO_PROVENANCE_NOTE)


SECTION = Section("provenance", "Provenance", build)
