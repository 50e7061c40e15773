"""The report's Markdown page: the overview, then the registered sections, figures and trial lists in layout order."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from reports.fetch.load import StudyRuns
from reports.fetch.uri import redact_uri
from reports.figures.figure_set import FigureResult
from reports.sections.registry import FIGURES, NOTES, OVERVIEW, TRIALS, report_layout
from reports.sections.section import Section, SectionContent
from reports.stats.model_roles import reported_model
from reports.stats.summary import trial_counts
from reports.tables.render import to_markdown
from reports.tables.trial_lists import failed_trials, missing_trials

MAX_LISTED_TRIALS = 50


def render_markdown(runs: StudyRuns, summary: pd.DataFrame, contents: Mapping[Section, SectionContent], *,
                    figures: Sequence[FigureResult], notes: Sequence[str]) -> str:
    """The Markdown text (ends with one newline); figures are linked by file name, relative to the page.

    Sections come in `REPORT_LAYOUT` order; one with nothing to show (no list, text or table row) is left out.
    """
    lines: list[str] = []
    for entry in report_layout():
        if entry == OVERVIEW:
            lines += _overview(runs, summary)
        elif entry == FIGURES:
            lines += _figures(figures)
        elif entry == TRIALS:
            lines += _trial_list("Failed trials", failed_trials(runs), ("cell", "seed", "status", "reason"))
            lines += _trial_list("Missing trials", missing_trials(runs), ("cell", "seed"))
        elif entry == NOTES and notes:
            lines += ["## Notes", "", *(f"- {note}" for note in notes), ""]
        elif isinstance(entry, Section):
            lines += _section(entry.title, contents[entry])
    return "\n".join(lines)


def _overview(runs: StudyRuns, summary: pd.DataFrame) -> list[str]:
    factors = ", ".join(f"{runs.display.factor(factor)} (`{factor}`)" if runs.display.factor(factor) != factor
                        else f"`{factor}`" for factor in runs.factors) or "none"
    return [
        f"# Study report: {runs.study}",
        "",
        f"- Study: `{runs.study}`",
        f"- Tracking URI: `{redact_uri(runs.tracking_uri)}`",
        f"- Parent run: `{runs.parent_run_id}`",
        f"- Baseline cell: {runs.display.cell(runs.baseline_cell)} (`{runs.baseline_cell}`)",
        f"- Factors: {factors}",
        f"- Objective: `{runs.objective}` ({runs.objective_mode})",
        f"- Reported model: {reported_model(runs)} (`evaluation.report_model`; both models under Student and teacher)",
        f"- Trials: {trial_counts(summary)}",
        "",
    ]


def _section(title: str, content: SectionContent) -> list[str]:
    shown = content.markdown or content
    tables = [table for table in shown.tables if table.rows]
    if not (shown.bullets or shown.texts or tables):
        return []
    lines = [f"## {title}", ""]
    if shown.bullets is not None:
        lines += [*(f"- {line}" for line in shown.bullets), ""]
    lines += [line for text in shown.texts for line in (text, "")]
    for table in tables:
        lines += [to_markdown(table), ""]
    return lines


def _figures(figures: Sequence[FigureResult]) -> list[str]:
    lines = ["## Figures", ""]
    for figure in figures:
        if figure.png is None:
            lines += [f"- {figure.note}", ""]
        else:
            lines += [f"### {figure.title}", "", figure.caption, "", f"![{figure.title}]({figure.png.name})", ""]
    return lines


def _trial_list(title: str, rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    if not rows:
        return []
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows[:MAX_LISTED_TRIALS]:
        lines.append("| " + " | ".join(value.replace("|", "\\|") for value in row) + " |")
    if len(rows) > MAX_LISTED_TRIALS:
        lines += ["", f"... and {len(rows) - MAX_LISTED_TRIALS} more."]
    return [*lines, ""]
