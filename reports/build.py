"""Build a study's report (Markdown, PNG figure, CSV summary) from the tracking store alone."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from reports.figures import save_metrics_by_factor
from reports.load import FAILED_STATUSES, StudyRuns, load_study
from reports.summary import summarize
from reports.tables import markdown_table

logger = logging.getLogger(__name__)

MARKDOWN_NAME = "report.md"
FIGURE_NAME = "metrics_by_factor.png"
SUMMARY_NAME = "summary.csv"
MAX_LISTED_TRIALS = 50


@dataclass(frozen=True)
class ReportPaths:
    """The files a report consists of."""

    out_dir: Path
    markdown: Path
    figure: Path
    summary_csv: Path


def build_report(tracking_uri: str, study: str, out_dir: str | Path) -> ReportPaths:
    """Write report.md, metrics_by_factor.png and summary.csv for `study` into `out_dir`; same store, same bytes."""
    runs = load_study(tracking_uri, study)
    summary = summarize(runs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out_dir=out, markdown=out / MARKDOWN_NAME, figure=out / FIGURE_NAME,
                        summary_csv=out / SUMMARY_NAME)
    save_metrics_by_factor(runs, paths.figure)
    summary.to_csv(paths.summary_csv, index=False, lineterminator="\n")
    paths.markdown.write_text(render_markdown(runs, summary, figure=FIGURE_NAME), encoding="utf-8", newline="\n")
    logger.info("report of study %r written to %s", study, out)
    return paths


def render_markdown(runs: StudyRuns, summary: pd.DataFrame, *, figure: str = FIGURE_NAME) -> str:
    """The report's Markdown text; `figure` is the figure's path relative to the Markdown file."""
    totals = {column: int(summary[column].sum()) for column in
              ("n_planned", "n_finished", "n_failed", "n_running", "n_missing")}
    counts = (f"{totals['n_planned']} planned, {totals['n_finished']} finished, {totals['n_failed']} failed, "
              f"{totals['n_missing']} missing")
    if totals["n_running"]:
        counts += f", {totals['n_running']} running"
    factors = ", ".join(f"`{factor}`" for factor in runs.factors) or "none"
    lines = [
        f"# Study report: {runs.study}",
        "",
        f"- Study: `{runs.study}`",
        f"- Tracking URI: `{redact_uri(runs.tracking_uri)}`",
        f"- Parent run: `{runs.parent_run_id}`",
        f"- Baseline cell: `{runs.baseline_cell}`",
        f"- Factors: {factors}",
        f"- Trials: {counts}",
        "",
        "## Results per cell",
        "",
        "Mean ± sd over seeds (sd with ddof=1) of the finished trials; n = finished trials. "
        "The first row is the baseline cell.",
        "",
        markdown_table(summary, runs.metrics),
        "",
        "## Metrics by factor level",
        "",
        "Grey dots: single finished trials. Blue: mean per level with a 95 % t confidence interval, pooled over "
        "the levels of the other factors.",
        "",
        f"![Metrics by factor level]({figure})",
        "",
    ]
    lines += _trial_list("Failed trials", _failed(runs), ("cell", "seed", "status", "reason"))
    lines += _trial_list("Missing trials", _missing(runs), ("cell", "seed"))
    return "\n".join(lines)


def redact_uri(uri: str) -> str:
    """The URI with any password replaced by `***` (a PostgreSQL-backed store's URI may carry one)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _failed(runs: StudyRuns) -> list[tuple[str, ...]]:
    failed = runs.runs[runs.runs["status"].isin(FAILED_STATUSES)]
    return [(row.cell, str(row.seed), row.status, row.failure or "(no reason recorded)")
            for row in failed.itertuples(index=False)]


def _missing(runs: StudyRuns) -> list[tuple[str, ...]]:
    recorded = set(zip(runs.runs["cell"], runs.runs["seed"]))
    order = {cell: i for i, cell in enumerate(runs.cells)}
    missing = sorted({(trial.cell, trial.seed) for trial in runs.planned} - recorded,
                     key=lambda trial: (order[trial[0]], trial[1]))
    return [(cell, str(seed)) for cell, seed in missing]


def _trial_list(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    if not rows:
        return []
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows[:MAX_LISTED_TRIALS]:
        lines.append("| " + " | ".join(value.replace("|", "\\|") for value in row) + " |")
    if len(rows) > MAX_LISTED_TRIALS:
        lines += ["", f"... and {len(rows) - MAX_LISTED_TRIALS} more."]
    return [*lines, ""]
