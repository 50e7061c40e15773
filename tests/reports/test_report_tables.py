from __future__ import annotations

import pytest

from reports.fetch.load import StudyRuns, load_study
from reports.stats.analysis import StudyAnalysis, analyze
from reports.tables.model import Table, TableCell
from reports.tables.render import latex_escape, to_latex, to_markdown
from reports.tables.study import comparison_table, effects_table, format_p, interval_table, paper_table


@pytest.fixture(scope="module")
def ragged(store) -> tuple[StudyRuns, StudyAnalysis]:
    runs = load_study(store.uri, "ragged")
    return runs, analyze(runs)


def _paper(ragged: tuple[StudyRuns, StudyAnalysis]) -> Table:
    runs, analysis = ragged
    return paper_table(analysis.summary, analysis.comparisons, runs.metrics, factors=runs.factors, objective="psds1",
                       objective_mode="max", correction="holm", alpha=0.05,
                       link=lambda cell: f"#runs-{runs.cells.index(cell)}")


def test_paper_table_layout_and_bold(ragged) -> None:
    table = _paper(ragged)
    assert table.header == ("model.pooling", "training.mixup.probability", "n", "PSDS1", "PSDS2", "collar F1", "note")
    texts = [[cell.text for cell in row] for row in table.rows]
    # baseline attention/0.5: psds1 = 0.46 + 0.01 * seed over seeds 0..3 -> 0.475 ± 0.013, the best of every column
    assert texts[0] == ["attention", "0.5", "4/4", "0.475 ± 0.013", "0.675 ± 0.013", "0.575 ± 0.013", "baseline"]
    assert [cell.bold for cell in table.rows[0][3:6]] == [True, True, True]
    assert not any(cell.bold for row in table.rows[1:] for cell in row)
    assert texts[2] == ["max", "0.5", "0/4", "–", "–", "–", "4 failed, no finished runs"]  # never dropped
    assert texts[3][2] == "2/4" and texts[3][-1] == "1 missing, 1 running"
    assert texts[4][3] == "0.360 ± n/a" and texts[4][-1] == "3 missing"
    assert table.rows[0][3].link == "#runs-0" and table.rows[3][3].link == "#runs-3"


def test_paper_table_marks_significant_differences(store) -> None:
    runs = load_study(store.uri, "planted")
    analysis = analyze(runs)
    table = paper_table(analysis.summary, analysis.comparisons, runs.metrics, factors=runs.factors,
                        objective="psds1", objective_mode="max", correction="holm", alpha=0.05)
    daggers = [row[2 + 1].text.endswith(" †") for row in table.rows]  # PSDS1 column of each cell
    assert daggers == [False, False, True, True]  # the pooling=mean cells


def test_minimised_objective_bolds_the_smallest(ragged) -> None:
    runs, analysis = ragged
    table = paper_table(analysis.summary, analysis.comparisons, runs.metrics, factors=runs.factors,
                        objective="psds1", objective_mode="min", correction="holm", alpha=0.05)
    bold_rows = [i for i, row in enumerate(table.rows) if row[3].bold]
    assert bold_rows == [4]  # mean/0.5: 0.360, the smallest psds1 mean


def test_latex_is_booktabs_with_escapes(ragged) -> None:
    latex = to_latex(_paper(ragged), label="tab:ragged").splitlines()
    assert latex[:4] == [r"\begin{table}[t]", r"\centering", r"\caption{Results per cell}", r"\label{tab:ragged}"]
    assert r"\begin{tabular}{llrcccl}" in latex and r"\toprule" in latex and r"\bottomrule" in latex
    assert (r"attention & 0.5 & 4/4 & \textbf{0.475 $\pm$ 0.013} & \textbf{0.675 $\pm$ 0.013} & "
            r"\textbf{0.575 $\pm$ 0.013} & baseline \\") in latex
    assert r"max & 0.5 & 0/4 & -- & -- & -- & 4 failed, no finished runs \\" in latex
    assert latex_escape("a_b & 50% #1 {x} ~ ^ \\ $ ± † < 2") == (
        r"a\_b \& 50\% \#1 \{x\} \textasciitilde{} \textasciicircum{} \textbackslash{} \$ $\pm$ $^\dagger$ $<$ 2")


def test_other_tables(ragged) -> None:
    runs, analysis = ragged
    intervals = to_markdown(interval_table(analysis.summary, runs.metrics, factors=runs.factors)).splitlines()
    assert intervals[2].startswith("| attention | 0.5 | 4 | 0.475 [0.454, 0.496] |")
    comparisons = comparison_table(analysis.comparisons, runs.cell_levels, runs.factors, correction="bh",
                                   alpha=0.05)
    assert len(comparisons.rows) == 15
    assert "Benjamini-Hochberg" in comparisons.notes[0]
    first = [cell.text for cell in comparisons.rows[0]]
    assert first[:5] == ["attention", "0.0", "PSDS1", "3", "-0.010 [-0.010, -0.010]"]
    effects = effects_table(analysis.effects, alpha=0.05)
    assert effects.header[5] == "partial η²" and r"$\eta^2_p$" in to_latex(effects)
    md = to_markdown(effects).splitlines()
    assert md[0] == "| metric | term | df | F | p | partial η² | significant (primary) | note |"


def test_markdown_escapes_pipes_and_bolds() -> None:
    table = Table(name="t", caption="c", header=("a|b", "v"), align=("l", "r"),
                  rows=((TableCell("x|y"), TableCell("1.0", bold=True)),), notes=("note",))
    assert to_markdown(table).splitlines() == ["| a\\|b | v |", "| :-- | --: |", "| x\\|y | **1.0** |", "", "note"]


def test_table_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="row 0 has 1 cells, expected 2"):
        Table(name="t", caption="c", header=("a", "b"), align=("l", "r"), rows=((TableCell("x"),),))
    with pytest.raises(ValueError, match=r"alignments must be among \('l', 'c', 'r'\), but got \['x'\]"):
        Table(name="t", caption="c", header=("a",), align=("x",), rows=())


def test_format_p() -> None:
    assert [format_p(p) for p in (0.0004, 0.0123, 1.0, float("nan"))] == ["< 0.001", "0.012", "1.000", "–"]

