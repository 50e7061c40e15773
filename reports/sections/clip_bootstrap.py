"""Bootstrap over clips: every cell against the baseline (the analysis plan's rule), resampling the evaluation
clips; secondary."""
from __future__ import annotations

from reports.sections.section import DataFile, ReportInputs, Section, SectionContent
from reports.tables.clip_bootstrap import clip_table

CLIP_CSV = "clip_bootstrap.csv"


def build(inputs: ReportInputs) -> SectionContent:
    clips = inputs.clips
    if clips.table.empty:
        return SectionContent(empty_note=clips.note, left_out=clips.note)
    table = clip_table(clips.table, inputs.link, inputs.analysis.correction)
    return SectionContent(tables=(table,), empty_note=clips.note, data_files=(DataFile(CLIP_CSV, clips.table),),
                          left_out=clips.note)


SECTION = Section("clip-bootstrap", "Bootstrap over clips", build)
