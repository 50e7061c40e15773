"""What a report section is: its declaration (`Section`), what it gives the pages (`SectionContent`), and the
inputs every section is built from (`ReportInputs`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from mlflow.tracking import MlflowClient

from reports.fetch.load import StudyRuns
from reports.stats.analysis import StudyAnalysis
from reports.stats.clip_section import ClipBootstrap
from reports.tables.model import Table

NOTHING_TO_SHOW = "Nothing to show."


def cell_anchor(runs: StudyRuns, cell: str) -> str:
    """The HTML page's anchor of a cell's runs (`#runs-<position in design order>`), which numbers link to."""
    return f"#runs-{runs.cells.index(cell)}"


@dataclass(frozen=True, eq=False)
class ReportInputs:
    """Everything a section is computed from: the loaded study, its statistics, the bootstrap over clips and the
    cells it compares (`shown`, also the cells of the per-run figures), and a client for per-run reads."""

    runs: StudyRuns
    analysis: StudyAnalysis
    clips: ClipBootstrap
    shown: tuple[str, ...]
    client: MlflowClient

    def link(self, cell: str) -> str:
        return cell_anchor(self.runs, cell)


@dataclass(frozen=True, eq=False)
class DataFile:
    """A statistics table written as CSV beside the pages."""

    name: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class LatexTable:
    """The section's first table written as a LaTeX float to `file`, labelled `tab:<study>-<label>`."""

    file: str
    label: str


@dataclass(frozen=True, eq=False)
class SectionContent:
    """What a section shows: a bullet list (None: no list), paragraphs, then tables.

    `empty_note`: said where the section has nothing else to show; a section with one leaves out its tables
    without rows on the HTML page (without one, the page shows them and says "Nothing to show." when empty).
    `left_out`: a line for the report's Notes. `markdown`: the Markdown page's own version where it differs.
    """

    tables: tuple[Table, ...] = ()
    texts: tuple[str, ...] = ()
    bullets: tuple[str, ...] | None = None
    empty_note: str | None = None
    data_files: tuple[DataFile, ...] = ()
    left_out: str = ""
    markdown: SectionContent | None = None


@dataclass(frozen=True)
class Section:
    """One section of the report: its anchor (`key`), heading, how it is built, and its LaTeX file if any.
    `optional`: left off the pages (and the HTML contents) when it has no table (tuning, for studies that tuned)."""

    key: str
    title: str
    build: Callable[[ReportInputs], SectionContent]
    latex: LatexTable | None = None
    optional: bool = False


@dataclass(frozen=True)
class PageBlock:
    """A part of the pages that each page lays out itself (overview, figures, trial lists, runs, notes)."""

    key: str
    title: str
    optional: bool = False
