"""Results per cell: mean ± sd over seeds of every metric (summary.csv); the paper's table on the HTML page and in
LaTeX, a compact one with the trial counts on the Markdown page."""
from __future__ import annotations

from reports.sections.section import DataFile, LatexTable, ReportInputs, Section, SectionContent
from reports.stats.model_roles import reported_model_sentence
from reports.tables.compact_results import compact_results_table
from reports.tables.study import paper_table

SUMMARY_CSV = "summary.csv"
MARKDOWN_TEXT = ("Mean ± sd over seeds (sd with ddof=1) of the finished trials; n = finished trials. "
                 "The first row is the baseline cell. The paper's version (best in bold, † = differs from the "
                 "baseline) is in `paper_table.tex` and the HTML page.")


def build(inputs: ReportInputs) -> SectionContent:
    runs, analysis = inputs.runs, inputs.analysis
    sentence = reported_model_sentence(runs)
    paper = paper_table(analysis.summary, analysis.comparisons, runs.metrics, factors=runs.factors,
                        objective=runs.objective, objective_mode=runs.objective_mode,
                        correction=analysis.correction, alpha=analysis.alpha, link=inputs.link)
    compact = compact_results_table(analysis.summary, runs.metrics, factors=runs.factors)
    return SectionContent(tables=(paper,), texts=(sentence,), data_files=(DataFile(SUMMARY_CSV, analysis.summary),),
                          markdown=SectionContent(tables=(compact,), texts=(sentence, MARKDOWN_TEXT)))


SECTION = Section("results", "Results per cell", build, latex=LatexTable("paper_table.tex", "results"))
