"""One self-contained HTML page: tables, figures as base64 PNG, every number linked to its MLflow runs.

No scripts and no external resources, so the page opens anywhere (and as an MLflow artifact). Numbers in the
tables link to the cell's row group in the "Runs" section, where each run links to its page in the MLflow UI.
"""
from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from html import escape

import pandas as pd

from reports.fetch.load import StudyRuns
from reports.fetch.uri import redact_uri, run_url
from reports.figures.figure_set import FigureResult
from reports.sections.registry import FIGURES, NOTES, OVERVIEW, RUNS, TRIALS, report_layout
from reports.sections.section import NOTHING_TO_SHOW, PageBlock, Section, SectionContent
from reports.stats.model_roles import reported_model
from reports.stats.summary import trial_counts
from reports.tables.model import Table
from reports.tables.trial_lists import failed_trials, missing_trials

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:14px;margin:0 auto;max-width:1200px;padding:0 1em 3em;
color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4em 1.2em}
table{border-collapse:collapse;margin:.6em 0;font-variant-numeric:tabular-nums}
th,td{padding:.25em .6em;border-bottom:1px solid #e3e3e3;vertical-align:top}
thead th{border-bottom:2px solid #555;text-align:left}
td.l{text-align:left}td.c{text-align:center}td.r{text-align:right}
a{color:#1f5fa8;text-decoration:none}a:hover{text-decoration:underline}
tr.cell-row th{background:#f2f5f9;text-align:left}
.note{color:#555;font-size:.92em}.status-FAILED,.status-KILLED,.status-missing{color:#a61b1b}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;font-size:.92em;margin-top:.3em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}
""".strip()


def render_html(runs: StudyRuns, summary: pd.DataFrame, contents: Mapping[Section, SectionContent], *,
                figures: Sequence[FigureResult], notes: Sequence[str], ui_base: str) -> str:
    """The whole page as text (ends with a newline); same inputs, same text. Sections in `REPORT_LAYOUT` order,
    each in the contents at the top; `ui_base`: the MLflow UI the runs link to."""
    layout = [entry for entry in report_layout()
              if not (isinstance(entry, Section) and entry.optional and not contents[entry].tables)]
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>Study report: {escape(runs.study)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             f"<h1>Study report: {escape(runs.study)}</h1>", _nav(layout)]
    for entry in layout:
        if entry == OVERVIEW:
            body = [_facts(runs, summary)]
        elif entry == FIGURES:
            body = [_figure(figure) for figure in figures]
        elif entry == TRIALS:
            body = _trial_lists(runs)
        elif entry == RUNS:
            body = [_runs_table(runs, ui_base)]
        elif entry == NOTES:
            body = ["<ul>", *([f"<li>{escape(note)}</li>" for note in notes] or ["<li>None.</li>"]), "</ul>"]
        else:
            body = _section_body(contents[entry])
        parts.append(_section(entry.key, entry.title, body))
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _nav(layout: Sequence[Section | PageBlock]) -> str:
    items = "".join(f'<li><a href="#{entry.key}">{escape(entry.title)}</a></li>' for entry in layout)
    return f"<nav><ul>{items}</ul></nav>"


def _section(key: str, title: str, body: Sequence[str]) -> str:
    return "\n".join([f'<section id="{key}">', f"<h2>{escape(title)}</h2>", *body, "</section>"])


def _section_body(content: SectionContent) -> list[str]:
    items = [f"<li>{escape(item)}</li>" for item in content.bullets or ()]
    body = (["<ul>", *items, "</ul>"] if items else []) + [f"<p>{escape(text)}</p>" for text in content.texts]
    body += [_table(table) for table in content.tables if table.rows or content.empty_note is None]
    note = NOTHING_TO_SHOW if content.empty_note is None else content.empty_note
    return body or [f'<p class="note">{escape(note)}</p>']


def _facts(runs: StudyRuns, summary: pd.DataFrame) -> str:
    rows = [("Study", runs.study), ("Tracking URI", redact_uri(runs.tracking_uri)),
            ("Parent run", runs.parent_run_id), ("Baseline cell", runs.baseline_cell),
            ("Factors", ", ".join(_factor_text(runs, factor) for factor in runs.factors) or "none"),
            ("Metrics", ", ".join(runs.metrics)), ("Objective", f"{runs.objective} ({runs.objective_mode})"),
            ("Reported model", reported_model(runs)), ("Trials", trial_counts(summary))]
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>"


def _factor_text(runs: StudyRuns, factor: str) -> str:
    """`pooling (model.pooling)`: the display name with the recorded field, or the field alone."""
    shown = runs.display.factor(factor)
    return factor if shown == factor else f"{shown} ({factor})"


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(text)}</th>" for text in table.header)
    body = []
    for row in table.rows:
        cells = []
        for align, cell in zip(table.align, row):
            text = escape(cell.text)
            if cell.bold and text:
                text = f"<strong>{text}</strong>"
            if cell.link and cell.text:
                title = f' title="{escape(cell.title)}"' if cell.title else ""
                text = f'<a href="{escape(cell.link)}"{title}>{text}</a>'
            cells.append(f'<td class="{align}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in table.notes)
    return (f'<table data-table="{escape(table.name)}"><caption>{escape(table.caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + f"\n</tbody></table>{notes}")


def _figure(figure: FigureResult) -> str:
    if figure.png is None:
        return f'<figure id="fig-{figure.key}"><p class="note">{escape(figure.note)}</p></figure>'
    data = base64.b64encode(figure.png.read_bytes()).decode("ascii")
    return (f'<figure id="fig-{figure.key}"><h3>{escape(figure.title)}</h3>'
            f'<img src="data:image/png;base64,{data}" alt="{escape(figure.title)}">'
            f"<figcaption>{escape(figure.caption)}</figcaption></figure>")


def _trial_lists(runs: StudyRuns) -> list[str]:
    failed, missing = failed_trials(runs), missing_trials(runs)
    out = []
    if failed:
        rows = "".join(f'<tr><td>{escape(cell)}</td><td class="r">{seed}</td>'
                       f'<td class="status-{escape(status)}">{escape(status)}</td><td>{escape(reason)}</td></tr>'
                       for cell, seed, status, reason in failed)
        out.append(f'<table data-table="failed"><caption>Failed trials ({len(failed)})</caption><thead><tr><th>cell'
                   f"</th><th>seed</th><th>status</th><th>reason</th></tr></thead><tbody>{rows}</tbody></table>")
    if missing:
        rows = "".join(f'<tr><td>{escape(cell)}</td><td class="r">{seed}</td></tr>' for cell, seed in missing)
        out.append(f'<table data-table="missing"><caption>Missing trials ({len(missing)}): planned, never run'
                   f"</caption><thead><tr><th>cell</th><th>seed</th></tr></thead><tbody>{rows}</tbody></table>")
    return out or ['<p class="note">Every planned trial has a run and none failed.</p>']


def _runs_table(runs: StudyRuns, ui_base: str) -> str:
    """Every trial by cell: a header row per cell (the anchor numbers link to), then one row per seed."""
    head = "".join(f"<th>{escape(text)}</th>" for text in ("seed", "status", *runs.metrics, "MLflow run"))
    width = 3 + len(runs.metrics)
    by_cell = dict(iter(runs.runs.groupby("cell", sort=False)))
    rows = []
    for i, cell in enumerate(runs.cells):
        trials = by_cell.get(cell)
        recorded = set() if trials is None else set(trials["seed"])
        missing = sorted(runs.planned_seeds(cell) - recorded)
        count = 0 if trials is None else len(trials)
        rows.append(f'<tr class="cell-row" id="runs-{i}"><th colspan="{width}">{escape(cell)} '
                    f'<span class="note">({count} runs, {len(missing)} missing)</span></th></tr>')
        records = [] if trials is None else trials[["seed", "status", "run_id", *runs.metrics]].itertuples(
            index=False, name=None)
        for seed, status, run_id, *metric_values in records:
            values = "".join(f'<td class="r">{_value(value)}</td>' for value in metric_values)
            link = run_url(ui_base, runs.experiment_id, run_id)
            rows.append(f'<tr><td class="r">{seed}</td><td class="status-{escape(status)}">{escape(status)}</td>'
                        f'{values}<td><a href="{escape(link)}" target="_blank" rel="noopener">{escape(run_id)}</a>'
                        "</td></tr>")
        for seed in missing:
            rows.append(f'<tr><td class="r">{seed}</td><td class="status-missing">missing</td>'
                        f'<td colspan="{width - 2}" class="note">planned, never run</td></tr>')
    return (f'<table data-table="runs"><thead><tr>{head}</tr></thead><tbody>\n' + "\n".join(rows)
            + "\n</tbody></table>")


def _value(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.4f}"
