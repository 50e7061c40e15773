"""Build a study's report (Markdown, HTML, LaTeX, CSV, PNG/PDF figures) from the tracking store alone."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from reports.fetch.load import StudyRuns, load_study
from reports.fetch.provenance import ATTRIBUTES as PROVENANCE_ATTRIBUTES
from reports.fetch.provenance import cost_table, provenance_table
from reports.fetch.uri import default_ui_base, redact_uri
from reports.figures.figure_set import METRICS_BY_FACTOR, FigureResult, write_figures
from reports.figures.per_class import MAX_ROWS
from reports.figures.style import FORMATS
from reports.pages.html import HtmlContent, cell_anchor, render_html
from reports.pages.markdown import render_markdown
from reports.stats.analysis import StudyAnalysis, analyze, ranked_cells
from reports.stats.clip_section import (
    PSDS_STATISTICS,
    ClipBootstrap,
    ClipStatistic,
    clip_bootstrap,
    compared_cells_note,
)
from reports.stats.model_roles import (
    reported_model,
    reported_model_sentence,
    teacher_statement,
)
from reports.tables.model import Table, TableCell
from reports.tables.recipe import recipe_table
from reports.tables.relabel import relabel
from reports.tables.render import to_latex
from reports.tables.roles import roles_table
from reports.tables.study import comparison_table, effects_table, format_p, interval_table, paper_table
from reports.tables.tuning import tuning_table

__all__ = ["ReportPaths", "build_report", "redact_uri"]

logger = logging.getLogger(__name__)

MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"
FIGURE_NAME = f"{METRICS_BY_FACTOR}.png"
SUMMARY_NAME = "summary.csv"
COMPARISONS_NAME = "comparisons.csv"
EFFECTS_NAME = "effects.csv"
CLIP_NAME = "clip_bootstrap.csv"
PAPER_LATEX_NAME = "paper_table.tex"
EFFECTS_LATEX_NAME = "effects.tex"
CACHE_DIR_NAME = ".cache"
SHOWN_CELLS = 6
CLIP_RESAMPLES = 1000
NO_COST_NOTE = "The runs record no time or energy (trials of sedstudy before cost/* metrics)."
NO_PROVENANCE_NOTE = "The runs record no provenance tags (trials of sedstudy before sedstudy.data.* and sedstudy.metric)."
NO_FACTORS_NOTE = "Effects of the factors: skipped, the study has no factors (seeds only)."
CLIP_NOTE = ("Paired bootstrap over evaluation clips (same resample for both cells and every seed pair); percentile "
             "interval, two-sided bootstrap p.")


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
                 cache_dir: str | Path | None = None, correction: str = "holm", alpha: float = 0.05,
                 learning_curves: bool = True, shown_cells: int = SHOWN_CELLS,
                 clip_statistic: ClipStatistic | str | None = "auto", clip_split: str | None = None,
                 clip_resamples: int = CLIP_RESAMPLES, method: str = "auto", formats: tuple[str, ...] = FORMATS) -> ReportPaths:
    """Write every table, figure and the HTML page of `study` into `out_dir`; same store, same bytes.

    `ui_base`: the MLflow UI the HTML links runs to (default: the tracking server itself, else
    http://127.0.0.1:5000, where `sedstudy ui` serves). `cache_dir`: where the fetched trials are cached
    (default `<out_dir>/.cache`). `correction`: "holm" or "bh" across the comparison table. `shown_cells`: how
    many cells (the baseline and the best by the objective) get PSD-ROC curves and learning curves, which read
    per-run data. `clip_statistic`: the statistic of the bootstrap over clips, used when the trials store
    frame scores (`clip_resamples` resamples, on `clip_split`): "auto" (the objective when it is a PSDS, else
    psds1), "psds1", "psds2", a `bootstrap.ClipStatistic`, or None to skip it. `method`: how trials are read (`load_study`).
    `formats`: the figure files written (PNG is always needed: the pages embed it).
    """
    if "png" not in formats:
        raise ValueError(f"formats must include 'png' (the Markdown and HTML pages show it), but got {formats}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = load_study(tracking_uri, study, cache_dir=out / CACHE_DIR_NAME if cache_dir is None else cache_dir,
                      method=method)
    analysis = analyze(runs, correction=correction, alpha=alpha)
    shown = ranked_cells(runs, analysis.summary, shown_cells)
    heat_cells = [cell for cell in runs.cells if cell in set(ranked_cells(runs, analysis.summary, MAX_ROWS))]
    figures = write_figures(runs, out, shown=shown, heat_cells=heat_cells, learning_curves=learning_curves,
                            formats=formats)
    if clip_statistic == "auto":
        clip_statistic = runs.objective if runs.objective in PSDS_STATISTICS else PSDS_STATISTICS[0]
    clips = clip_bootstrap(MlflowClient(tracking_uri=tracking_uri), runs, shown, statistic=clip_statistic,
                           split=clip_split, n_resamples=clip_resamples)
    tables = _tables(runs, analysis, clips, compared_cells_note(runs, shown))
    shared_provenance: list[str] = []
    prov = runs.provenance
    link = lambda cell: cell_anchor(runs, cell)  # noqa: E731
    if prov is not None and prov["cost/wall_s"].notna().any():
        tables["cost"] = cost_table(prov, runs.cells, link=link)
    if prov is not None and prov[[key for key, _ in PROVENANCE_ATTRIBUTES]].notna().any().any():
        tables["provenance"], shared_provenance = provenance_table(prov, runs.cells, link=link)
    roles = roles_table(runs, link=link)
    if roles is not None:
        tables["roles"] = roles
    texts = {"results": [reported_model_sentence(runs)], "roles": [teacher_statement(runs)]}
    tuning = tuning_table(MlflowClient(tracking_uri=tracking_uri), runs)
    if tuning is not None:
        tables["tuning"] = tuning
    tables = {name: relabel(table, runs.display, runs.factors) for name, table in tables.items()}
    notes = _notes(runs, figures, clips)

    paths = ReportPaths(out_dir=out, markdown=out / MARKDOWN_NAME, figure=out / FIGURE_NAME,
                        summary_csv=out / SUMMARY_NAME, html=out / HTML_NAME, latex=out / PAPER_LATEX_NAME,
                        effects_latex=out / EFFECTS_LATEX_NAME, comparisons_csv=out / COMPARISONS_NAME,
                        effects_csv=out / EFFECTS_NAME,
                        figures=tuple(path for figure in figures for path in figure.files), notes=tuple(notes))
    _csv(analysis.summary, paths.summary_csv)
    _csv(analysis.comparisons, paths.comparisons_csv)
    _csv(analysis.effects, paths.effects_csv)
    if not clips.table.empty:
        _csv(clips.table, out / CLIP_NAME)
    _text(paths.latex, to_latex(tables["paper"], label=f"tab:{runs.study}-results") + "\n")
    _text(paths.effects_latex, to_latex(tables["effects"], label=f"tab:{runs.study}-effects") + "\n")
    _text(paths.markdown, render_markdown(runs, analysis, tables=tables, figures=figures, notes=notes,
                                          provenance=shared_provenance, texts=texts))
    facts = [("Parent run", runs.parent_run_id), ("Baseline cell", runs.baseline_cell),
             ("Factors", ", ".join(_factor_text(runs, factor) for factor in runs.factors) or "none"), ("Metrics", ", ".join(runs.metrics)),
             ("Objective", f"{runs.objective} ({runs.objective_mode})"), ("Reported model", reported_model(runs)),
             ("Trials", _counts(analysis.summary))]
    html_tables = {"recipe": [tables["recipe"]], "results": [tables["paper"]],
                   "roles": [tables["roles"]] if "roles" in tables else [], "intervals": [tables["intervals"]],
                   "comparisons": [tables["comparisons"]], "effects": [tables["effects"]] if runs.factors else [],
                   "clip-bootstrap": [tables["clip_bootstrap"]] if "clip_bootstrap" in tables else [],
                   "tuning": [tables["tuning"]] if "tuning" in tables else [],
                   "cost": [tables["cost"]] if "cost" in tables else [],
                   "provenance": [tables["provenance"]] if "provenance" in tables else []}
    section_notes = {"clip-bootstrap": clips.note, "cost": NO_COST_NOTE, "provenance": NO_PROVENANCE_NOTE}
    if not runs.factors:
        section_notes["effects"] = NO_FACTORS_NOTE
    _text(paths.html, render_html(runs, HtmlContent(tables=html_tables, figures=figures, notes=notes,
                                                    ui_base=ui_base or default_ui_base(tracking_uri), facts=facts,
                                                    section_notes=section_notes, section_texts=texts,
                                                    section_lists={"provenance": shared_provenance})))
    logger.info("report of study %r written to %s", study, out)
    return paths


def _tables(runs: StudyRuns, analysis: StudyAnalysis, clips: ClipBootstrap, compared: str) -> dict[str, Table]:
    def link(cell: str) -> str:
        return cell_anchor(runs, cell)

    tables = {
        "paper": paper_table(analysis.summary, analysis.comparisons, runs.metrics, factors=runs.factors,
                             objective=runs.objective,
                             objective_mode=runs.objective_mode, correction=analysis.correction,
                             alpha=analysis.alpha, link=link),
        "intervals": interval_table(analysis.summary, runs.metrics, factors=runs.factors, link=link),
        "comparisons": comparison_table(analysis.comparisons, runs.cell_levels, runs.factors,
                                        correction=analysis.correction, alpha=analysis.alpha, link=link),
        "effects": effects_table(analysis.effects, alpha=analysis.alpha),
        "recipe": recipe_table(runs.recipe, runs.factors, _seeds(runs), _data_kinds(runs)),
    }
    if not clips.table.empty:
        tables["clip_bootstrap"] = _clip_table(clips.table, link, compared)
    return tables


def _clip_table(table: pd.DataFrame, link: Callable[[str], str], compared: str) -> Table:
    rows = []
    for _, row in table.iterrows():
        diff = "–" if pd.isna(row["diff"]) else f"{row['diff']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
        rows.append((TableCell(str(row["cell"])), TableCell(f"{row['statistic']} on {row['split']}"),
                     TableCell(str(row["n_pairs"])),
                     TableCell("–" if pd.isna(row["n_clips"]) else str(int(row["n_clips"]))),
                     TableCell(diff, link=link(row["cell"])), TableCell(format_p(float(row["p"]))),
                     TableCell(str(row["note"]))))
    return Table(name="clip_bootstrap", caption="Bootstrap over clips", header=(
        "cell", "statistic", "pairs", "clips", "Δ vs baseline [95 % CI]", "p", "note"),
        align=("l", "l", "r", "r", "c", "r", "l"),
        rows=tuple(rows), notes=(compared, CLIP_NOTE))


def _factor_text(runs: StudyRuns, factor: str) -> str:
    """`pooling (model.pooling)`: the display name with the recorded field, or the field alone."""
    shown = runs.display.factor(factor)
    return factor if shown == factor else f"{shown} ({factor})"


def _seeds(runs: StudyRuns) -> list[int]:
    """The planned seeds, else those of the recorded runs."""
    return [trial.seed for trial in runs.planned] or [int(seed) for seed in runs.runs["seed"]]


def _data_kinds(runs: StudyRuns) -> list[str]:
    """`sedstudy.data.kind` of every run that records its data ("synthetic <sha>" -> "synthetic")."""
    if runs.provenance is None:
        return []
    return [text.split(" ", 1)[0] for text in runs.provenance["data"] if isinstance(text, str)]


def _notes(runs: StudyRuns, figures: list[FigureResult], clips: ClipBootstrap) -> list[str]:
    notes = [figure.note for figure in figures if figure.note]
    if clips.note:
        notes.append(clips.note)
    if not runs.factors:
        notes.append(NO_FACTORS_NOTE)
    return notes


def _counts(summary: pd.DataFrame) -> str:
    totals = {column: int(summary[column].sum()) for column in
              ("n_planned", "n_finished", "n_failed", "n_running", "n_missing")}
    text = (f"{totals['n_planned']} planned, {totals['n_finished']} finished, {totals['n_failed']} failed, "
            f"{totals['n_missing']} missing")
    return text + (f", {totals['n_running']} running" if totals["n_running"] else "")


def _csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def _text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")
