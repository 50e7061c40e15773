"""The report's Markdown page: facts, shared recipe, results, student and teacher, statistics, figures, trials."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from reports.fetch.load import StudyRuns
from reports.fetch.uri import redact_uri
from reports.figures.figure_set import FigureResult
from reports.stats.analysis import StudyAnalysis
from reports.stats.model_roles import reported_model
from reports.tables.compact_results import markdown_table
from reports.tables.model import Table
from reports.tables.render import to_markdown
from reports.tables.trial_lists import failed_trials, missing_trials

MAX_LISTED_TRIALS = 50


def render_markdown(runs: StudyRuns, analysis: StudyAnalysis, *, tables: dict[str, Table],
                    figures: Sequence[FigureResult], notes: Sequence[str], provenance: Sequence[str] = (),
                    texts: Mapping[str, Sequence[str]] | None = None) -> str:
    """The Markdown text (ends with one newline); figures are linked by file name, relative to the page.

    `texts`: paragraphs shown at the top of a section, by key ("results", "roles").
    """
    texts = texts or {}
    summary = analysis.summary
    totals = {column: int(summary[column].sum()) for column in
              ("n_planned", "n_finished", "n_failed", "n_running", "n_missing")}
    counts = (f"{totals['n_planned']} planned, {totals['n_finished']} finished, {totals['n_failed']} failed, "
              f"{totals['n_missing']} missing")
    if totals["n_running"]:
        counts += f", {totals['n_running']} running"
    factors = ", ".join(f"{runs.display.factor(factor)} (`{factor}`)" if runs.display.factor(factor) != factor
                        else f"`{factor}`" for factor in runs.factors) or "none"
    lines = [
        f"# Study report: {runs.study}",
        "",
        f"- Study: `{runs.study}`",
        f"- Tracking URI: `{redact_uri(runs.tracking_uri)}`",
        f"- Parent run: `{runs.parent_run_id}`",
        f"- Baseline cell: {runs.display.cell(runs.baseline_cell)} (`{runs.baseline_cell}`)",
        f"- Factors: {factors}",
        f"- Objective: `{runs.objective}` ({runs.objective_mode})",
        f"- Reported model: {reported_model(runs)} (`evaluation.report_model`; both models under Student and teacher)",
        f"- Trials: {counts}",
        "",
    ]
    if "recipe" in tables:
        lines += ["## Shared training recipe", "", to_markdown(tables["recipe"]), ""]
    lines += [
        "## Results per cell",
        "",
        *(line for text in texts.get("results", ()) for line in (text, "")),
        ("Mean ± sd over seeds (sd with ddof=1) of the finished trials; n = finished trials. "
         "The first row is the baseline cell. The paper's version (best in bold, † = differs from the baseline) "
         "is in `paper_table.tex` and the HTML page."),
        "",
        markdown_table(summary, runs.metrics, runs.display, factors=runs.factors),
        "",
    ]
    if "roles" in tables or texts.get("roles"):
        lines += ["## Student and teacher", "", *(line for text in texts.get("roles", ()) for line in (text, ""))]
        if "roles" in tables:
            lines += [to_markdown(tables["roles"]), ""]
    for key, title in (("intervals", "Confidence intervals"), ("comparisons", "Differences to the baseline"),
                       ("effects", "Effects of the factors"), ("clip_bootstrap", "Bootstrap over clips"),
                       ("tuning", "Tuning inside cells")):
        if key in tables and tables[key].rows:
            lines += [f"## {title}", "", to_markdown(tables[key]), ""]
    lines += ["## Figures", ""]
    for figure in figures:
        if figure.png is None:
            lines += [f"- {figure.note}", ""]
        else:
            lines += [f"### {figure.title}", "", figure.caption, "", f"![{figure.title}]({figure.png.name})", ""]
    lines += _trial_list("Failed trials", failed_trials(runs), ("cell", "seed", "status", "reason"))
    lines += _trial_list("Missing trials", missing_trials(runs), ("cell", "seed"))
    if "cost" in tables and tables["cost"].rows:
        lines += ["## Time and energy", "", to_markdown(tables["cost"]), ""]
    if provenance or ("provenance" in tables and tables["provenance"].rows):
        lines += ["## Provenance", "", *(f"- {line}" for line in provenance), ""]
        if "provenance" in tables and tables["provenance"].rows:
            lines += [to_markdown(tables["provenance"]), ""]
    if notes:
        lines += ["## Notes", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(lines)


def _trial_list(title: str, rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    if not rows:
        return []
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows[:MAX_LISTED_TRIALS]:
        lines.append("| " + " | ".join(value.replace("|", "\\|") for value in row) + " |")
    if len(rows) > MAX_LISTED_TRIALS:
        lines += ["", f"... and {len(rows) - MAX_LISTED_TRIALS} more."]
    return [*lines, ""]
