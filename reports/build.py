"""Build a study's report (Markdown, HTML, LaTeX, CSV, PNG/PDF figures) from the tracking store alone."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from mlflow.tracking import MlflowClient

from reports.fetch.load import StudyRuns, load_study
from reports.fetch.uri import default_ui_base, redact_uri
from reports.figures.figure_set import METRICS_BY_FACTOR, write_figures
from reports.figures.per_class import MAX_ROWS
from reports.figures.style import FORMATS
from reports.pages.html import render_html
from reports.pages.markdown import render_markdown
from reports.sections import effects, results
from reports.sections.comparisons import COMPARISONS_CSV
from reports.sections.effects import EFFECTS_CSV, NO_FACTORS_NOTE
from reports.sections.registry import report_sections
from reports.sections.results import SUMMARY_CSV
from reports.sections.section import ReportInputs, SectionContent
from reports.stats.analysis import analyze, ranked_cells
from reports.stats.clip_section import PSDS_STATISTICS, ClipStatistic, clip_bootstrap
from reports.tables.relabel import relabel
from reports.tables.render import to_latex

__all__ = ["ReportPaths", "build_report", "redact_uri"]

logger = logging.getLogger(__name__)

MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"
FIGURE_NAME = f"{METRICS_BY_FACTOR}.png"
CACHE_DIR_NAME = ".cache"
SHOWN_CELLS = 6
CLIP_RESAMPLES = 1000


@dataclass(frozen=True)
class ReportPaths:
    """The files a report consists of; `figures` lists every figure file (PNG and PDF), `notes` what was left out."""

    out_dir: Path
    markdown: Path
    figure: Path
    summary_csv: Path
    html: Path
    latex: Path
    effects_latex: Path
    comparisons_csv: Path
    effects_csv: Path
    figures: tuple[Path, ...]
    notes: tuple[str, ...]


def build_report(tracking_uri: str, study: str, out_dir: str | Path, *, ui_base: str | None = None,
                 cache_dir: str | Path | None = None, correction: str | None = None,
                 learning_curves: bool = True, shown_cells: int = SHOWN_CELLS,
                 clip_statistic: ClipStatistic | str | None = "auto", clip_split: str | None = None,
                 clip_resamples: int = CLIP_RESAMPLES, method: str = "auto",
                 formats: tuple[str, ...] = FORMATS) -> ReportPaths:
    """Write every table, figure and the HTML page of `study` into `out_dir`; same store, same bytes.

    `ui_base`: the MLflow UI the HTML links runs to (default: the tracking server itself, else
    http://127.0.0.1:5000, where `sedstudy ui` serves). `cache_dir`: where the fetched trials are cached
    (default `<out_dir>/.cache`). `correction`: "holm" or "bh" in place of the study's analysis plan's (None: the
    plan's; the report says when it was replaced). `shown_cells`: how
    many cells (the baseline and the best by the objective) get PSD-ROC curves and learning curves, which read
    per-run data. `clip_statistic`: the statistic of the bootstrap over clips, used when the trials store
    frame scores (`clip_resamples` resamples, on `clip_split`), over every cell unless the plan says `none`:
    "auto" (the plan's metric when it is a PSDS, else psds1), "psds1", "psds2", a `bootstrap.ClipStatistic`, or
    None to skip it. `method`: how trials are read
    (`load_study`). `formats`: the figure files written (PNG is always needed: the pages embed it).
    """
    if "png" not in formats:
        raise ValueError(f"formats must include 'png' (the Markdown and HTML pages show it), but got {formats}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = load_study(tracking_uri, study, cache_dir=out / CACHE_DIR_NAME if cache_dir is None else cache_dir,
                      method=method)
    analysis = analyze(runs, correction=correction)
    shown = ranked_cells(runs, analysis.summary, shown_cells)
    heat = set(ranked_cells(runs, analysis.summary, MAX_ROWS))
    heat_cells = [cell for cell in runs.cells if cell in heat]
    figures = write_figures(runs, out, shown=shown, heat_cells=heat_cells, learning_curves=learning_curves,
                            formats=formats)
    if clip_statistic == "auto":
        clip_statistic = analysis.metric if analysis.metric in PSDS_STATISTICS else PSDS_STATISTICS[0]
    if analysis.plan.clip_bootstrap == "none":
        clip_statistic = None
    client = MlflowClient(tracking_uri=tracking_uri)
    clips = clip_bootstrap(client, runs, runs.cells, statistic=clip_statistic, split=clip_split,
                           n_resamples=clip_resamples, correction=analysis.correction)
    inputs = ReportInputs(runs=runs, analysis=analysis, clips=clips, shown=tuple(shown), client=client)
    contents = {section: _relabelled(section.build(inputs), runs) for section in report_sections()}
    notes = [figure.note for figure in figures if figure.note]
    notes += [content.left_out for content in contents.values() if content.left_out]
    if not runs.factors:
        notes.append(NO_FACTORS_NOTE)

    paths = ReportPaths(out_dir=out, markdown=out / MARKDOWN_NAME, figure=out / FIGURE_NAME,
                        summary_csv=out / SUMMARY_CSV, html=out / HTML_NAME, latex=out / results.SECTION.latex.file,
                        effects_latex=out / effects.SECTION.latex.file, comparisons_csv=out / COMPARISONS_CSV,
                        effects_csv=out / EFFECTS_CSV,
                        figures=tuple(path for figure in figures for path in figure.files), notes=tuple(notes))
    for section, content in contents.items():
        for data in content.data_files:
            data.frame.to_csv(out / data.name, index=False, lineterminator="\n")
        if section.latex is not None:
            _text(out / section.latex.file,
                  to_latex(content.tables[0], label=f"tab:{runs.study}-{section.latex.label}") + "\n")
    _text(paths.markdown, render_markdown(runs, analysis.summary, contents, figures=figures, notes=notes))
    _text(paths.html, render_html(runs, analysis.summary, contents, figures=figures, notes=notes,
                                  ui_base=ui_base or default_ui_base(tracking_uri)))
    logger.info("report of study %r written to %s", study, out)
    return paths


def _relabelled(content: SectionContent, runs: StudyRuns) -> SectionContent:
    """The section with the study's display names in every table (the Markdown version's too)."""
    return replace(content, tables=tuple(relabel(table, runs.display, runs.factors) for table in content.tables),
                   markdown=None if content.markdown is None else _relabelled(content.markdown, runs))


def _text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")
