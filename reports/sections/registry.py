"""The report's layout: every section in page order. A new section is one module with a `SECTION` and one line here;
build.py writes its data files and LaTeX, and the Markdown and HTML pages show it where it is listed.

`report_layout()` is what build.py and the pages read; `added_section` puts a section into it for a `with` block
(a plug-in's section, or a test's throwaway one) without editing this file."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from reports.sections import (
    clip_bootstrap,
    comparisons,
    cost,
    effects,
    intervals,
    plan,
    postprocessing,
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
    plan.SECTION,
    recipe.SECTION,
    results.SECTION,
    roles.SECTION,
    intervals.SECTION,
    comparisons.SECTION,
    effects.SECTION,
    clip_bootstrap.SECTION,
    postprocessing.SECTION,
    tuning.SECTION,
    FIGURES,
    TRIALS,
    RUNS,
    cost.SECTION,
    provenance.SECTION,
    NOTES,
)
_layout: list[Section | PageBlock] = list(REPORT_LAYOUT)


def report_layout() -> tuple[Section | PageBlock, ...]:
    """The page order now: `REPORT_LAYOUT` and any added section."""
    return tuple(_layout)


def report_sections() -> tuple[Section, ...]:
    return tuple(entry for entry in _layout if isinstance(entry, Section))


@contextmanager
def added_section(section: Section, *, after: str) -> Iterator[Section]:
    """`section` placed after the entry whose key is `after`, for the duration of a `with` block."""
    keys = [entry.key for entry in _layout]
    if section.key in keys:
        raise ValueError(f"report section {section.key!r} is already in the layout")
    if after not in keys:
        raise ValueError(f"no report section or page block {after!r}; one of {', '.join(keys)}")
    _layout.insert(keys.index(after) + 1, section)
    try:
        yield section
    finally:
        _layout.remove(section)
