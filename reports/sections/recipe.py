"""Shared training recipe: the config fields every trial run has in common, the data kind and the seeds."""
from __future__ import annotations

from reports.fetch.load import StudyRuns
from reports.sections.section import ReportInputs, Section, SectionContent
from reports.tables.recipe import recipe_table


def build(inputs: ReportInputs) -> SectionContent:
    runs = inputs.runs
    return SectionContent(tables=(recipe_table(runs.recipe, runs.factors, _seeds(runs), _data_kinds(runs)),))


def _seeds(runs: StudyRuns) -> list[int]:
    """The planned seeds, else those of the recorded runs."""
    return [trial.seed for trial in runs.planned] or [int(seed) for seed in runs.runs["seed"]]


def _data_kinds(runs: StudyRuns) -> list[str]:
    """`sedstudy.data.kind` of every run that records its data ("synthetic <sha>" -> "synthetic")."""
    if runs.provenance is None:
        return []
    return [text.split(" ", 1)[0] for text in runs.provenance["data"] if isinstance(text, str)]


SECTION = Section("recipe", "Shared training recipe", build)
