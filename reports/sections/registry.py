"""The report's layout: every section in page order. A new section is one module with a `SECTION` and one line here;
build.py writes its data files and LaTeX, and the Markdown and HTML pages show it where it is listed."""
from __future__ import annotations

from reports.sections import (
    clip_bootstrap,
    comparisons,
    cost,
    effects,
    intervals,
    provenance,
    recipe,
    results,
    roles,
    tuning,
)
from reports.sections.section import PageBlock, Section

OVERVIEW = PageBlock("overview", "Overview")
FIGURES = PageBlock("figures", "Figures")
TRIALS = PageBlock("trials", "Failed and missing trials")
RUNS = PageBlock("runs", "Runs")
NOTES = PageBlock("notes", "Notes")

REPORT_LAYOUT: tuple[Section | PageBlock, ...] = (
    OVERVIEW,
    recipe.SECTION,
    results.SECTION,
    roles.SECTION,
    intervals.SECTION,
    comparisons.SECTION,
    effects.SECTION,
    clip_bootstrap.SECTION,
    tuning.SECTION,
    FIGURES,
    TRIALS,
    RUNS,
    cost.SECTION,
    provenance.SECTION,
    NOTES,
)
SECTIONS: tuple[Section, ...] = tuple(entry for entry in REPORT_LAYOUT if isinstance(entry, Section))
