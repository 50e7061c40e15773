"""One self-contained HTML page: tables, figures as base64 PNG, every number linked to its MLflow runs.

No scripts and no external resources, so the page opens anywhere (and as an MLflow artifact). Numbers in the
tables link to the cell's row group in the "Runs" section, where each run links to its page in the MLflow UI.
"""
from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from reports.fetch.load import StudyRuns
from reports.fetch.uri import redact_uri, run_url
from reports.figures.figure_set import FigureResult
from reports.tables.model import Table
from reports.tables.trial_lists import failed_trials, missing_trials

SECTIONS = (("overview", "Overview"), ("recipe", "Shared training recipe"), ("results", "Results per cell"),
            ("roles", "Student and teacher"), ("intervals", "Confidence intervals"),
            ("comparisons", "Differences to the baseline"), ("effects", "Effects of the factors"),
            ("clip-bootstrap", "Bootstrap over clips"), ("figures", "Figures"), ("trials", "Failed and missing trials"),
            ("runs", "Runs"), ("cost", "Time and energy"), ("provenance", "Provenance"), ("notes", "Notes"))
TUNING_SECTION = ("tuning", "Tuning inside cells")  # only for studies that tuned, after "clip-bootstrap"
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


@dataclass(frozen=True)
class HtmlContent:
    """What the page shows besides the study: the tables by section id, the figures and the notes."""

    tables: dict[str, Sequence[Table]]
    figures: Sequence[FigureResult]
    notes: Sequence[str]
    ui_base: str
    facts: Sequence[tuple[str, str]]
    section_notes: dict[str, str] = field(default_factory=dict)  # shown in a section that has no table
    section_lists: dict[str, Sequence[str]] = field(default_factory=dict)  # bullet lists above a section's tables
    section_texts: dict[str, Sequence[str]] = field(default_factory=dict)  # paragraphs above a section's tables


def cell_anchor(runs: StudyRuns, cell: str) -> str:
    """The in-page anchor of a cell's runs (`#runs-<position in design order>`)."""
    return f"#runs-{runs.cells.index(cell)}"


def render_html(runs: StudyRuns, content: HtmlContent) -> str:
    """The whole page as text (ends with a newline); same inputs, same text."""
    tuned = bool(content.tables.get("tuning"))  # the section exists only for studies that tuned
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>Study report: {escape(runs.study)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             f"<h1>Study report: {escape(runs.study)}</h1>", _nav(tuned)]
    parts.append(_section("overview", [_facts(content.facts, runs)]))
    sections = (["recipe", "results", "roles", "intervals", "comparisons", "effects", "clip-bootstrap"]
                + (["tuning"] if tuned else []))
    for section in sections:
        tables = content.tables.get(section, ())
        texts = [f"<p>{escape(text)}</p>" for text in content.section_texts.get(section, ())]
        empty = escape(content.section_notes.get(section, "Nothing to show."))
        body = [_table(table) for table in tables] or ([] if texts else [f'<p class="note">{empty}</p>'])
        parts.append(_section(section, texts + body))
    parts.append(_section("figures", [_figure(figure) for figure in content.figures]))
    parts.append(_section("trials", _trial_lists(runs)))
    parts.append(_section("runs", [_runs_table(runs, content.ui_base)]))
    for section in ("cost", "provenance"):
        items = [f"<li>{escape(item)}</li>" for item in content.section_lists.get(section, ())]
        body = (["<ul>", *items, "</ul>"] if items else []) + [_table(t) for t in content.tables.get(section, ())
                                                               if t.rows]
        empty = escape(content.section_notes.get(section, "Nothing to show."))
        parts.append(_section(section, body or [f'<p class="note">{empty}</p>']))
    notes = [f"<li>{escape(note)}</li>" for note in content.notes] or ["<li>None.</li>"]
    parts.append(_section("notes", ["<ul>", *notes, "</ul>"]))
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _nav(tuned: bool) -> str:
    sections = [s for section in SECTIONS for s in
                ([section, TUNING_SECTION] if tuned and section[0] == "clip-bootstrap" else [section])]
    items = "".join(f'<li><a href="#{key}">{escape(title)}</a></li>' for key, title in sections)
    return f"<nav><ul>{items}</ul></nav>"


def _section(key: str, body: Sequence[str]) -> str:
    title = dict([*SECTIONS, TUNING_SECTION])[key]
    return "\n".join([f'<section id="{key}">', f"<h2>{escape(title)}</h2>", *body, "</section>"])


def _facts(facts: Sequence[tuple[str, str]], runs: StudyRuns) -> str:
    rows = [("Study", runs.study), ("Tracking URI", redact_uri(runs.tracking_uri)), *facts]
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>"


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
